"""`metrics`: the seed's five metrics from a trail of known events over several weeks, written
line by line into the demo workspace's real trail files and read back through `audit.verify`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from services import audit
from services.access import render_roles
from services.chain import GENESIS, complete_lines, line_hash
from services.errors import UsageError
from services.metrics import MetricsReport, for_session, parse_since, sparkline
from services.session import session
from services.workspace import Workspace, current_user
from tests.conftest import Demo

ME = current_user()  # a practice manager
NOW = datetime(2024, 6, 5, 12, 0, tzinfo=UTC)  # a Wednesday; the demo's own lines come later
# the twelve ISO weeks ending with NOW's: W[0] is 2024-03-18, W[11] is 2024-06-03
W = [date.fromordinal(date(2024, 3, 18).toordinal() + 7 * i) for i in range(12)]

# time, person, action, result, hashes, detail
Line = tuple[str, str, str, str, dict[str, str], str]


def at(week: int, day: int = 0, hour: int = 10) -> str:
    """A UTC time in week `week` of the window, `day` days after its Monday."""
    moment = datetime.fromordinal(W[week].toordinal() + day).replace(hour=hour)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def append(workspace: Workspace, lines: list[Line]) -> None:
    """Each line appended to its person's trail as sheetstage writes it (render_line, chained
    to the file's last line), with the given time instead of now."""
    for when, person, action, result, hashes, detail in lines:
        path = workspace.trail_path(person)
        existing, _ = complete_lines(path.read_bytes() if path.exists() else b"")
        prev = line_hash(existing[-1]) if existing else GENESIS
        raw = audit.render_line(
            len(existing) + 1, prev, person, action, [7], hashes, result, detail
        )
        record = json.loads(raw)
        record["time"] = when
        raw = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
        path.write_bytes(b"".join(line + b"\n" for line in [*existing, raw]))
        path.chmod(0o644)


def snapshot(when: str, checked: int, failed: int) -> Line:
    hashes = {"run": "batch", "checked": str(checked), "failed": str(failed)}
    return (when, "svc", "snapshot", "failed" if failed else "ok", hashes, "")


def validate(when: str, review: str, block: str = "") -> Line:
    return (when, "dana", "validate", "ok", {"review": review, "block": block}, "")


def ack(when: str, person: str, action: str, finding: str) -> Line:
    return (when, person, action, "ok", {"finding": finding}, "not patient data")


EDIT = "production sheet 007 edited outside sheetstage by someone at 2024-04-10 04:00 CDT"

KNOWN: list[Line] = [
    # snapshot success: 1877 of 1880 projects; one older line says it in its detail only
    snapshot(at(2), 470, 0),
    snapshot(at(3), 470, 2),
    (
        at(5),
        "svc",
        "snapshot",
        "failed",
        {},
        "production: 235 checked, 12 fetched, 0 changed, 1 failed; "
        "staging: 235 checked, 3 fetched, 1 changed, 0 failed",
    ),
    snapshot(at(11, 1), 470, 0),
    # deploys: six ok (a stopped one and a developer's "deploy" do not count)
    (at(2), ME, "deploy", "ok", {}, ""),
    (at(2, 2), ME, "deploy", "ok", {}, ""),
    (at(3), ME, "deploy", "ok", {}, ""),
    (at(3, 1), ME, "deploy", "stopped", {}, "stopped at check"),
    (at(4), "dana", "deploy", "ok", {}, "a developer's own line proves nothing"),
    (at(6, 1), ME, "deploy", "ok", {}, ""),
    (at(8), "svc", "deploy", "ok", {}, "approved content, deployed by the scheduled job"),
    (at(11, 1), ME, "deploy", "ok", {}, ""),
    # rollbacks: three (a failed one, a staging one and a developer's do not count)
    (at(6), ME, "rollback", "ok", {}, ""),
    (at(7, 2), ME, "deploy", "rolled-back", {}, "verify failed: backup restored"),
    (at(9), ME, "revert", "ok", {}, ""),
    (at(9, 1), ME, "rollback", "failed", {}, ""),
    (at(9, 2), ME, "rollback-staging", "ok", {}, ""),
    (at(9, 3), "dana", "rollback", "ok", {}, ""),
    # direct production edits: two distinct ones, each raised twice
    (at(3, 2), "svc", "alert", "prod-modified", {}, f"{EDIT} (prod-modified)"),
    (at(5), "svc", "alert", "prod-modified", {}, f"{EDIT} (diverged)"),
    (at(5, 1), "svc", "alert", "prod-modified", {"key": "prod-modified:012:0a1b2c"}, "x"),
    (at(6, 1), ME, "alert", "prod-modified", {"key": "prod-modified:012:0a1b2c"}, "x"),
    (at(6, 2), "svc", "alert", "snapshot-failed", {}, ""),
    # PHI: six findings (aa bb cc, then dd ee, then ff), three acknowledged (aa dd ee)
    validate(at(2), "aa bb", "cc"),
    (at(3), "dana", "validate", "ok", {}, "1 sheets: 0 clean, 1 needs-review"),  # unlisted
    ack(at(3, 1), ME, "acknowledge", "aa"),
    ack(at(3, 2), "dana", "acknowledge", "bb"),  # a developer cannot acknowledge
    validate(at(4), "aa dd ee"),
    ack(at(4, 1), "dana", "allow-phi", "ee"),
    validate(at(8), "ff"),
    ack(at(9), ME, "acknowledge", "dd"),
    ack(at(9), ME, "acknowledge", "zz"),  # never listed by a validation
    # a second practice manager whose trail does not verify: left out
    (at(4), "pat", "deploy", "ok", {}, ""),
    (at(4, 1), "pat", "rollback", "ok", {}, ""),
]


