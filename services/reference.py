"""The production reference set: identifiers of production patients, to recognise them in
staging however they are formatted.

Exact identifiers (SSN, MRN, phone, e-mail, DOB+surname) are kept only as HMAC-SHA256
digests under the workspace's secret key; `sheetstage reference refresh` caches those
digests in .sheetstage/ for offline scans. Names exist only in memory, during a live
`validate --sheet N`, for rapidfuzz matching. Raw values are never written anywhere.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from rapidfuzz import fuzz, process, utils

from services.config import PhiConfig
from services.phi_words import (
    DOB_WORDS,
    MEMBER_WORDS,
    MRN_WORDS,
    PHONE_WORDS,
    SSN_WORDS,
    context_regex,
    iso_dates,
)
from services.workspace import atomic_write

DEFAULT_PHI = PhiConfig()

_SSN_HEADER = context_regex(SSN_WORDS)
_EMAIL_HEADER = context_regex(["email", "e-mail", "mail"])
_NAME_HEADER = context_regex(["name", "patient", "patient name", "full name"])
# `First` and `Last` alone name a column only as the whole header (`Last Visit` is a date)
_FIRST_HEADER = re.compile(
    r"^\s*(?i:first)\s*$|" + context_regex(["first name", "given name"]).pattern
)
_LAST_HEADER = re.compile(
    r"^\s*(?i:last)\s*$|" + context_regex(["last name", "surname", "family name"]).pattern
)


def normalize(kind: str, value: str) -> str:
    if kind == "ssn":
        return re.sub(r"\D", "", value)
    if kind == "phone":
        return re.sub(r"\D", "", value)[-10:]
    if kind == "email":
        return value.strip().lower()
    if kind in ("mrn", "member"):
        return re.sub(r"[^A-Za-z0-9]", "", value).upper()
    return value.strip().lower()


def identifier_like(kind: str, normalized: str) -> bool:
    """A production cell worth keeping as an identifier of its column's kind: a name under a
    `Contact` header has no phone digits, a payer's name under `Insurance` is no member id."""
    if kind == "member":
        return 6 <= len(normalized) <= 15 and sum(c.isdigit() for c in normalized) >= 4
    return bool(normalized)


@cache
def faker_name_words() -> frozenset[str]:
    from faker.providers.person.en_US import Provider

    words = set()
    for table in (Provider.first_names, Provider.last_names):
        words.update(w.lower() for w in table)
    return frozenset(words)


@dataclass
class Patient:
    name: str  # "First Last"
    digests: set[str] = field(default_factory=set)

    @property
    def reversed_name(self) -> str:
        parts = self.name.split()
        return " ".join(parts[-1:] + parts[:-1])

    @property
    def surname(self) -> str:
        return self.name.split()[-1].lower() if self.name.split() else ""

    @property
    def rare(self) -> bool:
        """Its words are not in Faker's en_US lists: no synthetic name can match it by chance."""
        return any(w.lower() not in faker_name_words() for w in re.findall(r"[A-Za-z]+", self.name))


