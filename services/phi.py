"""The PHI scanner: DESIGN.md "PHI rules" implemented exactly (choices where it is silent are
in docs/phi-rules.md).

A finding carries its type, severity, place and a masked excerpt; never the raw value. Text
is scanned per record (a line of code, HTML or text; a CSV row; the innermost JSON object);
a record holding a synthetic id (`SYN-` by default) is synthetic: its `review` findings are
not reported, its `block` findings are.
"""

from __future__ import annotations

import bisect
import csv
import enum
import hashlib
import hmac
import io
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import phonenumbers

from services.config import PhiConfig
from services.models import PhiStatus
from services.phi_words import (
    DASHES,
    DATE,
    DOB_WORDS,
    MEMBER_WORDS,
    MONTHS,
    MRN_WORDS,
    PHONE_WORDS,
    SEPARATOR_CLASS,
    SPACES,
    SSN_WORDS,
    Context,
    ascii_separators,
    read_date,
)

if TYPE_CHECKING:
    from services.reference import ReferenceSet


class FindingType(enum.StrEnum):
    SSN = "SSN"
    ITIN = "ITIN"
    MRN = "MRN"
    MBI = "MBI"
    CREDIT_CARD = "CREDIT_CARD"
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    ADDRESS = "ADDRESS"
    DOB = "DOB"
    NAME = "NAME"
    MEMBER_ID = "MEMBER_ID"
    PRODUCTION_MATCH = "PRODUCTION_MATCH"
    UNSCANNABLE = "UNSCANNABLE"


class Severity(enum.StrEnum):
    BLOCK = "block"
    REVIEW = "review"


BLOCK_TYPES = {
    FindingType.SSN,
    FindingType.ITIN,
    FindingType.MRN,
    FindingType.MBI,
    FindingType.CREDIT_CARD,
    FindingType.PRODUCTION_MATCH,
}


@dataclass(frozen=True)
class Finding:
    id: str
    path: str
    line: int
    column: int
    type: FindingType
    severity: Severity
    excerpt: str
    acknowledged: bool = False
    reason: str = ""
    allowed_inline: bool = False  # acknowledged by an `allow-phi` on its line, not by a manager

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "type": str(self.type),
            "severity": str(self.severity),
            "excerpt": self.excerpt,
            "acknowledged": self.acknowledged,
            "reason": self.reason,
        }


# value patterns --------------------------------------------------------------------------------

_SEP = SEPARATOR_CLASS  # a separator between digit groups: `-`, `.`, spaces and dashes of all kinds
_GROUP_SEP = f"[{re.escape(DASHES + SPACES)}]"  # a card's groups: spaces or dashes, never dots
# A value does not continue a word or a number, but `_` and a `-` after a letter may glue it to a
# name (`patient_142-17-0749.csv`, `ssn-142170749.txt`, `MR-4471209`).
_BEFORE = r"(?<![A-Za-z0-9])(?<!\d[.\-])"
_AFTER = r"(?![A-Za-z0-9])(?![.\-]\d)"
_SSN = re.compile(rf"{_BEFORE}(\d{{3}})({_SEP})(\d{{2}})({_SEP})(\d{{4}}){_AFTER}")
_NINE = re.compile(rf"{_BEFORE}(\d{{3}})(\d{{2}})(\d{{4}}){_AFTER}")
_MBI_ALPHA = "AC-HJKMNP-RT-Y"
_DASH = f"[{re.escape(DASHES)}]"
_MBI = re.compile(
    rf"{_BEFORE}[1-9][{_MBI_ALPHA}][{_MBI_ALPHA}0-9]\d({_DASH}?)[{_MBI_ALPHA}][{_MBI_ALPHA}0-9]\d"
    rf"({_DASH}?)[{_MBI_ALPHA}]{{2}}\d{{2}}{_AFTER}"
)
_CARD = re.compile(rf"{_BEFORE}\d(?:{_GROUP_SEP}?\d){{12,18}}{_AFTER}")
_PHONE_SEP = rf"[\s.{re.escape(DASHES)}]"
_PHONE_BEFORE = r"(?<![A-Za-z0-9+])(?<!\d[.\-])"
_PHONE_NANP = re.compile(
    rf"{_PHONE_BEFORE}(?:\+?1{_PHONE_SEP}?)?(?:\(\d{{3}}\){_PHONE_SEP}?|\d{{3}}{_PHONE_SEP})\d{{3}}"
    rf"{_PHONE_SEP}\d{{4}}{_AFTER}"
)
_PHONE_BARE = re.compile(rf"{_PHONE_BEFORE}(?:\+?1)?\d{{10}}{_AFTER}")
_PHONE_INTL = re.compile(rf"(?<![A-Za-z0-9+])\+\d[\d\s().{re.escape(DASHES)}]{{6,18}}\d{_AFTER}")
_EMAIL = re.compile(
    r"(?<![\w.%+\-])[A-Za-z0-9._%+\-]+@([A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+)"
)
_SUFFIXES = (
    "St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane|Way|Ct|Court|Pl|Place|Ter|"
    "Terrace|Pkwy|Parkway|Cir|Circle|Hwy|Highway"
)
_ADDRESS = re.compile(
    r"(?<![\w\-.])\d{1,6}[A-Za-z]?\s+(?:[NSEW]\.?\s+|North\s+|South\s+|East\s+|West\s+)?"
    r"(?:(?:[A-Z][A-Za-z'\-]*|\d+(?:st|nd|rd|th))\s+){1,4}"
    rf"(?:{_SUFFIXES}|{_SUFFIXES.upper()})\b\.?"
)
_PO_BOX = re.compile(
    r"(?<!\w)(?:P\.?\s?O\.?|Post\s+Office)\s*Box\s*#?\s*\d{1,6}(?!\d)", re.IGNORECASE
)
# a member id: 6 to 15 letters and digits (a dash may join two parts), at least four digits
_MEMBER_ID = re.compile(
    r"(?<![A-Za-z0-9])(?=(?:[A-Za-z\-]{0,28}\d){4})[A-Za-z0-9](?:-?[A-Za-z0-9]){5,14}"
    r"(?![A-Za-z0-9])(?!-[A-Za-z0-9])"
)
_MRN_LIKE = re.compile(rf"{_BEFORE}([A-Za-z]{{1,3}}{_SEP}?)?(\d(?:{_SEP}?\d){{4,11}}){_AFTER}")
_WORD = re.compile(r"[A-Za-z](?:[A-Za-z'\-]*[A-Za-z])?")
_NAME_WORD = r"[A-Z](?:[a-z'\-]*[a-z])(?:-[A-Z](?:[a-z'\-]*[a-z]))?"  # no closing quote
_NAME_CANDIDATE = re.compile(
    rf"(?<![\w])(?:{_NAME_WORD},\s*{_NAME_WORD}|{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,2}})(?![\w])"
)
_WORTH_SCANNING = re.compile(r"[\d@]")  # every identifier holds a digit or an @
# What every identifier the default patterns know holds at least one of (four digits in a row,
# a grouped number, a short date, an MBI's tail, a house number, a PO Box, `+`, `@`): a line
# without any (`getRange(2, 1, 6)`) is only searched for ids that a context word announces.
_SIGNATURE = re.compile(
    rf"@|\d{{4}}|\d(?:{_SEP}?\d){{4}}|\d[/.\-]\d{{1,2}}[/.\-]\d\d|[A-Z]{{2}}\d\d|"
    rf"\d[A-Za-z]?\s+[A-Z0-9]|\+\d|(?i:box)\W{{0,4}}\d|(?i:{MONTHS})-\d\d"
)
_ALLOW = re.compile(r"sheetstage:\s*allow-phi\b[ \t:]*(.*)", re.IGNORECASE)
_RESERVED_DOMAINS = ("example.com", "example.org", "example.net")
_RESERVED_TLDS = ("test", "example", "invalid")
_TOLL_FREE = {"800", "833", "844", "855", "866", "877", "888"}
# values publicly known never to be a person's (DESIGN.md "PHI rules")
PLACEHOLDER_SSNS = {"123456789", "078051120"}
PLACEHOLDER_MBIS = {"1EG4TE5MK73"}
_ISSUERS = (
    (("4",), (13, 16, 19)),
    (tuple(str(n) for n in range(51, 56)) + tuple(str(n) for n in range(2221, 2721)), (16,)),
    (("34", "37"), (15,)),
    (("6011", "65"), (16, 19)),
    ((*tuple(str(n) for n in range(300, 306)), "36", "38"), (14, 15, 16, 19)),
    (tuple(str(n) for n in range(3528, 3590)), (16, 19)),
)