@pytest.fixture
def trail(demo: Demo) -> Demo:
    workspace = demo.workspace
    roles = render_roles(ME, developer=["dana"], service_account=["svc"], practice_manager=["pat"])
    workspace.roles_path.write_text(roles)
    workspace.roles_path.chmod(0o644)
    append(workspace, KNOWN)
    pat = workspace.trail_path("pat")
    lines = pat.read_text().splitlines()
    lines[0] = lines[0].replace('"detail":""', '"detail":"edited"')
    pat.write_text("".join(line + "\n" for line in lines))
    return demo


def metrics(demo: Demo, since: date | None = None, now: datetime = NOW) -> MetricsReport:
    """What `sheetstage metrics` computes: the session's verified trails and its roles."""
    with session(demo.config) as opened:
        return for_session(opened, since, now)


def test_metrics_of_a_known_trail_give_the_known_figures(trail: Demo) -> None:
    report = metrics(trail)
    assert report.since == W[0] and report.until == date(2024, 6, 5) and report.weeks == W
    assert report.left_out == [
        "audit/pat.jsonl: BROKEN at line 1: was changed: line 2's prev no longer matches it"
    ]
    snap, deploys, phi, rollbacks, through = report.metrics
    gap = [None, None]  # the trails begin in week 2

    assert snap.value == pytest.approx(1877 / 1880) and snap.met is True
    assert snap.shown == "99.8% (1877 of 1880 projects)" and snap.target == "> 99%"
    assert snap.weekly == [*gap, 1.0, 468 / 470, None, 469 / 470, *[None] * 5, 1.0]

    assert deploys.value == pytest.approx(6 * 7 / 66) and deploys.met is False
    assert deploys.shown == "0.6 a week (6 deploys in 66 days; 5 of 10 weeks without one)"
    assert deploys.weekly == [*gap, 2, 1, 0, 0, 1, 0, 1, 0, 0, 1]

    assert phi.value == 0.5 and phi.met is False and phi.target == "< 5%"
    assert phi.shown == "50.0% (3 of 6 findings acknowledged)"
    assert phi.weekly == [*gap, 1 / 3, None, 1.0, *[None] * 3, 0.0, None, None, None]

    assert rollbacks.value == pytest.approx(3 * 30 / 66) and rollbacks.met is False
    assert (
        rollbacks.shown == "1.4 a month (3 rollbacks in 66 days, 1 automatic after a failed verify)"
    )
    assert rollbacks.weekly == [*gap, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0]

    assert through.value == 0.75 and through.met is True and through.target == "≥ 50%"
    assert through.shown == "75.0% (6 deploys, 2 direct production edits)"
    assert through.weekly == [*gap, 1.0, 0.5, None, 0.0, 1.0, None, 1.0, None, None, 1.0]

    text = report.lines()
    assert text[0] == "metrics from 2024-03-18 to 2024-06-05 (12 ISO weeks, UTC)"
    assert text[1].startswith("left out, does not verify: audit/pat.jsonl: BROKEN at line 1")
    assert "✓ met      Snapshot success rate: 99.8% (1877 of 1880 projects); target > 99%" in text
    phi_line = "✗ NOT MET  PHI false positives: 50.0% (3 of 6 findings acknowledged); target < 5%"
    assert phi_line in text
    header = next(i for i, line in enumerate(text) if line.startswith("week of"))
    assert text[header].split("  ")[-1] == "via staging"
    assert text[header + 1].split() == ["2024-03-18", *["no", "data"] * 5]
    assert text[header + 4].split() == ["2024-04-08", "99.6%", "1", "no", "data", "0", "50.0%"]
    assert text[-1] == "(the week of 2024-06-03 is not over: counted to 2024-06-05)"

    data = json.loads(json.dumps(report.as_json()))
    assert data["weeks"][0] == "2024-03-18" and data["left_out"] == report.left_out
    assert data["metrics"][3] == {
        "key": "rollback_frequency",
        "title": "Rollback frequency",
        "value": 1.3636,
        "shown": rollbacks.shown,
        "target": "< 1 a month",
        "met": False,
        "unit": "count",
        "weekly": [None, None, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0],
    }
    assert sparkline(rollbacks.weekly) == "  ▁▁▁▁██▁█▁▁"


