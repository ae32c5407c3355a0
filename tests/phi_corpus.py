"""A labelled corpus for the PHI scanner: code lines, CSV rows and JSON records.

Every value is invented (random digits from a fixed seed, made-up names and streets); the
"real-looking" ones only look real so the scanner has something to find. Labels follow
DESIGN.md's PHI rules: `expected` is the set of finding types that must be reported (empty:
the case is clean and must report nothing).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from services.config import load_config_file
from services.phi import Finding, Scanner, Severity
from services.reference import ReferenceSet


@dataclass(frozen=True)
class Case:
    kind: str  # "code", "csv", "json", "text", or "name" (a file's path)
    content: str
    expected: frozenset[str]
    note: str = ""
    rule: str = "first contract"  # the reading of DESIGN.md "PHI rules" the case exercises
    allowed: bool = False  # clean only because an inline allow acknowledges its finding

    @property
    def severity(self) -> str:
        block = {"SSN", "ITIN", "MRN", "MBI", "CREDIT_CARD", "PRODUCTION_MATCH"}
        if not self.expected:
            return "clean"
        return "block" if self.expected & block else "review"


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        digits = body + check
        total = 0
        for position, char in enumerate(reversed(digits)):
            value = int(char) * (2 if position % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return digits
    raise AssertionError


def _issued_ssn(rng: random.Random, itin: bool = False) -> tuple[str, str, str]:
    while True:
        area = rng.randint(900, 999) if itin else rng.randint(1, 899)
        if area == 666:
            continue
        group, serial = rng.randint(1, 99), rng.randint(1, 9999)
        return f"{area:03d}", f"{group:02d}", f"{serial:04d}"


_MBI_ALPHA = "ACDEFGHJKMNPQRTUVWXY"


def _mbi(rng: random.Random, dashes: bool) -> str:
    a, an = _MBI_ALPHA, _MBI_ALPHA + "0123456789"
    parts = [
        str(rng.randint(1, 9)) + rng.choice(a) + rng.choice(an) + str(rng.randint(0, 9)),
        rng.choice(a) + rng.choice(an) + str(rng.randint(0, 9)),
        rng.choice(a) + rng.choice(a) + f"{rng.randint(0, 99):02d}",
    ]
    return "-".join(parts) if dashes else "".join(parts)


def _phone(rng: random.Random) -> str:
    while True:
        area = rng.choice(["312", "773", "630", "847", "708", "415", "212", "617", "206", "512"])
        exchange = rng.randint(200, 999)
        if exchange == 555:
            continue
        return f"{area}{exchange}{rng.randint(0, 9999):04d}"


def build() -> list[Case]:
    rng = random.Random(20261125)
    cases: list[Case] = []

    def add(kind: str, content: str, *expected: str, note: str = "") -> None:
        cases.append(Case(kind, content, frozenset(expected), note))

    # SSN and ITIN: block ---------------------------------------------------------------------
    for i in range(30):
        area, group, serial = _issued_ssn(rng)
        sep = ["-", " ", "."][i % 3]
        ssn = f"{area}{sep}{group}{sep}{serial}"
        templates = [
            ("code", f"const patientSsn = '{ssn}';"),
            ("code", f"Logger.log('lookup failed for {ssn}');"),
            ("text", f"Caller gave SS# {ssn} for verification"),
            ("json", f'{{"name": "row {i}", "ssn": "{ssn}"}}'),
            ("csv", f"id,ssn,status\n{i},{ssn},open"),
        ]
        kind, content = templates[i % len(templates)]
        add(kind, content, "SSN")
    for i in range(12):
        area, group, serial = _issued_ssn(rng)
        bare = f"{area}{group}{serial}"
        templates = [
            ("code", f"var ssn = '{bare}';"),
            ("text", f"Social Security: {bare}"),
            ("csv", f"member,SSN\nA{i},{bare}"),
            ("json", f'{{"socialSecurityNumber": "{bare}"}}'),
        ]
        kind, content = templates[i % len(templates)]
        add(kind, content, "SSN")
    for i in range(10):
        area, group, serial = _issued_ssn(rng, itin=True)
        add(["code", "text"][i % 2], f"taxpayer ITIN {area}-{group}-{serial} on file", "ITIN")

    # MRN: block ------------------------------------------------------------------------------
    headers = [
        "MRN",
        "mrn",
        "MR#",
        "Medical Record Number",
        "medical_record_no",
        "Chart #",
        "chart_number",
        "Patient ID",
        "patientId",
        "patient_id",
        "MedicalRecordNumber",
    ]
    contexts = [
        "MRN",
        "MRN:",
        "mrn #",
        "MR#",
        "Medical Record Number",
        "medical record no.",
        "Chart #",
        "chart number",
        "patient id",
        "patientId",
        "patient_id",
    ]
    for i in range(33):
        digits = "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(6, 10)))
        prefix = ["", "", "A", "MR", "PT"][i % 5]
        context = contexts[i % len(contexts)]
        field = headers[i % len(headers)]
        templates = [
            ("code", f"const note = '{context} {prefix}{digits}';"),
            ("json", f'{{"{field}": "{prefix}{digits}"}}'),
            ("csv", f"{field},Status\n{prefix}{digits},seen"),
            ("text", f"See {context} {prefix}{digits} before the visit"),
        ]
        kind, content = templates[i % len(templates)]
        add(kind, content, "MRN")

    # MBI: block ------------------------------------------------------------------------------
    for i in range(14):
        mbi = _mbi(rng, dashes=i % 2 == 0)
        kind, content = [
            ("code", f"const beneficiary = '{mbi}';"),
            ("text", f"Medicare id {mbi} verified"),
            ("csv", f"plan,member\nmedicare,{mbi}"),
        ][i % 3]
        add(kind, content, "MBI")

    # credit cards: block ---------------------------------------------------------------------
    issuers = [
        ("4", 16),
        ("51", 16),
        ("55", 16),
        ("2223", 16),
        ("34", 15),
        ("37", 15),
        ("6011", 16),
        ("65", 16),
        ("36", 14),
        ("3530", 16),
        ("4", 13),
        ("305", 14),
    ]
    for i in range(24):
        prefix, length = issuers[i % len(issuers)]
        number = _luhn_complete(prefix, length, rng)
        if i % 3 == 1 and length == 16:
            number = " ".join(number[k : k + 4] for k in range(0, 16, 4))
        elif i % 3 == 2 and length == 16:
            number = "-".join(number[k : k + 4] for k in range(0, 16, 4))
        kind, content = [
            ("code", f"const card = '{number}';"),
            ("csv", f"payer,card\nself,{number}"),
            ("json", f'{{"payment": {{"card": "{number}"}}}}'),
        ][i % 3]
        add(kind, content, "CREDIT_CARD")

    # review: phones, e-mails, addresses, dates of birth ----------------------------------------
    for i in range(16):
        p = _phone(rng)
        shown = [
            f"({p[:3]}) {p[3:6]}-{p[6:]}",
            f"{p[:3]}-{p[3:6]}-{p[6:]}",
            f"{p[:3]}.{p[3:6]}.{p[6:]}",
            f"+1 {p[:3]} {p[3:6]} {p[6:]}",
        ][i % 4]
        add(
            ["code", "text", "csv"][i % 3] if i % 3 != 2 else "csv",
            f"contact,phone\nfront,{shown}" if i % 3 == 2 else f"Call back {shown} after 2pm",
            "PHONE",
        )
    for _ in range(4):
        p = _phone(rng)
        add("text", f"cell: {p}", "PHONE", note="bare 10 digits with phone context")
    for number in ("+44 20 7946 0958", "+49 30 901820", "+33 1 42 68 53 00"):
        add("text", f"overseas contact {number}", "PHONE")
    for i, (user, domain) in enumerate(
        [
            ("mquenneville", "gmail.com"),
            ("t.okafor", "yahoo.com"),
            ("rosa.p", "outlook.com"),
            ("jb1961", "aol.com"),
            ("d.marchetti", "icloud.com"),
            ("kwame.a", "hotmail.com"),
            ("lin.h", "comcast.net"),
            ("pat.r", "proton.me"),
        ]
    ):
        add(
            ["code", "json"][i % 2],
            f"MailApp.sendEmail('{user}@{domain}', 'Results', body);"
            if i % 2 == 0
            else f'{{"email": "{user}@{domain}"}}',
            "EMAIL",
        )
    for i, street in enumerate(
        [
            "1432 W Belmont Ave",
            "88 Orchard Lane",
            "2710 N Halsted St",
            "19 Old Mill Rd",
            "4401 Sheridan Blvd",
            "612 Maple Ct",
            "7 Willow Creek Dr",
            "350 E 5th Street",
        ]
    ):
        add(
            ["text", "csv"][i % 2],
            f"ship to {street}, Chicago" if i % 2 == 0 else f"addr,city\n{street},Evanston",
            "ADDRESS",
        )
    for i, date in enumerate(
        [
            "03/14/1961",
            "1958-07-02",
            "July 4, 1949",
            "12/01/77",
            "2 Feb 1990",
            "11-23-1984",
            "1972-10-30",
            "9/9/1999",
        ]
    ):
        add(
            ["text", "code", "csv", "json"][i % 4],
            [
                f"DOB: {date}",
                f"const dateOfBirth = '{date}';",
                f"patient,birthDate\nx,{date}",
                f'{{"dob": "{date}"}}',
            ][i % 4],
            "DOB",
        )

    # clean: provably synthetic ---------------------------------------------------------------
    for ssn in [
        "000-12-3456",
        "666-45-6789",
        "123-00-4567",
        "234-56-0000",
        "900-00-1234",
        "912-34-0000",
        "000000000",
        "666123456",
    ]:
        add("text", f"SSN {ssn}", note="never issued")
    for i in range(10):
        area = ["312", "773", "212", "415", "630"][i % 5]
        add("code", f"const phone = '({area}) 555-01{i:02d}';", note="555-01xx")
    for address in [
        "a@example.com",
        "b@example.org",
        "c@example.net",
        "d@clinic.test",
        "e@mail.example",
        "f@nowhere.invalid",
        "g@sub.example.com",
        "H@EXAMPLE.COM",
        "front-desk@practice.example",
        "ops@practice.example",
    ]:
        add("code", f"const to = '{address}';", note="reserved or allowlisted domain")
    for _ in range(8):
        add(
            "json",
            f'{{"mrn": "SYN-{rng.randint(100000, 99999999)}", "dob": "01/02/1980"}}',
            note="synthetic record",
        )
    for card in [
        "4111111111111111",
        "4242 4242 4242 4242",
        "5555-5555-5555-4444",
        "378282246310005",
        "6011111111111117",
        "30569309025904",
        "3530111333300000",
    ]:
        add("code", f"const testCard = '{card}';", note="published test card")
    for i in range(6):
        add(
            "csv",
            f"id,name,phone,dob\nSYN-{i:06d},Test Patient,(312) 794-22{i:02d},04/0{i + 1}/1970",
            note="synthetic record: review findings not reported",
        )

    # clean: tricky negatives -----------------------------------------------------------------
    tricky = [
        "const VERSION = '1.12.3';",
        "// build 2026.11.25.1442",
        "deployed 2026-11-25 09:00",
        "const RELEASED = '03/14/2026';",
        "var zip = '60614';",
        "zip+4: 60614-2210",
        "total = 1234.56;",
        "price: $2,499.00",
        "Utilities.sleep(300000);",
        "const MAX_ROWS = 5000000;",
        "range.offset(0, 3).setValue(new Date());",
        "const SPREADSHEET_ID = '1ZdfLYBhuQyE_o7_t8MeQ6ssi4WRMJO4nyHG3y4Ry_x3';",
        "const SCRIPT_ID = '1gORGpv6N_cQffQhg3BJ3NuSF6RLLxrTZawjPUD-nJV8xAEQr-17WGP3R';",
        "counter = 3127942281;",
        "orders: 4000123412341235",
        "timestamp 1764063219000",
        "invoice INV-2026-004512",
        "row 123456789 of the export",
        "ext. 5550143",
        "call 555-0143 inside",
        "// 7-digit 794-2281 without area code",
        "sheet.getRange('A2:F200')",
        "for (let i = 0; i < 1000000; i++) {}",
        "const COLOR = '#fce8e6';",
        "id: 'SYN-004512'",
        "npi: 1234567893",
        "Provider NPI 1467592884",
        "temperature 98.6 F at 14:30",
        "const RATIO = 0.7312;",
        "batch 2026-11-25T15:00:00Z",
        "[12, 34, 5678]",
        "lat 41.8781, lng -87.6298",
        "roomNumber: 1204",
        "floor 3 suite 300",
        "page 12 of 345",
        "Math.round(123.456789)",
        "const WEEK_MS = 604800000;",
        "ids = [1001, 1002, 1003]",
        "// see ticket 4412",
        "dose: 2.5 mg every 8 h",
        "steps 1-2-3 done",
        "ISO 8601: 2026-W48",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "hash a3f5c2e1b4d6",
        "The meeting is on Main Street",
        "Open 9-5 Monday",
        "Rd. closed for 2 days",
        "const TAB = 'Lab Results Follow-up';",
        "count 42 items",
        "ms 86400000",
        "serial SN-1234567",
        "lot #A4421",
        "version v2.10.14",
        "cusip 037833100",
        "port 8080",
        "const HOURS = [9, 17];",
        "isbn 978-3-16-148410-0",
    ]
    for i, line in enumerate(tricky):
        add(["code", "text"][i % 2], line, note="tricky negative")
    for i in range(30):
        add(
            "csv",
            f"date,count,amount\n2026-11-{(i % 28) + 1:02d},{rng.randint(1, 999)},"
            f"{rng.randint(1, 99999) / 100:.2f}",
            note="report rows",
        )
    for i in range(25):
        add(
            "json",
            f'{{"sheet": {i}, "updated": "2026-11-{(i % 28) + 1:02d}T10:00:00Z", '
            f'"rows": {rng.randint(10, 99999)}, "status": "ok"}}',
            note="status record",
        )
    return cases


# The production reference the corpus is scanned with (invented people): a date of birth in a
# new form beside the surname, a placeholder-looking value a real record holds, and the
# practice's own number in a record (the allowlist still wins).
PRODUCTION_HEADER = ["Name", "DOB", "SSN", "Phone", "MRN", "Member ID", "Last Visit"]
PRODUCTION_ROWS = [
    ["Odalys Brastead", "06/23/1951", "512-44-8107", "(773) 903-6621", "MR4471209", "", ""],
    [
        "Corwin Vellacott",
        "12/12/1944",
        "318-27-5530",
        "(555) 555-2368",
        "MR5582310",
        "ZQX44718820",
        "2026-10-02",
    ],
    ["Ilse Pembrook", "1938-02-09", "402-61-9914", "(312) 555-0100", "MR6693421", "", ""],
]


def build_second_pass() -> list[Case]:
    """The readings added where the first contract was thin (DESIGN.md "PHI rules"), each
    with cases on both sides of its line: found (review or block) and clean."""
    rng = random.Random(20261130)
    cases: list[Case] = []

    def add(rule: str, kind: str, content: str, *expected: str, allowed: bool = False) -> None:
        cases.append(Case(kind, content, frozenset(expected), rule=rule, allowed=allowed))

    def ssn() -> str:
        return "-".join(_issued_ssn(rng))

    # dates of birth in every written form (with DOB context) -------------------------------
    rule = "dob forms"
    forms = [
        "4/18/78",
        "1978-04-18",
        "1978/04/18",
        "18.04.1978",
        "1978-04-18T00:00:00Z",
        "1978-04-18 00:00:00",
        "1978-04-18T05:00:00.000-05:00",
        "March 7th, 1933",
        "Mar 7, 1933",
        "7 Mar 1933",
        "7th of March 1933",
        "09-Jul-1998",
        "09-Jul-98",
        "Sept. 3rd 1950",
        "3rd September, 1950",
        "12 December 1944",
    ]
    for i, date in enumerate(forms):
        add(
            rule,
            ["text", "code", "json", "csv"][i % 4],
            [
                f"DOB: {date}",
                f"const dateOfBirth = '{date}';",
                f'{{"birthDate": "{date}"}}',
                f'patient,Date of Birth\nx,"{date}"',
            ][i % 4],
            "DOB",
        )
    for content in [
        "Brastead DOB June 23rd, 1951",
        "Brastead, born 23.06.1951",
        "Brastead dob 1951-06-23T00:00:00Z",
        "23-Jun-1951 Brastead (DOB)",
        "Brastead 6/23/51 birthday card",
        "Vellacott born 12 December 1944",
        "Pembrook d.o.b. 9 Feb 1938",
    ]:
        add(rule, "text", content, "PRODUCTION_MATCH")
    add(rule, "csv", 'last,dob\nBrastead,"June 23, 1951"', "PRODUCTION_MATCH")
    for i, content in enumerate(
        [
            "deployed March 7th, 2026",
            "updated 2026-11-25T10:00:00Z",
            "release 09-Jul-2026",
            "Invoice date 7 Mar 2026",
            "cutoff 1978/04/18 for the archive",
            "build 18.04.2026.3",
            "DOB: 13/45/1999",
            "dob field format is MM/DD/YYYY",
            "born: see intake form 2026",
            "2026-11-30 09:00 nightly job",
        ]
    ):
        add(rule, ["text", "code"][i % 2], content)

    # a month with its year alone -----------------------------------------------------------
    rule = "month and year"
    for i, content in enumerate(
        [
            "born March 1961",
            "DOB: Mar. 1961",
            "birth month/year 03/1961",
            '{"dob": "1961-03"}',
            "b-day Sept 1949",
            "born in April, 1958 in Ohio",
            "const birthMonth = 'November 1970';",
            "bday 11/1970",
        ]
    ):
        add(rule, ["text", "code", "json"][i % 3] if content[0] != "{" else "json", content, "DOB")
    for i, content in enumerate(
        [
            "released March 2026",
            "FY 2024-03 report",
            "03/2026 invoices",
            "Since May 1998 the clinic has",
            "born in 1961",
            "DOB year 1961",
            "birth cohort 1950-1959",
            "DOB column added 2026-13",
        ]
    ):
        add(rule, ["text", "code"][i % 2], content)

    # the shorthand of clinical notes as context ----------------------------------------------
    rule = "context shorthand"
    phones = [_phone(rng) for _ in range(6)]
    for i, content in enumerate(
        [
            "bday 4/18/78",
            "b-day: 1978-04-18",
            "birthdate 18.04.1978",
            "d.o.b. 3/14/61",
            f"cb {phones[0]}",
            f"call back {phones[1]} after 3",
            f"ph: {phones[2]}",
            f"contact {phones[3]}",
            f"pt cb # {phones[4]}",
            f"ptContact = '{phones[5]}';",
        ]
    ):
        add(rule, ["text", "code"][i % 2], content, "DOB" if i < 4 else "PHONE")
    add(rule, "csv", f"name,cb #\nx,{_phone(rng)}", "PHONE")
    add(rule, "csv", "name,Bday\nx,4/18/78", "DOB")
    nine = "".join(_issued_ssn(rng))
    for i, content in enumerate(
        [
            "pt id 12345678",
            "pt# 00482913",
            "Pt #: A1234567",
            "chart no 7781234",
            "acct 55123456",
            "acct# 99012345",
            "Account No. 44012398",
            f"soc sec {nine}",
            f"ss no {nine}",
            f"ss no. {''.join(_issued_ssn(rng))}",
            "const ptId = 'MR0048213';",
            "var acctNo = '7712345601';",
        ]
    ):
        add(rule, ["text", "code"][i % 2], content, "SSN" if "s" in content[:2] else "MRN")
    add(rule, "csv", "Pt ID,status\n00912377,seen", "MRN")
    add(rule, "json", '{"acct": "A5512309"}', "MRN")
    for i, content in enumerate(
        [
            "cb(null, 42);",
            "callback(result, 3)",
            "ph 7.4 at 14:30",
            "acct balance $1,234.50",
            "pt id pending",
            "contact 555-0143",
            "cb 3125550142",
            "ss no. on file",
            "cbc 3127942281",
            "soc sec number pending",
            "bday party 3pm",
            "acct 1234",
            f"TINY {''.join(_issued_ssn(rng))}",
            "ACCTS 1234567",
            f"CBC {_phone(rng)}",
            "acctBalanceCents = 125000;",
            "if (acct.total > 250000) {",
            "const PT_NO_LIMIT = 1000000;",
            "var dobCol = 3, started = '1978-04-18';",
            "// Patient ID (max 1234567)",
        ]
    ):
        add(rule, ["code", "text"][i % 2], content)

    # context written after the value ---------------------------------------------------------
    rule = "context after"
    for i, content in enumerate(
        [
            f"{_phone(rng)} (cell)",
            f"{_phone(rng)} cb",
            "4/18/78 (DOB)",
            "March 7th, 1933 - her birthday",
            "1978-04-18 = birth date",
            "W123456789 member id",
            f"'{_phone(rng)}' // mobile",
            "7 Mar 1933 born",
        ]
    ):
        expected = "DOB" if i in (2, 3, 4, 7) else "MEMBER_ID" if i == 5 else "PHONE"
        add(rule, ["text", "code"][i % 2], content, expected)
    for i, content in enumerate(
        [
            f"{''.join(_issued_ssn(rng))} (SSN)",
            "12345678 MRN",
            "A1234567 is the chart #",
            f"{''.join(_issued_ssn(rng))} ss#",
            f'{{"value": "{"".join(_issued_ssn(rng))}", "type": "ssn"}}',
            "MR0091234 (pt id)",
            f"const x = '{''.join(_issued_ssn(rng))}'; // soc sec",
            "00512093 acct",
        ]
    ):
        expected = "SSN" if i in (0, 3, 4, 6) else "MRN"
        add(rule, "json" if content[0] == "{" else ["text", "code"][i % 2], content, expected)
    nine = "".join(_issued_ssn(rng))
    add(rule, "csv", f"field,value\nSSN,{nine}", "SSN")  # a key/value sheet: the cell beside
    add(rule, "csv", f"a,b\n{_phone(rng)},cell", "PHONE")
    add(rule, "json", f'{{"ssn": {{"value": "{nine}"}}}}', "SSN")  # the key of the parent
    add(rule, "json", '{"dob": {"value": "4/18/78"}}', "DOB")
    for i, content in enumerate(
        [
            f"{_phone(rng)} was dialed by the desk, not the cell",
            f"{''.join(_issued_ssn(rng))} is the claim number in the batch; ssn pending",
            "12345678 rows exported to the archive (mrn column empty)",
            "4/18/78 was the date the wing opened, not a birth",
            "W123456789 is a work order; the member field is blank",
            "2026-11-25 deploy of the intake form; its dob column untouched",
            "2026-11-24 00:00 - the nightly export; birthday list disabled",
            "88123456 tickets closed this year by the acct team",
        ]
    ):
        add(rule, ["text", "code"][i % 2], content)

    # insurance member ids --------------------------------------------------------------------
    rule = "member id"
    for i, content in enumerate(
        [
            "Member ID: W123456789",
            "member # XKJ884471203",
            "Subscriber ID 884471203",
            "policy no. AB12345678",
            "Insurance: Aetna W123456789",
            "const insuranceId = 'U12345678';",
            "Policy Number: 4471-2093-88",
            "ins id H88412093",
            "Member: 00912377812",
            "subscriber K4471209",
        ]
    ):
        add(rule, ["text", "code"][i % 2], content, "MEMBER_ID")
    add(rule, "csv", "name,Member ID\nx,ZGP448812093", "MEMBER_ID")
    add(rule, "json", '{"subscriberId": "H88412093"}', "MEMBER_ID")
    add(rule, "text", f"member id {ssn()}", "SSN")
    add(rule, "text", f"Medicare member {_mbi(rng, dashes=True)}", "MBI")
    add(rule, "csv", f"plan,Subscriber ID\nmedicare,{_mbi(rng, dashes=False)}", "MBI")
    add(rule, "text", f"policy holder SSN {ssn()}", "SSN")
    add(rule, "text", "member id ZQX44718820", "PRODUCTION_MATCH")  # a production member's
    add(rule, "code", "const id = 'zqx-44718820';", "PRODUCTION_MATCH")
    for i, content in enumerate(
        [
            "member id SYN-A12345678",
            "Member: SYN-K00012345",
            "member since 2019",
            "policy effective 2026-01-01",
            "retentionPolicy = 'days30';",
            "insurance pending",
            "members.length > 100000",
            "policy v2 rev 3",
            "Subscriber: self-pay",
            "insurance 2026-11-30T10:00:00Z",
            "memberCount = 123456;",
            "subscriberCount: 100000,",
            "policyVersion = 20240307;",
        ]
    ):
        add(rule, ["text", "code"][i % 2], content)

    # values split across string literals in code ---------------------------------------------
    rule = "joined literals"
    area, group, serial = _issued_ssn(rng)
    card = _luhn_complete("4", 16, rng)
    mbi = _mbi(rng, dashes=True)
    for content, expected in [
        (f"const s = '{area}-' + '{group}-{serial}';", "SSN"),
        (f'var s = "{area}" + "-{group}-{serial}";', "SSN"),
        (f"const s = `{area}-{group}-` + '{serial}';", "SSN"),
        (f"const note = 'SSN {area}-{group}-' +\n    '{serial}';", "SSN"),
        (f"var ssn = '{area}' + '{group}{serial}';", "SSN"),
        ("const id = 'MRN 1234' + '5678';", "MRN"),
        (f"const c = '{card[:8]}' + '{card[8:]}';", "CREDIT_CARD"),
        (f"const b = '{mbi[:5]}' + '{mbi[5:]}';", "MBI"),
        (f"log('ITIN ' + '9{area[1:]}-{group}' + '-{serial}');", "ITIN"),
        (f"const s = '{area}' + '-' + '{group}' + '-' + '{serial}';", "SSN"),
    ]:
        add(rule, "code", content, expected)
    p = _phone(rng)
    for content, expected in [
        (f"const p = '({p[:3]}) {p[3:6]}-' + '{p[6:]}';", "PHONE"),
        ("const to = 'm.quenneville' + '@gmail.com';", "EMAIL"),
        ("const d = 'DOB: 4/18/' + '78';", "DOB"),
        ("const a = '1432 W Belmont ' + 'Ave';", "ADDRESS"),
        (f"const p = `{p[:3]}.{p[3:6]}.` + `{p[6:]}`;", "PHONE"),
        ("html += '<td>PO Box ' + '4410</td>';", "ADDRESS"),
    ]:
        add(rule, "code", content, expected)
    for content in [
        "const t = '555-01' + '23';",
        "const v = 'v1.' + '12.3';",
        "const s = '000-12-' + '3456';",
        "const s = '123-45-' + '6789';",
        "const to = 'a@exam' + 'ple.com';",
        "const msg = 'Total: ' + count + ' rows';",
        "const id = 'SYN-' + '00012345';",
        "const range = 'A' + '2:F' + '200';",
        "const t = `${area}-17-` + '0749';",
        "const url = 'https://script.google.com/' + 'macros/s/' + '12345/exec';",
    ]:
        add(rule, "code", content)

    # dash and space variants as separators ---------------------------------------------------
    rule = "separators"
    card = _luhn_complete("53", 16, rng)
    for content, expected in [
        ("SSN {}\u2013{}\u2013{}".format(*_issued_ssn(rng)), "SSN"),
        ("SSN {}\u2014{}\u2014{}".format(*_issued_ssn(rng)), "SSN"),
        ("SSN {}\u00a0{}\u00a0{}".format(*_issued_ssn(rng)), "SSN"),
        ("SSN {}\u2009{}\u2009{}".format(*_issued_ssn(rng)), "SSN"),
        ("soc sec {}\u202f{}\u202f{}".format(*_issued_ssn(rng)), "SSN"),
        ("card " + "\u2013".join(card[k : k + 4] for k in range(0, 16, 4)), "CREDIT_CARD"),
        ("card " + "\u00a0".join(card[k : k + 4] for k in range(0, 16, 4)), "CREDIT_CARD"),
        ("Medicare " + _mbi(rng, dashes=True).replace("-", "\u2013"), "MBI"),
    ]:
        add(rule, "text", content, expected)
    for template in [
        "{}\u2013{}\u2013{}",
        "({})\u00a0{}\u2013{}",
        "{}\u2009{}\u2009{}",
        "+1\u2009{}\u2009{}\u2009{}",
        "{}\u2014{}\u2014{}",
        "({}) {}\u2011{}",
    ]:
        p = _phone(rng)
        add(rule, "text", "call " + template.format(p[:3], p[3:6], p[6:]), "PHONE")
    for content in [
        "SSN 000\u201312\u20133456",
        "call 312\u2013555\u20130142",
        "test card 4111\u20131111\u20131111\u20131111",
        "pages 12\u201334",
        "open 1998\u20132004",
        "SSN 142\u201317 0749",
    ]:
        add(rule, "text", content)
    for content in [  # dots separate an SSN's groups, never a card's: floats stay clean
        "var e = 2.718281828459045;",
        "var r = 2.449489742783178;",
        "const PI = 3.141592653589793;",
    ]:
        add(rule, "code", content)

    # PO Boxes --------------------------------------------------------------------------------
    rule = "po box"
    for i, content in enumerate(
        [
            "PO Box 1234, Springfield",
            "P.O. Box 77",
            "P. O. Box 4410",
            "mail to po box 9",
            "Post Office Box 2210",
            "PO Box #318",
            "const mailing = 'POBox 5121';",
        ]
    ):
        add(rule, ["text", "code"][i % 2], content, "ADDRESS")
    add(rule, "csv", 'name,address\nx,"PO Box 512, Evanston IL"', "ADDRESS")
    add(rule, "json", '{"mailing": "P.O. Box 4410"}', "ADDRESS")
    for i, content in enumerate(
        [
            "inbox 1234 unread",
            "Box 12 of 40 shipped",
            "checkbox 3 ticked",
            "dropbox 2024 archive",
            "PO 12345 approved",
            "the PO Box field is blank",
        ]
    ):
        add(rule, ["text", "code"][i % 2], content)

    # placeholders publicly known never to be real ------------------------------------------
    rule = "placeholders"
    for content in [
        "SSN 123-45-6789",
        "ssn: 078-05-1120",
        '{"ssn": "123456789"}',
        "MBI 1EG4-TE5-MK73",
        "Medicare id 1EG4TE5MK73",
        "phone (555) 555-5555",
        "cell 555-555-1234",
        "+1 555 123 4567",
        "contact,phone\nx,555-867-5309",
        "SSN 078 05 1120",
    ]:
        kind = "json" if content[0] == "{" else "csv" if "\n" in content else "text"
        add(rule, kind, content)
    add(rule, "text", "call (555) 555-2368 re: results", "PRODUCTION_MATCH")
    add(rule, "text", "Vellacott cb 5555552368", "PRODUCTION_MATCH")
    add(rule, "text", "front desk (312) 555-0100")  # a patient's too, but the allowlist wins
    add(rule, "text", "SSN 123-45-6780", "SSN")
    add(rule, "text", "call (312) 555-5555", "PHONE")
    add(rule, "text", "call 212-555-1234", "PHONE")

    # inline allows ---------------------------------------------------------------------------
    rule = "inline allow"
    p = _phone(rng)
    shown = f"({p[:3]}) {p[3:6]}-{p[6:]}"
    for kind, content in [
        ("code", f"const fax = '{shown}'; // sheetstage: allow-phi the clinic's fax"),
        ("code", f"<p>Fax {shown}</p> <!-- sheetstage: allow-phi clinic fax -->"),
        ("text", f"Fax {shown} sheetstage: allow-phi practice fax, public"),
        ("code", f"/* sheetstage: allow-phi vendor line */ const v = '{shown}';"),
        ("code", "const d = 'DOB 4/18/78'; // sheetstage: allow-phi sample in docs"),
        ("text", "Member ID W123456789 -- sheetstage: allow-phi payer sample id"),
    ]:
        add(rule, kind, content, allowed=True)
    for kind, content in [
        ("code", f"const fax = '{shown}'; // sheetstage: allow-phi"),
        ("code", f"<p>{shown}</p> <!-- sheetstage: allow-phi -->"),
        ("code", f"// sheetstage: allow-phi the fax\nconst fax = '{shown}';"),
    ]:
        add(rule, kind, content, "PHONE")
    for content in [
        f"const s = '{ssn()}'; // sheetstage: allow-phi test value",
        f"const c = '{_luhn_complete('4', 16, rng)}'; // sheetstage: allow-phi demo",
        "const m = 'MRN 00123456'; // sheetstage: allow-phi example",
    ]:
        add(
            rule,
            "code",
            content,
            "SSN" if "s =" in content else "CREDIT_CARD" if "c =" in content else "MRN",
        )

    # the synthetic-record rule, record by innermost record -----------------------------------
    rule = "synthetic records"
    phone = "(773) 268-4410"
    for content in [
        f'{{"id": "SYN-000123", "contact": {{"phone": "{phone}"}}}}',  # the child has no id
        f'{{"phone": "{phone}", "meta": {{"id": "SYN-000124"}}}}',  # only the child has one
        '{"patients": [{"id": "SYN-1", "dob": "4/18/78"}, {"dob": "5/19/79"}]}',
    ]:
        add(rule, "json", content, "DOB" if "dob" in content else "PHONE")
    add(rule, "code", f"var p = '{phone}'; // see ASYN-2", "PHONE")  # no id: a word's end
    add(rule, "json", f'{{"id": "SYN-000125", "ssn": "{ssn()}"}}', "SSN")  # block stays
    for content in [
        f'{{"id": "SYN-000123", "phone": "{phone}"}}',
        f'{{"id": "SYN-1", "contact": {{"id": "SYN-2", "phone": "{phone}"}}}}',
        f"SYN-000126,Test Patient,{phone}",
        f"const row = ['SYN-000127', '{phone}'];",
    ]:
        add(rule, "json" if content.startswith("{") else "code", content)

    # file and folder names, scanned like a line ----------------------------------------------
    rule = "file names"
    for content, expected in [
        ("notes/bday 4.18.78.gs", "DOB"),
        ("Okafor born March 1961/Code.gs", "DOB"),
        (f"cb {_phone(rng)}.html", "PHONE"),
        ("PO Box 4410 labels.gs", "ADDRESS"),
        (f"ss no {''.join(_issued_ssn(rng))}.gs", "SSN"),
        ("pt# 12345678/Code.gs", "MRN"),
        ("{}–{}–{}.gs".format(*_issued_ssn(rng)), "SSN"),
        ("Brastead 1951-06-23.gs", "PRODUCTION_MATCH"),
        ("exports/patient_{}-{}-{}.csv".format(*_issued_ssn(rng)), "SSN"),
        (f"ssn-{''.join(_issued_ssn(rng))}.txt", "SSN"),
        ("mrn_4471209/notes.txt", "MRN"),
        ("dob_1978-04-18.json", "DOB"),
        (f"fax_{_phone(rng)[:3]}-268-4410.pdf", "PHONE"),
    ]:
        add(rule, "name", content, expected)
    for content in [
        "report 2026-11-25.gs",
        "sheet-064_DEV3/Code.gs",
        "lib/callback.gs",
        "member-list-v2.html",
        "SSN 123-45-6789 sample.gs",
        "appsscript.json",
    ]:
        add(rule, "name", content)
    return cases


CASES = build() + build_second_pass()


def corpus_scanner() -> Scanner:
    """The project's config.toml (its allowlist holds the practice's own number) and the
    production reference as the offline cache holds it: digests, no names."""
    key = b"corpus-key"
    reference = ReferenceSet(key)
    reference.add_table(PRODUCTION_HEADER, PRODUCTION_ROWS)
    reference.patients = []
    config = load_config_file(Path(__file__).resolve().parents[1] / "config.toml")
    return Scanner(config.phi, key, reference)


def findings(scanner: Scanner, case: Case) -> list[Finding]:
    if case.kind == "name":
        return scanner.scan_name(case.content)[1]
    kind = {"code": "text", "text": "text", "csv": "csv", "json": "json"}[case.kind]
    return scanner.scan_text(case.content, f"case.{case.kind}", kind)


def verdict(scanner: Scanner, case: Case) -> bool:
    """A clean case reports nothing open (an allowed one reports its finding acknowledged); a
    found case reports an open finding of an expected type at its severity, and a review case
    nothing that blocks."""
    found = findings(scanner, case)
    open_findings = [f for f in found if not f.acknowledged]
    if case.severity == "clean":
        return not open_findings and (not case.allowed or any(f.allowed_inline for f in found))
    wanted = Severity.BLOCK if case.severity == "block" else Severity.REVIEW
    if wanted is Severity.REVIEW and any(f.severity is Severity.BLOCK for f in open_findings):
        return False
    return any(f.severity is wanted and str(f.type) in case.expected for f in open_findings)


@dataclass
class RuleRow:
    found: int = 0  # review and block cases reported as labelled
    should_find: int = 0
    clean: int = 0
    clean_flagged: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.should_find if self.should_find else 1.0


@dataclass
class RuleTable:
    rows: dict[str, RuleRow] = field(default_factory=dict)

    @property
    def clean_false_positive_rate(self) -> float:
        clean = sum(r.clean for r in self.rows.values())
        return sum(r.clean_flagged for r in self.rows.values()) / clean if clean else 0.0

    def lines(self) -> list[str]:
        out = [f"{'rule':<18} {'recall':>14} {'clean flagged':>14}"]
        for rule, row in self.rows.items():
            recall = f"{row.recall:.3f} ({row.found}/{row.should_find})"
            out.append(f"{rule:<18} {recall:>14} {row.clean_flagged:>6}/{row.clean:<7}")
        out.append(f"clean false-positive rate {self.clean_false_positive_rate:.3%}")
        return out


def rule_table(scanner: Scanner) -> RuleTable:
    table = RuleTable()
    for case in CASES:
        row = table.rows.setdefault(case.rule, RuleRow())
        right = verdict(scanner, case)
        if case.severity == "clean":
            row.clean += 1
            row.clean_flagged += not right
        else:
            row.should_find += 1
            row.found += right
    return table


if __name__ == "__main__":
    print("\n".join(rule_table(corpus_scanner()).lines()))