@dataclass
class ReferenceSet:
    key: bytes
    digests: set[str] = field(default_factory=set)
    patients: list[Patient] = field(default_factory=list)  # live only: never stored
    # each production date of birth also has a digest of its own ("dobdate"), so a date no
    # production patient was born on costs one HMAC, not one per word of its record
    dates_indexed: bool = True

    @classmethod
    def starting_from(cls, key: bytes, cached: ReferenceSet | None) -> ReferenceSet:
        """A live set that begins with the cached digests (and whether they index dates)."""
        if cached is None:
            return cls(key)
        return cls(key, set(cached.digests), dates_indexed=cached.dates_indexed)

    def digest(self, kind: str, value: str) -> str:
        message = f"{kind}:{normalize(kind, value)}".encode()
        return hmac.digest(self.key, message, "sha256").hex()  # one-shot: the scanner's hot path

    def has(self, kind: str, value: str) -> bool:
        return bool(self.digests) and self.digest(kind, value) in self.digests

    def birth_digest(self, iso: str, surname: str) -> str:
        """The digest of a production patient's date of birth with their surname; the date
        alone is indexed in the set as it is made (not an identifier by itself)."""
        self.digests.add(self.digest("dobdate", iso))
        return self.digest("dob", f"{iso}|{surname}")

    def dob_digests(self, iso: str, words: Iterable[str]) -> list[str]:
        """The digests of `iso` as the date of birth of a production patient surnamed any of
        `words` (lower case). The HMAC is keyed with the date once and copied for each word:
        a record's words are many, and this is the scanner's hottest loop."""
        if not self.digests:
            return []
        if self.dates_indexed and self.digest("dobdate", iso) not in self.digests:
            return []
        dated = hmac.new(self.key, f"dob:{iso}|".encode(), "sha256")
        found: list[str] = []
        for word in words:
            message = dated.copy()
            message.update(word.encode())
            digest = message.hexdigest()
            if digest in self.digests:
                found.append(digest)
        return found

    def add_table(
        self,
        header: Sequence[str],
        rows: Iterable[Sequence[str]],
        settings: PhiConfig = DEFAULT_PHI,
    ) -> None:
        """Rows of a production range; the header row says which column holds what, read
        with the context words of `settings` (the defaults and what [phi] adds)."""
        kinds = [_column_kind(h, settings) for h in header]
        for row in rows:
            cells = [str(c) for c in row]
            patient = Patient(_row_name(header, cells))
            dates: list[str] = []
            for kind, cell in zip(kinds, cells, strict=False):
                if not cell.strip() or kind is None:
                    continue
                if kind == "dob":
                    dates += iso_dates(cell)  # a dotted 04.05.1978 can be either day
                    continue
                if kind == "name" or not identifier_like(kind, normalize(kind, cell)):
                    continue
                patient.digests.add(self.digest(kind, cell))
            for cell in cells:
                if "@" in cell and " " not in cell.strip():
                    patient.digests.add(self.digest("email", cell))
            for iso in dates:
                if patient.surname:
                    patient.digests.add(self.birth_digest(iso, patient.surname))
            self.digests |= patient.digests
            if patient.name:
                self.patients.append(patient)

    # names -----------------------------------------------------------------------------------

    def match_name(self, candidate: str, ratio: float) -> Patient | None:
        if not self.patients:
            return None
        choices = {i: p.name for i, p in enumerate(self.patients)}
        choices |= {len(self.patients) + i: p.reversed_name for i, p in enumerate(self.patients)}
        best = process.extractOne(
            candidate,
            choices,
            scorer=fuzz.ratio,
            processor=utils.default_process,
            score_cutoff=ratio,
        )
        if best is None:
            return None
        return self.patients[best[2] % len(self.patients)]

    # the offline cache -----------------------------------------------------------------------

    def save(self, path: Path, sheets: int) -> None:
        document = {"version": 2, "sheets": sheets, "digests": sorted(self.digests)}
        atomic_write(path, json.dumps(document).encode(), mode=0o640)

    @classmethod
    def load(cls, path: Path, key: bytes) -> ReferenceSet:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return cls(key)
        # version 1 caches have no "dobdate" digests: every date is checked against each word
        dates_indexed = document.get("version", 1) >= 2
        return cls(key, set(document.get("digests", [])), dates_indexed=dates_indexed)


@cache
def _header_words(settings: PhiConfig) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each identifier kind with its header words, in the order a header is tried."""
    return (
        ("ssn", context_regex(SSN_WORDS + settings.ssn_context)),
        ("mrn", context_regex(MRN_WORDS + settings.mrn_context)),
        ("phone", context_regex(PHONE_WORDS + settings.phone_context)),
        ("email", _EMAIL_HEADER),
        ("dob", context_regex(DOB_WORDS + settings.dob_context)),
        ("member", context_regex(MEMBER_WORDS + settings.member_context)),
    )


def _column_kind(header: str, settings: PhiConfig = DEFAULT_PHI) -> str | None:
    for kind, words in _header_words(settings):
        if words.search(header):
            return kind
    if _NAME_HEADER.search(header) or _FIRST_HEADER.search(header) or _LAST_HEADER.search(header):
        return "name"
    return None


def _row_name(header: Sequence[str], cells: Sequence[str]) -> str:
    first = last = full = ""
    for title, cell in zip(header, cells, strict=False):
        if _FIRST_HEADER.search(title):
            first = cell.strip()
        elif _LAST_HEADER.search(title):
            last = cell.strip()
        elif _NAME_HEADER.search(title) and not full and not _SSN_HEADER.search(title):
            full = cell.strip()
    if first or last:
        return f"{first} {last}".strip()
    if "," in full:  # "Last, First"
        last, _, first = full.partition(",")
        return f"{first.strip()} {last.strip()}".strip()
    return full


def header_ranges(ranges: Sequence[str]) -> list[str]:
    """`Patients!A2:F` -> `Patients!A1:F1`: the header row above a reference range."""
    out = []
    for text in ranges:
        tab, _, cells = text.rpartition("!") if "!" in text else (text, "", "")
        match = re.match(r"([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?$", cells or "")
        first_col = (match.group(1) if match else "") or "A"
        last_col = (match.group(3) if match else "") or ""
        end = f":{last_col}1" if last_col else ""
        out.append(f"{tab}!{first_col}1{end}")
    return out
