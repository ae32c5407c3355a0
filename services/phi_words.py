"""The words and forms the PHI rules read values by: the context words of each identifier (the
defaults of DESIGN.md "PHI rules", to which `[phi]` adds), the separators people type, and the
forms a date of birth is written in. The scanner (services/phi.py) and the production reference
(services/reference.py) both read them here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

# context words ---------------------------------------------------------------------------------

SSN_WORDS = (
    "ssn",
    "ssn#",
    "ss#",
    "ss #",
    "ss no",
    "social security",
    "social security number",
    "soc sec",
    "socsec",
    "tin",
    "itin",
    "taxpayer id",
)
DOB_WORDS = (
    "dob",
    "d.o.b.",
    "d.o.b",
    "date of birth",
    "birth date",
    "birthdate",
    "birthday",
    "birth",
    "born",
    "bday",
    "b-day",
)
PHONE_WORDS = (
    "phone",
    "telephone",
    "tel",
    "cell",
    "cellphone",
    "mobile",
    "fax",
    "phone number",
    "cb",
    "call back",
    "ph",
    "contact",
)
MRN_WORDS = (
    "mrn",
    "mr#",
    "mr #",
    "medical record number",
    "medical record no",
    "medical record #",
    "medical record",
    "chart number",
    "chart no",
    "chart #",
    "patient id",
    "patient #",
    "patient number",
    "patient no",
    "pt id",
    "pt#",
    "pt #",
    "pt no",
    "acct",
    "acct#",
    "acct #",
    "acct no",
    "account number",
    "account no",
    "account #",
)
MEMBER_WORDS = (
    "member",
    "member id",
    "member #",
    "member no",
    "member number",
    "subscriber",
    "subscriber id",
    "subscriber #",
    "subscriber no",
    "policy",
    "policy id",
    "policy #",
    "policy no",
    "policy number",
    "insurance",
    "insurance id",
    "insurance #",
    "insurance no",
    "insurance number",
    "ins id",
    "ins #",
)
CONTEXT_GAP = 20  # characters allowed between a context word and its value, either side


# an identifier part followed by one of these names a quantity, not a person's value
# (`acctBalanceCents`, `memberCount`, `PT_NO_LIMIT`)
QUANTITY_WORDS = (
    "count",
    "total",
    "balance",
    "limit",
    "max",
    "min",
    "length",
    "size",
    "version",
    "index",
    "amount",
    "cents",
    "sum",
    "qty",
    "quantity",
    "rate",
    "ratio",
    "percent",
    "timeout",
    "offset",
    "col",
    "column",
    "row",
    "idx",
)
_WORD_START = r"(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))"
# a word ends before a non-letter, or where camelCase starts a new word (`dobValue`, `SSNText`)
_WORD_END = r"(?:(?![A-Za-z])|(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z]))"
_QUANTITY = rf"[\s_.\-(:]*(?i:{'|'.join(QUANTITY_WORDS)}){_WORD_END}"


def context_regex(phrases: Iterable[str]) -> re.Pattern[str]:
    """Context words, case-insensitive, as words and as identifier parts: `date of birth` also
    matches `date_of_birth`, `dateOfBirth`, `dateofbirth` and `DATE-OF-BIRTH`; `dob` matches
    `patientDob`; `tin` does not match inside `TINY`, nor `cb` inside `cbc`; `member` followed
    by `Count` names a quantity and is no context."""
    alternatives = []
    for phrase in sorted(set(phrases), key=len, reverse=True):
        words = phrase.split()
        alternatives.append(r"[\s_.\-]*".join(f"(?i:{re.escape(w)})" for w in words))
    return re.compile(
        _WORD_START + "(?:" + "|".join(alternatives) + ")" + _WORD_END + f"(?!{_QUANTITY})"
    )


def longest_phrase(phrases: Iterable[str]) -> int:
    return max((len(p) for p in phrases), default=0)


class Context:
    """One identifier's context words: before the value or after it, within CONTEXT_GAP
    characters on the same line, or the value's column header."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases = tuple(dict.fromkeys(phrases))
        self.pattern = context_regex(self.phrases)
        # a phrase matches at most this many characters (identifier forms add separators)
        self.reach = CONTEXT_GAP + 2 * longest_phrase(self.phrases) + 8

    def in_header(self, header: str | None) -> bool:
        return bool(header) and self.pattern.search(header) is not None  # type: ignore[arg-type]

    def around(self, text: str, start: int, end: int, header: str | None = None) -> bool:
        if self.in_header(header):
            return True
        before = self.pattern.finditer(text, max(0, start - self.reach), start)
        if any(start - m.end() <= CONTEXT_GAP for m in before):
            return True
        after = self.pattern.search(text, end, end + self.reach)
        return after is not None and after.start() - end <= CONTEXT_GAP


# separators ------------------------------------------------------------------------------------

DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"  # hyphen, en and em dash, minus, ...
SPACES = " \u00a0\u2007\u2009\u202f"  # space, no-break, figure, thin, narrow no-break
SEPARATOR_CLASS = f"[{re.escape(DASHES + SPACES)}.]"
_ASCII_SEPARATORS = str.maketrans({c: "-" for c in DASHES} | {c: " " for c in SPACES})


def ascii_separators(text: str) -> str:
    """Every dash variant as `-` and every space variant as ` ` (one character each)."""
    return text.translate(_ASCII_SEPARATORS)


# dates of birth --------------------------------------------------------------------------------

MONTHS = (
    "Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    "Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?"
)
_ORDINAL = r"(?:st|nd|rd|th)?"
_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+\-]\d{2}:?\d{2})?)?"
# Every form a date of birth is written in, longest first; each is read by its named parts.
_DATE_FORMS = (
    # 1978-04-18, 1978/04/18, 1978.04.18, ISO date-times
    rf"(?P<year>\d{{4}})(?P<sep>[/\-.])(?P<month>\d{{1,2}})(?P=sep)(?P<day>\d{{1,2}}){_TIME}",
    # 4/18/78, 04-18-1978, 18.04.1978 (which number is the month is decided when read)
    r"(?P<first>\d{1,2})(?P<sep>[/\-.])(?P<second>\d{1,2})[/\-.](?P<year>\d{4}|\d{2})",
    # March 7th, 1933; Mar. 7 1933
    rf"(?P<month>{MONTHS})\.?\s+(?P<day>\d{{1,2}}){_ORDINAL},?\s+(?P<year>\d{{4}})",
    # 7 Mar 1933; 7th of March, 1933
    rf"(?P<day>\d{{1,2}}){_ORDINAL}\s+(?:of\s+)?(?P<month>{MONTHS})\.?,?\s+(?P<year>\d{{4}})",
    # 09-Jul-1998, 09-Jul-98
    rf"(?P<day>\d{{1,2}})-(?P<month>{MONTHS})-(?P<year>\d{{4}}|\d{{2}})",
    # a month with its year alone: March 1961, Mar. 1961, 03/1961, 1961-03
    rf"(?P<month>{MONTHS})\.?,?\s+(?P<year>\d{{4}})",
    r"(?P<month>\d{1,2})[/\-](?P<year>\d{4})",
    r"(?P<year>\d{4})[/\-](?P<month>\d{1,2})",
)
_FORMS = [re.compile(form + "$", re.IGNORECASE) for form in _DATE_FORMS]


def _one_pattern(forms: Iterable[str]) -> str:
    """The forms as one alternation: names dropped, each back-reference numbered apart."""
    parts = []
    for number, form in enumerate(forms):
        form = form.replace("(?P<sep>", f"(?P<sep{number}>").replace(
            "(?P=sep)", f"(?P=sep{number})"
        )
        parts.append(re.sub(r"\(\?P<(?!sep)\w+>", "(?:", form))
    return "|".join(parts)


DATE = re.compile(
    r"(?<![A-Za-z0-9:])(?<!\d[.\-/])(?:"
    + _one_pattern(_DATE_FORMS)
    + r")(?![A-Za-z0-9])(?![.\-/:]\d)",
    re.IGNORECASE,
)
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _year(text: str, today: date) -> int:
    """A two-digit year is the latest year ending so that is not in the future (a birth)."""
    if len(text) == 4:
        return int(text)
    century = today.year - today.year % 100
    year = century + int(text)
    return year if year <= today.year else year - 100


def _month(text: str) -> int:
    return int(text) if text.isdigit() else _MONTH_NAMES.index(text[:3].lower()) + 1


def read_date(text: str, today: date | None = None) -> list[str] | None:
    """What a DATE match can mean: its calendar dates as ISO strings (a dotted `04.05.1978`
    reads both ways, a month with its year alone gives none), or None when it is no date
    (`13/45/1999`)."""
    today = today or date.today()
    for form in _FORMS:
        match = form.match(text)
        if match is None:
            continue
        parts = match.groupdict()
        year = _year(parts["year"], today)
        if "first" in parts:
            first, second = int(parts["first"]), int(parts["second"])
            if parts["sep"] == ".":  # 18.04.1978 is European; 04.05.1978 reads both ways
                readings = [(second, first), (first, second)]
            elif first > 12:  # 18/04/1978: the day came first
                readings = [(second, first)]
            else:
                readings = [(first, second)]
        else:
            month = _month(parts["month"])
            if "day" not in parts:
                return [] if 1 <= month <= 12 else None
            readings = [(month, int(parts["day"]))]
        found = []
        for month, day in readings:
            try:
                found.append(date(year, month, day).isoformat())
            except ValueError:
                continue
        return list(dict.fromkeys(found)) or None
    return None


def iso_dates(text: str) -> list[str]:
    """The calendar dates a written date can mean (ISO), none for a month with a year."""
    match = DATE.fullmatch(text.strip())
    return (read_date(match.group(0)) or []) if match else []