def test_since_cuts_the_window_and_an_empty_window_has_no_data(trail: Demo) -> None:
    report = metrics(trail, since=date(2024, 5, 1))  # a Wednesday of week 6
    assert report.weeks == W[6:]
    snap, deploys, phi, rollbacks, through = report.metrics
    assert snap.shown == "100.0% (470 of 470 projects)"
    assert deploys.shown == "0.4 a week (2 deploys in 36 days; 4 of 6 weeks without one)"
    assert deploys.weekly == [0, 0, 1, 0, 0, 1]  # week 6's deploy was on Tuesday, before it
    assert phi.shown == "0.0% (0 of 1 finding acknowledged)" and phi.met is True
    assert (
        rollbacks.shown == "1.7 a month (2 rollbacks in 36 days, 1 automatic after a failed verify)"
    )
    assert through.shown == "100.0% (2 deploys, 0 direct production edits)"  # both seen before

    monday = metrics(trail, since=None, now=datetime(2024, 6, 3, 9, 0, tzinfo=UTC))
    assert monday.metric("deploy_frequency").weekly[-1] == 0
    assert "5 of 9 weeks without one" in monday.metric("deploy_frequency").shown  # not this one

    empty = metrics(trail, since=date(2024, 6, 5))  # nothing happened that morning
    assert [m.value for m in empty.metrics] == [None] * 5
    assert [m.met for m in empty.metrics] == [None] * 5
    assert all(m.shown.startswith("no data (") for m in empty.metrics)
    assert [m.weekly for m in empty.metrics] == [[None]] * 5
    assert len([line for line in empty.lines() if line.startswith("? no data  ")]) == 5

    with pytest.raises(UsageError, match=r"^--since 2024-06-06 is after today \(2024-06-05 UTC\)"):
        metrics(trail, since=date(2024, 6, 6))
    assert parse_since("2024-05-01") == date(2024, 5, 1)
    with pytest.raises(UsageError, match=r"^--since 'May 1' is not a date: write it as YYYY-MM-DD"):
        parse_since("May 1")


def test_sparkline_draws_bars_from_zero_to_the_largest_and_gaps_for_no_data() -> None:
    assert sparkline([0, 1, None, 2, 4]) == "▁▃ ▅█"
    assert sparkline([0.995, 1.0, 0.5]) == "██▅"
    assert sparkline([0, 0, None]) == "▁▁ "
    assert sparkline([]) == ""
