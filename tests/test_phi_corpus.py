"""The scanner against the labelled corpus (tests/phi_corpus.py), rule by rule: each reading
added where the first contract was thin must find every case it should (recall 1.0) and flag
no clean case; the first contract's cases keep their verdicts. The per-rule table is printed
(`pytest -s tests/test_phi_corpus.py`, or `python -m tests.phi_corpus`)."""

from __future__ import annotations

import pytest

from services.phi import Scanner
from tests.phi_corpus import CASES, corpus_scanner, rule_table, verdict

FIRST = "first contract"
# the one first-contract case the scanner never found: an unquoted comma splits the CSV cell
# ("July 4, 1949" becomes "July 4" and " 1949"), so it is no date; kept as it was labelled
KNOWN_MISSES = {"patient,birthDate\nx,July 4, 1949"}


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return corpus_scanner()


def test_corpus_is_big_enough_and_labelled() -> None:
    first = [c for c in CASES if c.rule == FIRST]
    second = [c for c in CASES if c.rule != FIRST]
    assert len(first) == 331 and len(second) >= 150
    for rule in {c.rule for c in second}:
        severities = {c.severity for c in second if c.rule == rule}
        assert "clean" in severities and severities - {"clean"}, rule


def test_every_rule_finds_all_it_should_and_no_clean_case_is_flagged(scanner: Scanner) -> None:
    table = rule_table(scanner)
    print("\n" + "\n".join(table.lines()))
    wrong = [(c.rule, c.severity, c.content) for c in CASES if not verdict(scanner, c)]
    assert {content for _, _, content in wrong} == KNOWN_MISSES, (table.lines(), wrong)
    for rule, row in table.rows.items():
        assert row.clean_flagged == 0, rule
        if rule != FIRST:
            assert row.recall == 1.0, rule
    assert table.clean_false_positive_rate == 0.0
