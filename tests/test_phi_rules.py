"""The PHI readings added where the first contract was thin, beyond the corpus: words a
practice adds in config, where a value split across literals is reported, and a minified line
of a megabyte scanned in time linear in its length."""

from __future__ import annotations

import dataclasses

from services.config import PhiConfig
from services.phi import Hit, Scanner

KEY = b"rules-key"


def scanner(**settings: tuple[str, ...]) -> Scanner:
    return Scanner(dataclasses.replace(PhiConfig(), **settings), KEY)


def found(scanner: Scanner, text: str) -> list[tuple[str, int, int]]:
    return [(str(f.type), f.line, f.column) for f in scanner.scan_text(text, "Code.gs")]


def test_config_adds_context_words_to_the_defaults() -> None:
    lines = "geb 4/18/78\nnr 48213377\nDOB 4/18/78\nkasse AOK-44718812"
    assert found(scanner(), lines) == [("DOB", 3, 5)]
    added = scanner(dob_context=("geb",), mrn_context=("nr",), member_context=("kasse",))
    assert found(added, lines) == [("DOB", 1, 5), ("MRN", 2, 4), ("DOB", 3, 5), ("MEMBER_ID", 4, 7)]


def test_a_value_split_across_literals_is_reported_where_it_begins() -> None:
    source = (
        "function f() {\n"
        "  const a = 'ok', s = 'caller ' + 'SSN 523-' +\n"
        "      '71-4086';\n"
        "  const b = `(773) 268-` + '4410';\n"
        "}\n"
    )
    # the SSN begins inside the second literal of line 2, the phone in line 4's first
    assert found(scanner(), source) == [("SSN", 2, 40), ("PHONE", 4, 14)]
    masked = [f.excerpt for f in scanner().scan_text(source, "Code.gs")]
    assert masked == ["***-**-4086", "(***) ***-4410"]


def test_an_inline_allow_covers_its_own_line_of_a_joined_value() -> None:
    source = "const fax = '(773) 268-' + '4410'; // sheetstage: allow-phi the clinic fax\n"
    (finding,) = scanner().scan_text(source, "Code.gs")
    assert finding.acknowledged and finding.reason == "the clinic fax"


class CountingScanner(Scanner):
    """Counts the characters the detectors are handed: linear work shows as a constant
    multiple of the input, whatever the machine's speed."""

    handed = 0

    def hits(self, text: str, *args: object, **kwargs: object) -> list[Hit]:
        CountingScanner.handed += len(text)
        return super().hits(text, *args, **kwargs)  # type: ignore[arg-type]


def test_a_megabyte_minified_line_is_scanned_in_linear_work() -> None:
    chunk = "function q(a){return a.map(function(b){return'k'+'v'+b+'x'+'-'+'y'})};var n=1;"
    for size in (100_000, 1_000_000):
        filler = chunk * (size // len(chunk))
        line = "var s='523-'+'71-4086';" + filler + "var p='(773) 268-'+'4410';"
        CountingScanner.handed = 0
        findings = CountingScanner(PhiConfig(), KEY).scan_text(line, "lib.min.js")
        assert [(str(f.type), f.line, f.column) for f in findings] == [
            ("SSN", 1, 8),
            ("PHONE", 1, len(line) - len("(773) 268-'+'4410';") + 1),
        ]
        assert CountingScanner.handed <= 3 * len(line), (size, CountingScanner.handed)


def test_an_inline_allow_reason_is_masked_and_covers_only_its_own_line() -> None:
    source = (
        "var p = '(773) 268-4410', s = '1' +\n"
        "  '2'; // sheetstage: allow-phi front desk, ssn 523-71-4086\n"
        "var q = '(773) 268-4411'; // sheetstage: allow-phi the desk 773-268-4411 -->\n"
    )
    findings = {(f.line, f.column): f for f in scanner().scan_text(source, "Code.gs")}
    assert not findings[1, 10].acknowledged  # line 2's allow does not reach line 1's phone
    assert findings[2, 49].type == "SSN"  # a value in the reason is a finding of its own
    allowed = findings[3, 10]
    assert allowed.acknowledged and allowed.reason == "the desk ***-***-4411"


def test_files_masked_alike_keep_ids_of_their_own() -> None:
    names = ("notes/bday 4.18.78.gs", "notes/bday 5.19.79.gs")
    results = [scanner().scan_bytes(b"call (773) 268-4410\n", name) for name in names]
    phones = [next(f for f in r.findings if f.type == "PHONE") for r in results]
    assert phones[0].path == phones[1].path == "notes/**** *.**.**.gs"
    assert phones[0].id != phones[1].id  # acknowledging one never acknowledges the other


def test_one_scanner_reports_the_same_content_under_each_name() -> None:
    """A scanner reads clean content once for all names (a staging copy, a copied library);
    content with findings is reported under each name, with ids of its own."""
    gate = scanner()
    leak = b"var ssn = '523-71-4086';\n"
    first, second = (gate.scan_bytes(leak, name).findings for name in ("a/Code.gs", "b/Code.gs"))
    assert [(f.path, f.type) for f in first] == [("a/Code.gs", "SSN")]
    assert [(f.path, f.type) for f in second] == [("b/Code.gs", "SSN")]
    assert first[0].id != second[0].id
    clean = b"var total = 1;\n"
    assert gate.scan_bytes(clean, "a/Lib.gs").findings == []
    named = gate.scan_bytes(clean, "notes/ssn 523-71-4086.gs").findings
    assert [(f.line, f.type) for f in named] == [(0, "SSN")]  # its name is still read


def test_lines_are_numbered_as_editors_number_them() -> None:
    assert found(scanner(), "a\u2028b\fc\r\nSSN 523-71-4086\n") == [("SSN", 2, 5)]


def test_a_line_of_thousands_of_identifiers_finds_each_once() -> None:
    line = " ".join(f"(773) 268-{n:04d}" for n in range(1000, 4000))
    assert len(scanner().scan_text(line, "export.txt")) == 3000


def test_config_words_name_production_columns_too() -> None:
    from services.reference import ReferenceSet

    settings = dataclasses.replace(PhiConfig(), mrn_context=("kdnr",))
    reference = ReferenceSet(KEY)
    reference.add_table(["Name", "Kdnr"], [["Ann Lee", "4471209"]], settings)
    assert reference.has("mrn", "4471209")
    assert Scanner(settings, KEY, reference).scan_text("x 4471209", "a.gs")[0].type == (
        "PRODUCTION_MATCH"
    )


def test_a_synthetic_id_is_one_value_and_a_word_before_an_mrn_is_no_prefix() -> None:
    from services.reference import ReferenceSet

    reference = ReferenceSet(KEY)
    reference.add_table(["Name", "MRN"], [["Ann Lee", "44986454"]])
    production = Scanner(PhiConfig(), KEY, reference)
    assert production.scan_text("member SYN-M44986454", "a.csv", "csv") == []
    (finding,) = production.scan_text("const mrn = 'MRN 44986454';", "a.gs")
    assert (finding.type, finding.column, finding.excerpt) == ("PRODUCTION_MATCH", 18, "*****454")
