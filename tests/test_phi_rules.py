"""The PHI readings added where the first contract was thin, beyond the corpus: words a
practice adds in config, where a value split across literals is reported, and a minified line
of a megabyte scanned in time linear in its length."""

from __future__ import annotations

import dataclasses

from services.phi import Hit, Scanner
from sheetstage_tui.config import PhiConfig

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
