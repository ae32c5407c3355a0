"""The scanner against the labelled corpus: recall on block cases >= 0.98 and a false-positive
rate on clean cases under 2% (both printed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.phi import Scanner, Severity
from sheetstage_tui.config import load_config_file
from tests.phi_corpus import CASES, Case

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(load_config_file(ROOT / "config.toml").phi, b"corpus-key")


def scan(scanner: Scanner, case: Case):  # type: ignore[no-untyped-def]
    kind = {"code": "text", "text": "text", "csv": "csv", "json": "json"}[case.kind]
    return [
        f for f in scanner.scan_text(case.content, f"case.{case.kind}", kind) if not f.acknowledged
    ]


def test_corpus_is_big_enough_and_labelled() -> None:
    assert len(CASES) >= 300
    severities = {c.severity for c in CASES}
    assert severities == {"block", "review", "clean"}


def test_recall_on_block_cases_and_false_positives_on_clean_cases(scanner: Scanner) -> None:
    block = [c for c in CASES if c.severity == "block"]
    clean = [c for c in CASES if c.severity == "clean"]
    missed = [
        c
        for c in block
        if not any(
            f.severity is Severity.BLOCK and str(f.type) in c.expected for f in scan(scanner, c)
        )
    ]
    false_alarms = [(c, scan(scanner, c)) for c in clean if scan(scanner, c)]
    recall = 1 - len(missed) / len(block)
    fp_rate = len(false_alarms) / len(clean)
    print(
        f"\nPHI corpus: {len(CASES)} cases; block recall {recall:.3f} "
        f"({len(block) - len(missed)}/{len(block)}); clean false-positive rate "
        f"{fp_rate:.3%} ({len(false_alarms)}/{len(clean)})"
    )
    assert recall >= 0.98, [c.content for c in missed]
    assert fp_rate < 0.02, [
        (c.content, [(f.type, f.excerpt) for f in fs]) for c, fs in false_alarms
    ]


def test_review_cases_are_found_with_their_type(scanner: Scanner) -> None:
    review = [c for c in CASES if c.severity == "review"]
    missed = [
        c.content for c in review if not any(str(f.type) in c.expected for f in scan(scanner, c))
    ]
    assert len(missed) <= len(review) * 0.05, missed