# adjacent string literals joined by `+`, and template literals without expressions
_LITERAL = r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\$]|\\.|\$(?!\{))*`"""
_LITERAL_CHAIN = re.compile(rf"(?:{_LITERAL})(?:\s*\+\s*(?:{_LITERAL}))*")
_ONE_LITERAL = re.compile(_LITERAL)
_JOINED = re.compile(r"""['"`]\s*\+\s*['"`]""")


_ALLOW_KIND = {FindingType.PHONE: "phone", FindingType.EMAIL: "email"}
_MASKED_AS = {
    "ssn": FindingType.SSN,
    "phone": FindingType.PHONE,
    "email": FindingType.EMAIL,
    "mrn": FindingType.MRN,
    "member": FindingType.MEMBER_ID,
    "dob": FindingType.DOB,
}


def _allow_reason(text: str) -> str:
    """An inline allow's reason, without the comment's closing `-->` or `*/`."""
    reason = text.strip()
    for closing in ("-->", "*/"):
        if reason.endswith(closing):
            reason = reason[: -len(closing)].rstrip()
    return reason


def physical_lines(text: str) -> list[str]:
    """Lines as git and editors number them: broken at `\n` only (a form feed or U+2028 does
    not start a line), each without its `\n` or `\r\n`."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _separator_kind(separator: str) -> str:
    """Groups may be separated by any dash or any space, but not by a dash and a space."""
    return "-" if separator in DASHES else "." if separator == "." else " "


def record_words(text: str) -> set[str]:
    """The words of a record, lower case: each may be the surname beside a date of birth."""
    return {w.lower() for w in _WORD.findall(text)}


def luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_issuer_ok(digits: str) -> bool:
    return any(
        digits.startswith(prefixes) and len(digits) in lengths for prefixes, lengths in _ISSUERS
    )


def never_issued_ssn(area: str, group: str, serial: str) -> bool:
    return area in ("000", "666") or group == "00" or serial == "0000"


def reserved_email_domain(domain: str) -> bool:
    domain = domain.lower().rstrip(".")
    if domain.rsplit(".", 1)[-1] in _RESERVED_TLDS:
        return True
    return any(domain == d or domain.endswith("." + d) for d in _RESERVED_DOMAINS)


def placeholder_phone(digits: str) -> bool:
    """Area code 555 is not an area code: `(555) 555-5555` is everyone's example."""
    national = digits[-10:]
    return len(national) == 10 and national[:3] == "555"


def synthetic_phone(digits: str) -> bool:
    """555-0100..555-0199 in any area code but toll-free ones."""
    national = digits[-10:]
    return (
        len(national) == 10
        and national[3:6] == "555"
        and 100 <= int(national[6:]) <= 199
        and national[:3] not in _TOLL_FREE
    )


# masking ---------------------------------------------------------------------------------------


def mask_digits(value: str, keep: int = 4) -> str:
    """Every letter and digit but the last `keep` becomes `*`; separators stay."""
    total = sum(c.isalnum() for c in value)
    out, seen = [], 0
    for char in value:
        if char.isalnum():
            seen += 1
            out.append(char if seen > total - keep else "*")
        else:
            out.append(char)
    return "".join(out)


def mask_words(value: str) -> str:
    return " ".join(w[:1] + "*" * max(len(w) - 1, 2) for w in value.split())


def mask(kind: FindingType, value: str) -> str:
    """A value as findings show it (a production match is masked as the kind it is: see
    Hit.excerpt)."""
    if kind is FindingType.EMAIL:
        local, _, domain = value.partition("@")
        labels = domain.split(".")
        return f"{local[:1]}***@{labels[0][:1]}***." + ".".join(labels[1:])
    if kind in (FindingType.ADDRESS, FindingType.NAME):
        return mask_words(value)
    if kind is FindingType.DOB:
        return re.sub(r"[A-Za-z0-9]", "*", value)
    if kind in (FindingType.MRN, FindingType.MBI, FindingType.MEMBER_ID):
        return mask_digits(value, keep=3)
    return mask_digits(value, keep=4)


def masked_path(path: str, spans: Sequence[tuple[int, int]]) -> str:
    """A path whose parts at `spans` hold PHI, as messages may show it: each such part
    masked whole (letters and digits become `*`, its extension kept), since a name may hold
    more of a person than the scanner recognised."""
    parts, start = [], 0
    for part in path.split("/"):
        end = start + len(part)
        if any(s < end and e > start for s, e in spans):
            stem, dot, extension = part.rpartition(".")
            body = stem if dot else part
            masked = re.sub(r"[^\W_]", "*", body)
            part = f"{masked}.{extension}" if dot and stem else masked
        parts.append(part)
        start = end + 1
    return "/".join(parts)


# the scanner -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    type: FindingType
    start: int
    end: int
    value: str
    normalized: str
    blocking: bool = False  # a NAME that is as good as an identifier
    masked_as: FindingType | None = None  # a production match is masked as what it is

    @property
    def excerpt(self) -> str:
        return mask(self.masked_as or self.type, self.value)

    @property
    def severity(self) -> Severity:
        return Severity.BLOCK if self.type in BLOCK_TYPES or self.blocking else Severity.REVIEW


@dataclass(slots=True)
class Segment:
    """A piece of text scanned as a unit: a line, or one CSV cell with its column header."""

    text: str
    line: int
    column: int  # 1-based column of text[0] in its line
    header: str | None = None
    record: int = 0  # findings in one record share it
    # the whole line, and where text starts in it (None: the text is its line); two fields,
    # not a tuple: a large JSON file is tens of thousands of segments
    line_text: str | None = None
    line_at: int = 0
    # joined literals: where one literal's text meets the next (a finding must span one), and
    # where each piece of the text came from, (position in text, line, column), in order
    joins: tuple[int, ...] = ()
    origins: tuple[tuple[int, int, int], ...] = ()

    @property
    def context(self) -> tuple[str, int] | None:
        return None if self.line_text is None else (self.line_text, self.line_at)

    def place(self, position: int) -> tuple[int, int]:
        """The line and column of text[position] in the file."""
        if not self.origins:
            return self.line, self.column + position
        index = max(bisect.bisect_right(self.origins, (position, math.inf, 0)) - 1, 0)
        start, line, column = self.origins[index]
        return line, column + position - start


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    bytes: int = 0

    def extend(self, other: ScanResult) -> None:
        self.findings.extend(other.findings)
        self.files += other.files
        self.bytes += other.bytes

    @property
    def open_findings(self) -> list[Finding]:
        return [f for f in self.findings if not f.acknowledged]

    @property
    def exit_code(self) -> int:
        severities = {f.severity for f in self.open_findings}
        if Severity.BLOCK in severities:
            return 4
        return 3 if Severity.REVIEW in severities else 0

    def summary(self) -> dict[str, object]:
        by_type: dict[str, int] = {}
        for f in self.findings:
            by_type[str(f.type)] = by_type.get(str(f.type), 0) + 1
        return {
            "files": self.files,
            "bytes": self.bytes,
            "findings": len(self.findings),
            "block": sum(1 for f in self.open_findings if f.severity is Severity.BLOCK),
            "review": sum(1 for f in self.open_findings if f.severity is Severity.REVIEW),
            "acknowledged": sum(1 for f in self.findings if f.acknowledged),
            "by_type": by_type,
            "exit_code": self.exit_code,
        }

    def as_json(self) -> dict[str, object]:
        return {
            "findings": [f.as_json() for f in self.findings],
            "summary": self.summary(),
        }


def blob_id(data: bytes) -> str:
    """The object id git gives these bytes (`git hash-object`). The commit gate trusts an id
    git computed for a staged file to name the bytes scanned under it, as git itself does
    (SHA-1 with git's collision detection); a SHA-256 repository's ids never match: rescanned."""
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


class Scanner:
    def __init__(
        self, settings: PhiConfig, key: bytes, reference: ReferenceSet | None = None
    ) -> None:
        self.settings = settings
        self.key = key
        self.reference = reference
        # (name, blob id) -> (findings, size): thousands of files, nearly all clean
        self._scanned: dict[tuple[str, str], tuple[tuple[Finding, ...], int]] = {}
        # (kind, blob id) of contents without findings, clean under any name (a staging copy
        # of production code, a library copied into many sheets): scanned once
        self._clean_contents: set[tuple[str, str]] = set()
        # context words: the defaults and what [phi] adds
        self.ssn_context = Context(SSN_WORDS + settings.ssn_context)
        self.mrn_context = Context(MRN_WORDS + settings.mrn_context)
        self.dob_context = Context(DOB_WORDS + settings.dob_context)
        self.phone_context = Context(PHONE_WORDS + settings.phone_context)
        self.member_context = Context(MEMBER_WORDS + settings.member_context)
        # a joined literal is scanned with this much of its line on either side
        self.reach = max(c.reach for c in self.contexts)
        prefix = re.escape(settings.synthetic_prefix)
        self.mrn_value = re.compile(rf"{_BEFORE}(?:{prefix})?(?:{settings.mrn_id_pattern}){_AFTER}")
        # an MRN pattern of the practice's own may fit a line _SIGNATURE passes over
        self.custom_mrn = settings.mrn_id_pattern != PhiConfig.mrn_id_pattern
        self.synthetic_marker = re.compile(
            r"(?<![A-Za-z0-9])" + prefix + r"[A-Za-z0-9]", re.IGNORECASE
        )
        self.synthetic_id = re.compile(
            rf"(?<![A-Za-z0-9]){prefix}[A-Za-z0-9](?:-?[A-Za-z0-9])*", re.IGNORECASE
        )
        self.test_cards = {re.sub(r"\D", "", c) for c in settings.test_cards}
        self.allowed_digits = set()
        self.allowed_domains = set()
        self.allowed_values = set()
        for entry in settings.allowlist:
            digits = re.sub(r"\D", "", entry)
            if "@" not in entry and "." in entry and not digits:
                self.allowed_domains.add(entry.lower())
            elif len(digits) >= 7 and not re.search(r"[A-Za-z]", entry):
                self.allowed_digits.add(digits[-10:])
            self.allowed_values.add(entry.lower())

    @property
    def _names_possible(self) -> bool:
        """A live reference with patients' names: a line without digits may name one."""
        return self.reference is not None and bool(self.reference.patients)

    @property
    def contexts(self) -> tuple[Context, ...]:
        return (
            self.ssn_context,
            self.mrn_context,
            self.dob_context,
            self.phone_context,
            self.member_context,
        )

    # identity --------------------------------------------------------------------------------

    def digest(self, value: str) -> str:
        return hmac.new(self.key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def finding_id(self, path: str, kind: FindingType, normalized: str) -> str:
        return self.digest(f"{kind}\0{path}\0{normalized}")[:16]

    # detection -------------------------------------------------------------------------------

    def _allowed(self, kind: str, value: str) -> bool:
        """The allowlist, which comes first of all (a production match included): `kind` is
        the value's kind, `phone` and `email` compared by number and by domain."""
        if value.lower() in self.allowed_values:
            return True
        if kind == "phone":
            return re.sub(r"\D", "", value)[-10:] in self.allowed_digits
        if kind == "email":
            domain = value.lower().partition("@")[2]
            return any(domain == d or domain.endswith("." + d) for d in self.allowed_domains)
        return False

    def hits(
        self,
        text: str,
        header: str | None = None,
        block_only: bool = False,
        record: str | None = None,
        line: tuple[str, int] | None = None,
    ) -> list[Hit]:
        """Every identifier in one segment of text, synthetic, placeholder and allowed values
        left out; `block_only` (a synthetic record, where review findings are not reported)
        stops after the block detectors, which all run first, so what they find is the same.
        A date of birth is matched with the surnames of its whole `record` (a CSV row); context
        words are looked for in the segment's whole `line` (its text, and where the segment
        starts in it), so a CSV cell or a JSON value sees the key or cell beside it."""
        if not _WORTH_SCANNING.search(text):
            return []
        found: list[Hit] = []
        taken = bytearray(len(text))  # 1 where a value was found or ruled out

        def add(
            kind: FindingType,
            match_start: int,
            match_end: int,
            normalized: str,
            masked_as: FindingType | None = None,
        ) -> None:
            if taken.find(1, match_start, match_end) != -1:
                return
            value = text[match_start:match_end]
            if self._allowed(_ALLOW_KIND.get(kind, ""), value):
                return
            skip((match_start, match_end))
            found.append(Hit(kind, match_start, match_end, value, normalized, False, masked_as))

        def skip(span: tuple[int, int]) -> None:  # synthetic or a placeholder: never a finding
            taken[span[0] : span[1]] = b"\x01" * (span[1] - span[0])

        def near(context: Context, start: int, end: int) -> bool:
            if line is None:
                return context.around(text, start, end, header)
            whole, offset = line
            return context.around(whole, start + offset, end + offset, header)

        if not _SIGNATURE.search(text):
            # no value the default patterns know fits; an id a context word announces may
            if self.custom_mrn:
                self._mrns(text, near, add, skip)
            if not block_only:
                self._member_ids(text, near, add, skip)
            return sorted(found, key=lambda h: h.start)
        if self.reference is not None and self.reference.digests:
            for start, end, _, kind in self.production_matches(text, record):
                value = text[start:end]
                if not self._allowed(kind, value):  # the allowlist first, by the value's kind
                    add(FindingType.PRODUCTION_MATCH, start, end, value, _MASKED_AS[kind])
        for m in self.synthetic_id.finditer(text):
            skip(m.span())  # `SYN-M44986454` is one synthetic id, not an MRN after `SYN-M`
        for m in _SSN.finditer(text):
            area, group, serial = m.group(1), m.group(3), m.group(5)
            if _separator_kind(m.group(2)) != _separator_kind(m.group(4)):
                continue
            self._ssn(area, group, serial, m.span(), add, skip)
        for m in _MBI.finditer(text):
            if bool(m.group(1)) != bool(m.group(2)):
                continue  # dashes at both places or at none
            normalized = ascii_separators(m.group(0)).replace("-", "").upper()
            if normalized in PLACEHOLDER_MBIS:
                skip(m.span())
                continue
            add(FindingType.MBI, m.start(), m.end(), normalized)
        for m in _CARD.finditer(text):
            digits = re.sub(r"\D", "", m.group(0))
            if digits in self.test_cards:
                skip(m.span())
                continue
            if 13 <= len(digits) <= 19 and card_issuer_ok(digits) and luhn(digits):
                add(FindingType.CREDIT_CARD, m.start(), m.end(), digits)
        for m in _NINE.finditer(text):
            if near(self.ssn_context, m.start(), m.end()):
                self._ssn(m.group(1), m.group(2), m.group(3), m.span(), add, skip)
        self._mrns(text, near, add, skip)
        if block_only:
            return sorted(found, key=lambda h: h.start)
        for m in _PHONE_NANP.finditer(text):
            self._phone(text, m.start(), m.end(), add, skip)
        for m in _PHONE_BARE.finditer(text):
            if near(self.phone_context, m.start(), m.end()):
                self._phone(text, m.start(), m.end(), add, skip)
        for m in _PHONE_INTL.finditer(text):
            self._phone(text, m.start(), m.end(), add, skip, international=True)
        for m in _EMAIL.finditer(text):
            if reserved_email_domain(m.group(1)):
                skip(m.span())
                continue
            add(FindingType.EMAIL, m.start(), m.end(), m.group(0).lower())
        for m in _ADDRESS.finditer(text):
            add(FindingType.ADDRESS, m.start(), m.end(), " ".join(m.group(0).lower().split()))
        for m in _PO_BOX.finditer(text):
            box = re.sub(r"\D", "", m.group(0))
            add(FindingType.ADDRESS, m.start(), m.end(), f"po box {box}")
        for m in DATE.finditer(text):
            if read_date(m.group(0)) is None:
                continue  # no calendar has it: a version or a ratio, not a date
            if near(self.dob_context, m.start(), m.end()):
                add(FindingType.DOB, m.start(), m.end(), m.group(0).lower())
        self._member_ids(text, near, add, skip)
        return sorted(found, key=lambda h: h.start)

    def _ssn(self, area: str, group: str, serial: str, span: tuple[int, int], add, skip) -> None:  # type: ignore[no-untyped-def]
        if never_issued_ssn(area, group, serial) or area + group + serial in PLACEHOLDER_SSNS:
            skip(span)
            return
        kind = FindingType.ITIN if area.startswith("9") else FindingType.SSN
        add(kind, span[0], span[1], area + group + serial)

    def _mrns(self, text: str, near, add, skip) -> None:  # type: ignore[no-untyped-def]
        for m in self.mrn_value.finditer(text):
            if not near(self.mrn_context, m.start(), m.end()):
                continue
            if m.group(0).upper().startswith(self.settings.synthetic_prefix.upper()):
                skip(m.span())
                continue
            add(FindingType.MRN, m.start(), m.end(), m.group(0).upper())

    def _member_ids(self, text: str, near, add, skip) -> None:  # type: ignore[no-untyped-def]
        dates: list[tuple[int, int]] | None = None  # a date is no id (`policy 2026-01-01`)
        for m in _MEMBER_ID.finditer(text):
            value = m.group(0)
            if not near(self.member_context, m.start(), m.end()):
                continue
            if dates is None:
                dates = [d.span() for d in DATE.finditer(text)]
            if any(s < m.end() and m.start() < e for s, e in dates):
                continue
            if value.upper().startswith(self.settings.synthetic_prefix.upper()):
                skip(m.span())
                continue
            add(FindingType.MEMBER_ID, m.start(), m.end(), value.replace("-", "").upper())

    def masked(self, text: str) -> str:
        """The text with every identifier the scanner finds in it masked, for messages that may
        quote a cell (a failing test's message, its log lines)."""
        for hit in reversed(self.hits(text)):
            text = text[: hit.start] + hit.excerpt + text[hit.end :]
        return text

    def production_matches(
        self, text: str, record: str | None = None
    ) -> list[tuple[int, int, str, str]]:
        """Spans of text equal to a production identifier, in any format: (start, end, digest,
        kind); a date is a production date of birth beside any word of its record."""
        reference = self.reference
        assert reference is not None
        found: list[tuple[int, int, str, str]] = []
        candidates: list[tuple[str, re.Match[str]]] = [("email", m) for m in _EMAIL.finditer(text)]
        candidates += [("ssn", m) for m in _SSN.finditer(text)]
        candidates += [("ssn", m) for m in _NINE.finditer(text)]
        candidates += [("phone", m) for m in _PHONE_NANP.finditer(text)]
        candidates += [("phone", m) for m in _PHONE_BARE.finditer(text)]
        candidates += [("mrn", m) for m in _MRN_LIKE.finditer(text)]
        candidates += [("member", m) for m in _MEMBER_ID.finditer(text)]
        synthetic = [m.span() for m in self.synthetic_id.finditer(text)]  # in order, apart
        starts = [start for start, _ in synthetic]
        for kind, m in candidates:
            inside = bisect.bisect_left(starts, m.start()) - 1
            if inside >= 0 and m.start() < synthetic[inside][1]:
                continue  # a part of a synthetic id is not a value of its own
            digest = reference.digest(kind, m.group(0))
            if digest in reference.digests:
                found.append((m.start(), m.end(), digest, kind))
            elif kind == "mrn" and m.group(1):  # `MRN 4471209`: the word before is no prefix
                digest = reference.digest(kind, m.group(2))
                if digest in reference.digests:
                    found.append((m.start(2), m.end(), digest, kind))
        dates = list(DATE.finditer(text))
        if dates:
            words = record_words(text if record is None else record)
            for m in dates:
                for iso in read_date(m.group(0)) or ():
                    for digest in reference.dob_digests(iso, words):
                        found.append((m.start(), m.end(), digest, "dob"))
        return found

    def name_hits(self, text: str, record: str) -> list[Hit]:
        """Names of production patients (live reference only): block when the record also
        holds one of that patient's identifiers, or the name is not a Faker name."""
        reference = self.reference
        if reference is None or not reference.patients:
            return []
        hits = []
        record_digests: set[str] | None = None  # only needed once a name matches
        for m in _NAME_CANDIDATE.finditer(text):
            candidate = m.group(0)
            if "," in candidate:
                last, _, first = candidate.partition(",")
                candidate = f"{first.strip()} {last.strip()}"
            patient = reference.match_name(candidate, self.settings.name_ratio)
            if patient is None:
                continue
            if record_digests is None:
                record_digests = {d for _, _, d, _ in self.production_matches(record)}
            strong = bool(patient.digests & record_digests) or patient.rare
            kind = FindingType.NAME
            hits.append(Hit(kind, m.start(), m.end(), m.group(0), candidate.lower(), strong))
        return hits

    def _phone(self, text, start, end, add, skip, international: bool = False) -> None:  # type: ignore[no-untyped-def]
        candidate = ascii_separators(text[start:end])
        digits = re.sub(r"\D", "", candidate)
        if (not international or digits.startswith("1")) and (
            synthetic_phone(digits) or placeholder_phone(digits)
        ):
            skip((start, end))
            return
        try:
            number = phonenumbers.parse(candidate, None if international else "US")
        except phonenumbers.NumberParseException:
            return
        if not phonenumbers.is_valid_number(number):
            return
        normalized = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        add(FindingType.PHONE, start, end, normalized)

    # text, CSV, JSON, files ------------------------------------------------------------------

    def scan_segments(
        self,
        path: str,
        segments: Sequence[Segment],
        records: dict[int, str],
        shown: str | None = None,
    ) -> list[Finding]:
        """Findings in `segments`, in file order; ids come from `path`, messages show `shown`
        (the path masked where its name holds PHI)."""
        findings: list[Finding] = []
        lines_allow: dict[int, tuple[bool, str]] = {}
        whole = "\n".join(s.text for s in segments)  # what no segment holds, none is looked for
        if "allow-phi" in whole.lower():
            for segment in segments:
                allow = None if segment.origins else _ALLOW.search(segment.text)
                if allow:
                    reason = self.masked(_allow_reason(allow.group(1)))
                    lines_allow[segment.line] = (bool(reason), reason)
        any_synthetic = self.synthetic_marker.search("\n".join(records.values())) is not None
        if not _WORTH_SCANNING.search(whole) and not self._names_possible:
            return findings
        synthetic_records: dict[int, bool] = {}  # a record spans many segments: test it once
        for segment in segments:
            record = records.get(segment.record, "")
            synthetic = synthetic_records.get(segment.record) if any_synthetic else False
            if synthetic is None:
                synthetic = bool(self.synthetic_marker.search(record))
                synthetic_records[segment.record] = synthetic
            hits = self.hits(segment.text, segment.header, synthetic, record, segment.context)
            hits += self.name_hits(segment.text, record)
            for hit in hits:
                severity = hit.severity
                if synthetic and severity is Severity.REVIEW:
                    continue
                if segment.joins and not any(hit.start < b < hit.end for b in segment.joins):
                    continue  # within one literal: the line itself reports it
                line, column = segment.place(hit.start)
                acknowledged, reason = False, ""
                allow = lines_allow.get(line)
                if allow and severity is Severity.REVIEW:
                    acknowledged, reason = allow
                    if not acknowledged:
                        reason = "inline allow-phi without a reason does not count"
                findings.append(
                    Finding(
                        id=self.finding_id(path, hit.type, hit.normalized),
                        path=shown or path,
                        line=line,
                        column=column,
                        type=hit.type,
                        severity=severity,
                        excerpt=hit.excerpt,
                        acknowledged=acknowledged,
                        reason=reason,
                        allowed_inline=acknowledged,
                    )
                )
        return sorted(findings, key=lambda f: (f.line, f.column))

    def scan_text(
        self, text: str, path: str, kind: str = "text", shown: str | None = None
    ) -> list[Finding]:
        if kind == "csv":
            return self.scan_segments(path, *_csv_segments(text), shown)
        if kind == "json":
            return self.scan_segments(path, *_json_segments(text), shown)
        lines = physical_lines(text)
        segments = [Segment(line, n, 1, None, n) for n, line in enumerate(lines, start=1)]
        if _JOINED.search(text):
            segments += _joined_segments(text, self.reach)
        records = {n: line for n, line in enumerate(lines, start=1)}
        return self.scan_segments(path, segments, records, shown)

    def scan_cells(
        self, path: str, rows: Sequence[Sequence[str]], first_row: int = 1
    ) -> list[Finding]:
        """Sheet values (values.batchGet): the first row is the header, each row a record (and
        a line: a context word in one cell counts for the value in the next)."""
        header = [str(c) for c in rows[0]] if rows else []
        segments, records = [], {}
        for index, row in enumerate(rows[1:], start=first_row + 1):
            cells = [str(c) for c in row]
            record = records[index] = "\t".join(cells)
            offset = 0
            for column, cell in enumerate(cells):
                title = header[column] if column < len(header) else None
                segments.append(Segment(cell, index, column + 1, title, index, record, offset))
                offset += len(cell) + 1
        return self.scan_segments(path, segments, records)

    def scan_file(self, file: Path, display: str | None = None) -> ScanResult:
        name = display or str(file)
        try:
            size = file.stat().st_size
            if size > self.max_bytes:
                shown, named = self.scan_name(name)
                return ScanResult([*named, self._too_big(shown)], files=1, bytes=size)
            data = file.read_bytes()
        except OSError as error:
            shown, named = self.scan_name(name)
            why = f"unreadable ({error.strerror})"
            return ScanResult([*named, self._unscannable(shown, why)], 1)
        return self.scan_bytes(data, name)

    @property
    def max_bytes(self) -> int:
        return int(self.settings.max_file_mb * 1024 * 1024)

    def _too_big(self, name: str) -> Finding:
        return self._unscannable(name, f"larger than {self.settings.max_file_mb:g} MB")

    def scan_name(self, path: str) -> tuple[str, list[Finding]]:
        """A file's path scanned like a line of text: its findings (line 0), and the path as
        every message must show it, masked where it holds them."""
        synthetic = bool(self.synthetic_marker.search(path))
        hits = [
            hit
            for hit in self.hits(path) + self.name_hits(path, path)
            if not (synthetic and hit.severity is Severity.REVIEW)
        ]
        if not hits:
            return path, []
        shown = masked_path(path, [(h.start, h.end) for h in hits])
        findings = [
            Finding(
                id=self.finding_id(path, hit.type, hit.normalized),
                path=shown,
                line=0,
                column=hit.start + 1,
                type=hit.type,
                severity=hit.severity,
                excerpt=hit.excerpt,
            )
            for hit in hits
        ]
        return shown, findings

    def scan_bytes(self, data: bytes, name: str) -> ScanResult:
        """Any file's bytes and its name: undecodable bytes are replaced, binary or huge files
        reported; findings name the file masked when its name holds PHI. The same bytes under
        the same name are scanned once per scanner (a snapshot's gate, then its commit)."""
        blob = blob_id(data)
        known = self.scanned(name, blob)
        if known is None:
            known = self._scan_bytes(data, name, blob)
            self._scanned[(name, blob)] = (tuple(known.findings), known.bytes)
        return known

    def scanned(self, name: str, blob: str) -> ScanResult | None:
        """What this scanner found in the bytes whose git object id is `blob`, under `name`,
        when it has scanned them (a commit gate need not read a blob scanned before)."""
        known = self._scanned.get((name, blob))
        if known is None:
            return None
        findings, size = known
        return ScanResult(list(findings), files=1, bytes=size)

    def _scan_bytes(self, data: bytes, name: str, blob: str) -> ScanResult:
        shown, named = self.scan_name(name)
        result = ScanResult(named, files=1, bytes=len(data))
        if len(data) > self.max_bytes:
            result.findings.append(self._too_big(shown))
        elif _binary(data):
            result.findings.append(self._unscannable(shown, "binary content"))
        else:
            suffix = Path(name).suffix.lower()
            kind = "csv" if suffix == ".csv" else "json" if suffix == ".json" else "text"
            if (kind, blob) in self._clean_contents:
                return result
            text = data.decode("utf-8", errors="replace")
            # ids from the real name: two files masked alike keep their own acknowledgements
            found = self.scan_text(text, name, kind, shown)
            if not found:
                self._clean_contents.add((kind, blob))
            result.findings.extend(found)
        return result

    def _unscannable(self, path: str, why: str) -> Finding:
        return Finding(
            id=self.finding_id(path, FindingType.UNSCANNABLE, why),
            path=path,
            line=0,
            column=0,
            type=FindingType.UNSCANNABLE,
            severity=Severity.REVIEW,
            excerpt=why,
        )

    def scan_paths(self, paths: Iterable[Path], base: Path | None = None) -> ScanResult:
        result = ScanResult()
        for file in iter_files(paths):
            shown = str(file.relative_to(base)) if base and file.is_relative_to(base) else str(file)
            result.extend(self.scan_file(file, shown))
        return result


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and ".git" not in file.relative_to(path).parts:
                    yield file
        else:
            yield path


def _binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head:
        return True
    if not head:
        return False
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return control / len(head) > 0.10


_CONTROL_BYTES = bytes(b for b in range(32) if b < 9 or b > 13)


def _csv_segments(text: str) -> tuple[list[Segment], dict[int, str]]:
    lines = physical_lines(text)
    reader = csv.reader(io.StringIO(text))
    header: list[str] = []
    segments: list[Segment] = []
    records: dict[int, str] = {}
    try:
        rows = list(_numbered_rows(reader))
    except csv.Error:
        segments = [Segment(line, n, 1, None, n) for n, line in enumerate(lines, start=1)]
        return segments, {n: line for n, line in enumerate(lines, start=1)}
    for row_index, (line_no, cells) in enumerate(rows):
        if row_index == 0:
            header = cells
        records[line_no] = "\t".join(cells)
        raw = lines[line_no - 1] if 0 < line_no <= len(lines) else ""
        offset = 0
        for column, cell in enumerate(cells):
            found = raw.find(cell, offset) if cell else -1
            position = found + 1 if found >= 0 else 1
            if found >= 0:
                offset = found + len(cell)
            title = header[column] if row_index > 0 and column < len(header) else None
            context = raw if found >= 0 else None  # the cells beside it count
            segments.append(Segment(cell, line_no, position, title, line_no, context, found))
    return segments, records


def _joined_segments(text: str, reach: int) -> list[Segment]:
    """Each chain of string literals joined by `+` as one literal, with up to `reach`
    characters of its line on either side for context; a chain may run over lines. Linear in
    the text: one pass finds the chains, and each is joined once."""
    line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
    line_ends = []  # each line's end before its line break
    for index, start in enumerate(line_starts):
        end = line_starts[index + 1] - 1 if index + 1 < len(line_starts) else len(text)
        line_ends.append(end - 1 if end > start and text[end - 1] == "\r" else end)

    def where(offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(line_starts, offset) - 1
        return index + 1, offset - line_starts[index] + 1

    segments = []
    for chain in _LITERAL_CHAIN.finditer(text):
        literals = list(_ONE_LITERAL.finditer(text, chain.start(), chain.end()))
        contents = [(m.start() + 1, m.group(0)[1:-1]) for m in literals]
        if len(literals) < 2 or not _WORTH_SCANNING.search("".join(c for _, c in contents)):
            continue
        line, _ = where(chain.start())
        before = max(line_starts[line - 1], chain.start() - reach)
        after = min(line_ends[where(chain.end() - 1)[0] - 1], chain.end() + reach)
        pieces = [(before, text[before : chain.start() + 1]), *contents]
        pieces.append((chain.end() - 1, text[chain.end() - 1 : after]))
        joined, joins, origins = [], [], []
        position = 0
        for number, (offset, piece) in enumerate(pieces):
            if 1 < number < len(pieces) - 1:
                joins.append(position)
            for part in re.split("(?<=\n)", piece):
                origins.append((position, *where(offset)))
                offset += len(part)
                position += len(part)
            joined.append(piece)
        segments.append(
            Segment(
                "".join(joined), line, 1, None, line, joins=tuple(joins), origins=tuple(origins)
            )
        )
    return segments


def _numbered_rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    start = 1
    for row in reader:
        yield start, row
        start = reader.line_num + 1  # type: ignore[attr-defined]


def _json_segments(text: str) -> tuple[list[Segment], dict[int, str]]:
    """Lines of the JSON text; each value's record is its innermost object, whose own text
    leaves out the objects nested in it (a child's synthetic id does not make its parent
    synthetic, and no object's text is copied twice)."""
    innermost = _Innermost(_object_spans(text))
    segments: list[Segment] = []
    offset = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        content = raw[:-1] if raw.endswith("\r") else raw
        # a line usually sits in one object; split it where objects open or close
        for piece_start, piece_text, record in innermost.pieces(content, offset):
            column = piece_start - offset
            segments.append(Segment(piece_text, number, column + 1, None, record, content, column))
        offset += len(raw) + 1
    return segments, innermost.own_texts(text)


_JSON_SPECIAL = re.compile(r'[\\"{}]')


def _object_spans(text: str) -> list[tuple[int, int]]:
    """Every JSON object's (start, end), stepping only over the characters that matter."""
    spans: list[tuple[int, int]] = []
    stack: list[int] = []
    in_string = False
    escaped_at = -1  # the position a backslash inside a string escapes
    for match in _JSON_SPECIAL.finditer(text):
        index = match.start()
        char = text[index]
        if in_string:
            if index == escaped_at:
                continue
            if char == "\\":
                escaped_at = index + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            stack.append(index)
        elif char == "}" and stack:
            spans.append((stack.pop(), index + 1))
    return sorted(spans)


class _Innermost:
    """The innermost object (its 1-based number in `spans`, 0 for none) at any position, from
    one sweep over the objects' boundaries: linear, where a search per line was quadratic."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        starts = {start: number for number, (start, _) in enumerate(spans, start=1)}
        self.boundaries = sorted(set(starts) | {end for _, end in spans})
        self.after: list[int] = []
        stack: list[int] = []
        for boundary in self.boundaries:
            while stack and spans[stack[-1] - 1][1] <= boundary:
                stack.pop()  # objects nest, so the innermost ends first
            if boundary in starts:
                stack.append(starts[boundary])
            self.after.append(stack[-1] if stack else 0)

    def own_texts(self, text: str) -> dict[int, str]:
        """Each object's own text (0: the text outside every object), without the objects
        nested in it: every character belongs to exactly one, so this is linear."""
        first = self.boundaries[0] if self.boundaries else len(text)
        parts: dict[int, list[str]] = {0: [text[:first]]}
        for index, start in enumerate(self.boundaries):
            end = self.boundaries[index + 1] if index + 1 < len(self.boundaries) else len(text)
            parts.setdefault(self.after[index], []).append(text[start:end])
        return {number: "".join(pieces) for number, pieces in parts.items()}

    def at(self, position: int) -> int:
        index = bisect.bisect_right(self.boundaries, position) - 1
        return self.after[index] if index >= 0 else 0

    def pieces(self, content: str, offset: int) -> list[tuple[int, str, int]]:
        """The line split where objects open or close: (start, text, innermost object)."""
        end = offset + len(content)
        low = bisect.bisect_right(self.boundaries, offset)
        high = bisect.bisect_left(self.boundaries, end)
        cuts = [offset, *self.boundaries[low:high], end]
        pieces = [
            (start, content[start - offset : stop - offset], self.at(start))
            for start, stop in itertools.pairwise(cuts)
            if stop > start
        ]
        return pieces or [(offset, content, self.at(offset))]


def status_of(findings: Sequence[Finding]) -> PhiStatus:
    """The PHI status the open (not acknowledged) findings give."""
    open_findings = [f for f in findings if not f.acknowledged]
    if any(f.severity is Severity.BLOCK for f in open_findings):
        return PhiStatus.BLOCKED
    return PhiStatus.NEEDS_REVIEW if open_findings else PhiStatus.CLEAN


def with_acknowledgements(
    findings: Sequence[Finding], acknowledged: dict[str, str]
) -> list[Finding]:
    """Mark review findings whose id a practice manager acknowledged (block ones never)."""
    return [
        replace(f, acknowledged=True, reason=acknowledged[f.id])
        if f.id in acknowledged and f.severity is Severity.REVIEW and not f.acknowledged
        else f
        for f in findings
    ]


__all__ = ["Finding", "FindingType", "ScanResult", "Scanner", "Severity"]
