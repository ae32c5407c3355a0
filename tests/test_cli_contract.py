"""The command line as a new user meets it: every --help page describes each option and ends
with the exit codes, results go to stdout and the rest to stderr, tables line up, counts read
as English, and the first run says what it is doing and that its alerts are news."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path

import pytest

from services.emulator.seed import demo_sheets
from services.overview import short_time
from services.progress import Progress, counted
from services.state import State
from sheetstage_tui import cli
from tests.conftest import Demo

ROOT = Path(__file__).resolve().parents[1]
SHEETS = {s.number: s for s in demo_sheets()}
EDITOR = "someone.else@practice.example"


def parsers(
    parser: argparse.ArgumentParser, name: str = "sheetstage"
) -> dict[str, argparse.ArgumentParser]:
    """Every parser reachable from the top one: `sheetstage`, `sheetstage registry import`..."""
    found = {name: parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child, sub in action.choices.items():
                found |= parsers(sub, f"{name} {child}")
    return found


def test_every_help_page_describes_each_option_and_ends_with_the_exit_codes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    every = parsers(cli.build_parser())
    assert {"sheetstage registry import", "sheetstage validate", "sheetstage scan"} <= set(every)
    for name, parser in every.items():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
        text = parser.format_help()
        last = text.rstrip("\n").split("\n\n")[-1]
        assert last.startswith("exit codes:\n  0  "), (name, last)
        assert all(len(line) <= 80 for line in text.splitlines()), name
    codes = every["sheetstage scan"].format_help().split("exit codes:")[-1]
    assert re.findall(r"^  (\d)  ", codes, re.MULTILINE) == ["0", "3", "4", "2"]

    with pytest.raises(SystemExit) as done:
        cli.main(["registry", "import", "--help"])
    assert done.value.code == 0
    page = " ".join(capsys.readouterr().out.split())  # as read, whatever the wrapping
    ids = ("prod_spreadsheet_id", "prod_script_id", "dev3_spreadsheet_id", "dev3_script_id")
    for column in ("number", "name", *ids, "owner", "reference_ranges"):
        assert column in page
    assert "Replace the registry" in page and "--allow-removals" in page


def test_counted_nouns() -> None:
    assert counted(1, "sheet") == "1 sheet"
    assert [counted(n, "sheet") for n in (0, 2)] == ["0 sheets", "2 sheets"]
    assert counted(3, "failed fetch", "failed fetches") == "3 failed fetches"
    for owned in ("sheetstage_tui/cli.py", "services/jobs.py"):
        source = (ROOT / owned).read_text()
        assert "(s)" not in source and "(es)" not in source, owned


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_phase_on_a_terminal_gets_its_own_line_after_the_bar() -> None:
    screen = Terminal()
    progress = Progress("snapshot", stream=screen)
    progress(1, 2, "000")
    progress.phase("reading the activity log…")  # the bar is left where it was, not overdrawn
    progress(2, 2, "001")
    progress.phase("committing 2 files…")
    lines = screen.getvalue().split("\n")
    assert lines[1] == "snapshot: reading the activity log…"
    assert lines[2].startswith("\rsnapshot ██") and " 2/2 " in lines[2]
    assert lines[3:] == ["snapshot: committing 2 files…", ""]


def test_a_flag_counts_before_or_after_its_command_and_is_refused_where_it_means_nothing(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert snapshotted.cli("--json", "drift") == 0
    assert len(json.loads(capsys.readouterr().out)) == 235
    assert snapshotted.cli("--verbose", "drift") == 2
    assert capsys.readouterr().err == (
        "sheetstage: --verbose goes with --batch, the TUI or snapshot, not drift\n"
    )
    assert snapshotted.cli("--json", "init") == 2
    assert "--json goes with --batch or a command that prints JSON, not init" in (
        capsys.readouterr().err
    )


def test_verbose_says_where_the_time_of_a_batch_went(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.edit_script(SHEETS[100].prod_script_id, "\n// hotfix\n", EDITOR)
    capsys.readouterr()
    assert snapshotted.cli("--batch", "--verbose") == 1
    timed = [line for line in capsys.readouterr().err.splitlines() if line.startswith("time: ")]
    names = [line.removeprefix("time: ").rsplit(" ", 2)[0].rstrip() for line in timed]
    assert names == [
        "starting Python, loading sheetstage",  # here: since this test process started
        "opening the session",
        "checking and fetching what changed",
        "writing 1 fetched project",
        "committing 2 files",  # the edited file and state.json
        "syncing the activity log",
        "total",
    ], timed
    seconds = [float(line.rsplit(" ", 2)[1]) for line in timed]
    assert all(s >= 0 for s in seconds) and seconds[-1] == pytest.approx(sum(seconds[:-1]), 0.02)


def test_the_first_run_says_each_phase_and_its_alerts_are_news_then_batch_says_what_is_open(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.edit_script(SHEETS[100].prod_script_id, "\n// hotfix\n", EDITOR)
    args = cli.build_parser().parse_args(["--config", str(snapshotted.config_path), "--demo"])
    capsys.readouterr()
    cli._first_snapshot(snapshotted.config, args)  # what `sheetstage --demo` runs before the TUI
    out, err = capsys.readouterr()
    assert out == ""
    phases = [  # the activity log is read, and each project scanned, while fetching
        "snapshot: writing 1 fetched project…",
        "snapshot: committing ",
        "snapshot: syncing the activity log…",
    ]
    lines = err.splitlines()
    found = [next(i for i, line in enumerate(lines) if line.startswith(p)) for p in phases]
    assert found == sorted(found), err  # each said as it starts, in order
    assert lines.index("snapshot: 470/470") < found[0]
    result = lines[-1]
    assert result.startswith("result: the first snapshot is done; 1 new alert — news"), result
    assert "not a failure of the run" in result and result.endswith("the TUI opens now")
    assert "exit" not in result

    assert snapshotted.cli("--batch") == 0  # the alert was news once: not raised again
    err = capsys.readouterr().err
    assert "still open: 2 sheets held back by the PHI gate (150, 199): " in err
    assert "still open: 4 sheets prod-modified (031, 100, 119, 177): " in err
    assert "still open: 2 sheets diverged (064, 215): " in err
    assert err.splitlines()[-1] == (
        "result: no failures, no new alerts (exit 0); still open: 8 sheets (above)"
    )

    snapshotted.edit_script(SHEETS[101].prod_script_id, "\n// hotfix\n", EDITOR)
    assert snapshotted.cli("--batch") == 1
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == (
        "result: 1 new alert — news (events found), not a failure of the run (exit 1); "
        "still open: 9 sheets (above)"
    )


def test_scan_findings_go_to_stdout_and_the_count_to_stderr(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leak = tmp_path / "leak.gs"
    leak.write_text("const a = 1;\n// patient SSN 412-83-2957\n")
    capsys.readouterr()
    assert demo.cli("scan", str(leak)) == 4
    out, err = capsys.readouterr()
    assert out == f"{leak}:2:16  SSN block  ***-**-2957\n"
    assert err == "scan: 1 file, 1 block, 0 review, 0 acknowledged (exit 4)\n"
    assert "412-83-2957" not in out + err


def columns(header: str, names: list[str]) -> list[int]:
    return [re.search(rf"(?<!\S){name}(?!\S)", header).start() for name in names]  # type: ignore[union-attr]


def test_drift_and_alerts_tables_line_up_and_show_times_in_one_format(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert snapshotted.cli("drift") == 0
    out = capsys.readouterr().out.splitlines()
    header, rows = out[0], out[1:-1]
    state_at, name_at, reason_at = columns(header, ["state", "name", "reason"])
    assert len(rows) == 12 and header.startswith("sheet")
    for row in rows:
        sheet = SHEETS[int(row[:3])]
        assert row[name_at - 2 : name_at] == "  " and row[name_at:].startswith(sheet.name), row
        assert row[reason_at - 2 : reason_at] == "  " and row[reason_at] != " ", row
        assert row[state_at:].split()[1] in {"ahead", "prod-modified", "diverged", "unknown"}
    edited = next(r for r in rows if r.startswith("031"))
    assert "2026-05-24T" not in edited and short_time("2026-05-24T12:31:00.000Z") in edited

    assert snapshotted.cli("alerts") == 0
    out, err = capsys.readouterr()
    header, *rows = out.splitlines()
    since_at, message_at = columns(header, ["since", "message"])
    active = State.load(snapshotted.workspace).alerts
    assert len(rows) == len(active) == 7
    for row, record in zip(rows, active.values(), strict=True):
        assert row[since_at:].startswith(short_time(record["since"])), row
        assert row[message_at:] == record["message"]
    assert err.startswith("7 active alerts; 7 kept for a webhook (none is configured)")
    edit = next(r for r in rows if "production sheet 031 edited outside sheetstage" in r)
    assert "2026-05-24T" not in edit and f"at {short_time('2026-05-24T12:31:00.000Z')} " in edit


def test_action_outcomes_and_the_audit_report_go_to_stdout(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    """`audit verify > report.txt` is the whole report, verdict included; what an action did
    (accept, like rollback and revert) is its result too."""
    capsys.readouterr()
    assert snapshotted.cli("accept", "--sheet", "31", "--reason", "the hotfix stays") == 0
    out, err = capsys.readouterr()
    assert out.startswith("production of sheet 031 (") and "accepted: the hotfix stays" in out
    assert "accepted" not in err

    assert snapshotted.cli("audit", "verify") == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert any(line.startswith("audit/") and ": intact, " in line for line in lines), out
    assert lines[-1].startswith("audit trail intact: ") and err == ""


def test_readme_quick_start_is_two_lines_and_points_nowhere_outside_the_repository() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1]
    block = quick.split("```sh\n", 1)[1].split("```", 1)[0]
    assert block.splitlines() == [
        "pip install . && sheetstage --demo",
        "pip install '.[test]' && pytest -q",
    ]
    assert "DESIGN.md" not in text and "../shared" not in text
    assert not re.findall(r"\]\((?:\.\./|/)", text)  # no link leaves the repository
    for needed in ("validate --all", "--allow-removals", "news"):
        assert needed in text


def test_diff_of_code_the_gate_held_back_is_read_live_and_masked(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert snapshotted.cli("diff", "--sheet", "150") == 0
    shown = capsys.readouterr()
    assert "MRN *****827" in shown.out and "'**/**/****'" in shown.out
    assert "40418827" not in shown.out + shown.err and "03/14/1961" not in shown.out
    assert "held its code back; reading it live, masked" in shown.err
