"""A labelled corpus for the PHI scanner: code lines, CSV rows and JSON records.

Every value is invented (random digits from a fixed seed, made-up names and streets); the
"real-looking" ones only look real so the scanner has something to find. Labels follow
DESIGN.md's PHI rules: `expected` is the set of finding types that must be reported (empty:
the case is clean and must report nothing).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    kind: str  # "code", "csv", "json", "text"
    content: str
    expected: frozenset[str]
    note: str = ""

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


CASES = build()
