"""The command line. Headless commands run through services/ only: this module imports
textual nowhere on their path."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.config import Config, load_config
from services.errors import RefusedError, SheetstageError, UsageError
from services.progress import PhaseClock, Progress, counted, duration, process_age
from services.registry import REQUIRED_COLUMNS
from sheetstage_tui import __version__

if TYPE_CHECKING:
    from services.deploy import Proposal
    from services.jobs import JobResult
    from services.session import Session
    from sheetstage_tui.app import SheetStageApp

ENVIRONMENTS = {
    "production": ("production",),
    "staging": ("staging",),
    "both": ("production", "staging"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $SHEETSTAGE_CONFIG, ./config.toml, packaged)",
    )
    common.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS,
        help="make every write impossible for this session",
    )
    common.add_argument(
        "--as",
        dest="as_user",
        metavar="USER",
        default=argparse.SUPPRESS,
        help="emulator only: act as a person listed in roles.toml (a simulated person)",
    )
    return common


class _Formatter(argparse.HelpFormatter):
    """Each line of a description or epilog is a paragraph wrapped to the terminal; an
    indented line (a list item, an exit code) wraps under its own text."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in text.splitlines():
            hang = re.match(r" *(\d  )?", line)
            first = indent + line[: len(line) - len(line.lstrip())]
            rest = indent + " " * (hang.end() if hang and hang.group(1) else len(first) + 2)
            lines.append(
                textwrap.fill(
                    line.strip(),
                    width,
                    initial_indent=first,
                    subsequent_indent=rest if line.startswith(" ") else indent,
                    break_on_hyphens=False,
                )
                or indent
            )
        return "\n".join(lines)


OK = (0, "success")
USAGE = (
    2,
    "usage, configuration or input error (one line says which and how to fix it); nothing changed",
)
REFUSED = (
    5,
    "refused: your role, a --read-only session, a lock held, or a file that cannot be trusted",
)
SHEET_HELP = "sheet number 0..234 as in the folder names (7 and 007 agree)"
SHEETS_HELP = f"{SHEET_HELP}; repeat for several sheets"


def _exits(*codes: tuple[int, str]) -> str:
    return "exit codes:\n" + "\n".join(f"  {code}  {text}" for code, text in codes)


def _command(
    commands: Any,
    common: argparse.ArgumentParser,
    name: str,
    summary: str,
    exits: Sequence[tuple[int, str]],
    description: str = "",
) -> argparse.ArgumentParser:
    """A subcommand whose --help says what it does and ends with its exit codes."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        parents=[common],
        help=summary,
        description=description or summary[0].upper() + summary[1:] + ".",
        epilog=_exits(*exits),
        formatter_class=_Formatter,
    )
    return parser


def _json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,  # `sheetstage --json CMD` counts as much as `CMD --json`
        help=f"print {what} as exactly one JSON document on stdout instead of text",
    )
    parser.set_defaults(takes_json=True)


def _verbose_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help=f"say on stderr where the time went: {what}",
    )
    parser.set_defaults(takes_verbose=True)


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(
        prog="sheetstage",
        description="Staging (DEV3) and production Apps Script code of the practice's Google "
        "Sheets under git: snapshots, drift, and controlled deploys. Without a command it "
        "opens the TUI.",
        epilog="Each command's --help describes its options and ends with its exit codes.\n\n"
        + _exits(
            (0, "--batch: clean (no failed fetch, no new alert, no problem); the TUI: quit"),
            (
                1,
                "--batch: a fetch failed, a problem (push, activity log, webhook), or a new "
                "alert was raised — alerts are news, not failures of the run",
            ),
            USAGE,
            REFUSED,
        ),
        formatter_class=_Formatter,
        parents=[_common()],  # its own copy: set_defaults below changes the actions it holds
    )
    parser.set_defaults(config=None, read_only=False, as_user="", command=None, json=False)
    parser.set_defaults(verbose=False, takes_json=False, takes_verbose=False)
    parser.add_argument("--version", action="version", version=f"sheetstage {__version__}")
    parser.add_argument(
        "--batch",
        action="store_true",
        help="the scheduled job: snapshot both environments, drift, activity log, alerts, "
        "headless (exit codes below)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="use the demo workspace on the emulator, created, seeded and snapshotted when missing",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="with --batch: the snapshot, drift, alerts, problems and exit code as one JSON "
        "document on stdout (the summary stays on stderr)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="say on stderr where the time went: the demo's creation, each snapshot phase "
        "and the TUI's start (with --batch: each phase)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    init = _command(
        commands,
        common,
        "init",
        "create the workspace",
        [(0, "created"), USAGE, REFUSED],
        "Create the workspace named by the config: a git repository with registry.toml, "
        "roles.toml, state.json and audit/. It refuses a folder that already holds one.",
    )
    init.add_argument(
        "--demo",
        action="store_true",
        help="also seed the emulator with the demo's 235 production and 235 staging projects",
    )
    init.add_argument(
        "--from",
        dest="source",
        metavar="REMOTE",
        help="restore the workspace from its off-site backup (a git URL or path): the trails "
        "and their anchors are verified before anything else",
    )
    init.add_argument(
        "--key",
        metavar="FILE",
        type=Path,
        help="with --from: the HMAC key file the administrator kept (else a new key is made "
        "and the old acknowledgements are reported as needing renewal)",
    )

    login = _command(
        commands,
        common,
        "login",
        "OAuth sign-in for backend = google",
        [(0, "signed in; token written (mode 600)"), USAGE],
        "Sign in to Google with the installed-app flow on a local port and keep the token "
        "file 0600. Over SSH, forward the port first (ssh -L PORT:localhost:PORT host).",
    )
    login.add_argument(
        "--port",
        type=int,
        default=8085,
        help="local port of the sign-in redirect (default 8085; forward it over SSH: ssh -L)",
    )

    registry = _command(
        commands,
        common,
        "registry",
        "the sheet registry: import a list of sheets, check it against Google",
        [OK, (1, "registry check found problems"), USAGE, REFUSED],
    )
    registry_commands = registry.add_subparsers(
        dest="registry_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    columns = ", ".join(REQUIRED_COLUMNS)
    registry_import = _command(
        registry_commands,
        common,
        "import",
        "replace registry.toml with the sheets of a CSV or JSON file",
        [
            (0, "imported and committed, or the registry already matches the file"),
            (2, "a bad file, row or column, or removals without --allow-removals; nothing changed"),
            REFUSED,
        ],
        "Replace the registry with the sheets FILE lists. Every row is checked before "
        "anything is written; then it prints what it adds, changes and removes (on stdout), "
        "writes registry.toml and commits it.\n"
        "Columns (CSV header row, or the keys of each object of a JSON list):\n"
        f"  required: {columns}\n"
        "  optional: owner (text, such as an e-mail address), reference_ranges (A1 ranges "
        "such as Patients!A2:F, separated by , or ;)\n"
        "  number is 0..234; the four ids are copied from the sheet's and script's URLs; "
        "names are plain text (no /, \\ or control characters).\n"
        "A sheet's owner and reference_ranges are kept when the file has no column for them. "
        "Registered sheets the file does not list are removed only with --allow-removals.",
    )
    registry_import.add_argument(
        "file", type=Path, metavar="FILE", help="the CSV or JSON file (UTF-8) listing every sheet"
    )
    registry_import.add_argument(
        "--allow-removals",
        action="store_true",
        help="remove registered sheets the file does not list (refused without it)",
    )
    registry_check = _command(
        registry_commands,
        common,
        "check",
        "each script's parentId against the registry",
        [
            (0, "every script is bound to its registered spreadsheet"),
            (1, "problems found"),
            USAGE,
            REFUSED,
        ],
        "Read each registered script and spreadsheet from Google: the script must be bound "
        "to the registered spreadsheet, and that must be a spreadsheet.",
    )
    _json_flag(registry_check, "the problems")

    snap = _command(
        commands,
        common,
        "snapshot",
        "snapshot Apps Script code into the workspace (one commit)",
        [
            (0, "clean: no failed fetch, no new alert, no problem"),
            (
                1,
                "a fetch failed, a problem (push, activity log, webhook) or a new alert — "
                "alerts are news, not failures of the run",
            ),
            USAGE,
            REFUSED,
        ],
        "Fetch the projects whose updateTime moved (or that differ on disk), scan them with "
        "the PHI gate, commit them in one commit, then compute drift and raise alerts; the "
        "summary goes to stderr, and says what is still open.",
    )
    snap.add_argument(
        "--env",
        choices=sorted(ENVIRONMENTS),
        default="both",
        help="which environment: staging (DEV3), production, or both (default)",
    )
    snap.add_argument("--sheet", action="append", metavar="N", help=f"only {SHEETS_HELP}")
    _json_flag(snap, "the snapshot report, its alerts and problems")
    _verbose_flag(snap, "each phase of the snapshot")

    drift_parser = _command(
        commands,
        common,
        "drift",
        "drift per sheet, from the last snapshot",
        [OK, USAGE],
        "A table of the sheets that are not in-sync (ahead, prod-modified, diverged, "
        "unknown) with the reason, then the count of each state. Reads the workspace only.",
    )
    _json_flag(drift_parser, "every sheet's state, hashes and reason")

    scan_parser = _command(
        commands,
        common,
        "scan",
        "scan files for PHI",
        [(0, "clean"), (3, "review findings only"), (4, "block findings"), USAGE],
        "Scan files and folders (or what is staged for commit) for patient data with the "
        "PHI rules of docs/phi-rules.md. Findings go to stdout, masked; the count to stderr.",
    )
    scan_parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="files or folders to scan"
    )
    scan_parser.add_argument(
        "--staged", action="store_true", help="scan what is staged for commit instead of PATHs"
    )
    _json_flag(scan_parser, "the findings and their count")

    validate_parser = _command(
        commands,
        common,
        "validate",
        "deploy step 1: PHI, ids, manifest, syntax, tests, risks",
        [
            (0, "every sheet passes"),
            (1, "a sheet is blocked or needs review, or a problem"),
            USAGE,
            REFUSED,
        ],
        "Read each sheet's live DEV3 code and data and check them: PHI in code and data "
        "(against the live production reference), no hard-coded production ids, a valid "
        "manifest, every .gs parses, the staging tests pass; plus the risk summary.",
    )
    which = validate_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--sheet", action="append", metavar="N", help=SHEETS_HELP)
    which.add_argument(
        "--all",
        action="store_true",
        help="every registered sheet: takes minutes, paced by the Sheets read quota (it reads "
        "live code and data)",
    )
    _json_flag(validate_parser, "each sheet's result and findings")

    acknowledge_parser = _command(
        commands,
        common,
        "acknowledge",
        "acknowledge a review finding (practice manager)",
        [OK, USAGE, REFUSED],
        "Accept a `review` finding of a sheet's validation, with a reason, in your audit "
        "trail. A `block` finding cannot be acknowledged.",
    )
    acknowledge_parser.add_argument("--sheet", required=True, metavar="N", help=SHEET_HELP)
    acknowledge_parser.add_argument(
        "--finding", required=True, metavar="ID", help="the finding's id, as validate prints it"
    )
    acknowledge_parser.add_argument(
        "--reason", required=True, metavar="TEXT", help="why it is not patient data (kept)"
    )

    reference_parser = _command(
        commands,
        common,
        "reference",
        "the production reference set",
        [OK, (1, "Google could not be read"), USAGE, REFUSED],
    )
    reference_commands = reference_parser.add_subparsers(
        dest="reference_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    _command(
        reference_commands,
        common,
        "refresh",
        "cache HMACs of production identifiers",
        [OK, (1, "Google could not be read"), USAGE, REFUSED],
        "Read the production reference ranges and cache HMAC digests of the identifiers "
        "(never the values), for offline scans and the pre-commit hook.",
    )

    diff_parser = _command(
        commands,
        common,
        "diff",
        "unified diff production -> staging (DEV3 ids mapped)",
        [OK, USAGE],
        "The diff goes to stdout, its summary to stderr.",
    )
    diff_parser.add_argument("--sheet", required=True, metavar="N", help=SHEET_HELP)

    audit_parser = _command(
        commands,
        common,
        "audit",
        "the audit trail",
        [(0, "intact"), (1, "a break was found"), USAGE],
    )
    audit_commands = audit_parser.add_subparsers(
        dest="audit_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    _command(
        audit_commands,
        common,
        "verify",
        "chains, owners, commit anchors and the activity log",
        [
            (0, "every trail is intact"),
            (1, "a break was found (the first broken line named)"),
            USAGE,
        ],
        "Check every trail's chain, owner and mode against every commit's anchors, the "
        "off-site backup and the activity log. The report (a line per trail, what could not "
        "be checked, the verdict) goes to stdout.",
    )

    test_data_parser = _command(
        commands,
        common,
        "generate-test-data",
        "fill DEV3 target ranges with provably synthetic patients (or --output files)",
        [(0, "every sheet filled"), (1, "a sheet failed"), USAGE, REFUSED],
    )
    which = test_data_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--sheet", action="append", metavar="N", help=SHEETS_HELP)
    which.add_argument(
        "--all", action="store_true", help="every sheet with target ranges (paced by quota)"
    )
    test_data_parser.add_argument(
        "--patients", type=int, metavar="N", help="patients per sheet (default [test_data])"
    )
    test_data_parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="the same seed gives the same rows"
    )
    test_data_parser.add_argument(
        "--output", type=Path, metavar="DIR", help="write CSV and JSON files here instead"
    )
    _json_flag(test_data_parser, "each sheet's result")

    test_parser = _command(
        commands,
        common,
        "test",
        "run the staging tests of DEV3's live code locally in V8, on DEV3 data",
        [(0, "every test passes (or a sheet has none)"), (1, "a test failed"), USAGE, REFUSED],
    )
    tested = test_parser.add_mutually_exclusive_group(required=True)
    tested.add_argument("--sheet", action="append", metavar="N", help=SHEETS_HELP)
    tested.add_argument(
        "--all", action="store_true", help="every registered sheet (those without tests counted)"
    )
    _json_flag(test_parser, "each sheet's tests")
    test_parser.add_argument(
        "--junit", type=Path, metavar="FILE", help="also write the results as JUnit XML"
    )

    review_parser = _command(
        commands,
        common,
        "request-review",
        "ask for a review of a sheet's staging code",
        [OK, USAGE, REFUSED],
    )
    review_parser.add_argument("--sheet", required=True, metavar="N", help=SHEET_HELP)

    approve_parser = _command(
        commands,
        common,
        "approve",
        "approve a requested deploy (practice manager, `yes`)",
        [
            (0, "approved"),
            (1, "not approved (only `yes` approves) or it does not validate"),
            USAGE,
            REFUSED,
        ],
        "Show the request, the validation, the risk summary and the diff stat, then ask for "
        "`yes` on the terminal. The approval is bound to both hashes and used up by one "
        "deploy.",
    )
    approve_parser.add_argument("--sheet", required=True, metavar="N", help=SHEET_HELP)

    deploy_parser = _command(
        commands,
        common,
        "deploy",
        "deploy staging -> production in seven steps (no flag skips approval)",
        [
            (0, "deployed"),
            (1, "stopped or rolled back"),
            USAGE,
            (5, "refused: role, a stale or missing approval, a lock held, --read-only"),
        ],
        "The seven steps: validate, diff, approve, backup, deploy, verify, log. On a "
        "terminal a practice manager is asked for `yes`; without one only content approved "
        "earlier and still fresh is deployed. Steps go to stderr, the result table to stdout.",
    )
    deploy_parser.add_argument(
        "--sheet", required=True, action="append", metavar="N", help=SHEETS_HELP
    )
    _json_flag(deploy_parser, "each sheet's outcome")

    points_parser = _command(
        commands,
        common,
        "rollback-points",
        "backup tags to roll back to, newest first",
        [OK, USAGE],
    )
    points_parser.add_argument("--sheet", metavar="N", help=f"only {SHEET_HELP}")
    _json_flag(points_parser, "the backup points")

    rollback_parser = _command(
        commands,
        common,
        "rollback",
        "restore production (or DEV3) from a backup tag",
        [(0, "restored"), (1, "stopped"), USAGE, REFUSED],
        "Show the diff from production now to the backup, ask for `yes`, back up what it "
        "replaces, restore, verify and log.",
    )
    rollback_parser.add_argument(
        "backup_id", metavar="BACKUP_ID", help="a tag as rollback-points lists it"
    )

    for name, text, reason in (
        (
            "adopt",
            "copy production's edit into staging; the baseline becomes production",
            "why (kept in the audit trail)",
        ),
        (
            "revert",
            "production back to the last deployed content",
            "why (kept in the audit trail)",
        ),
        (
            "accept",
            "make production as it is the new baseline (practice manager)",
            "why production's edit is kept (required)",
        ),
    ):
        way = _command(
            commands,
            common,
            name,
            text,
            [OK, (1, "stopped"), USAGE, REFUSED],
            f"For a sheet off its baseline (prod-modified, diverged): {text}.",
        )
        way.add_argument("--sheet", required=True, metavar="N", help=SHEET_HELP)
        way.add_argument("--reason", metavar="TEXT", default="", help=reason)

    resync_parser = _command(
        commands,
        common,
        "resync-staging",
        "rebuild DEV3 code from production (staging only)",
        [(0, "rebuilt, or already equal"), (1, "a sheet was held back or failed"), USAGE, REFUSED],
        "Read production and DEV3 live, map production's ids to DEV3's, show what changes and "
        "ask for `yes` on a terminal; then each sheet's DEV3 is backed up (a staging backup "
        "point), rebuilt, read back and logged. Production is never written. Production code "
        "the PHI gate holds back is not copied: the sheet is named, the finding masked.",
    )
    which = resync_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--sheet", action="append", metavar="N", help=SHEETS_HELP)
    which.add_argument("--all", action="store_true", help="every registered sheet")
    _json_flag(resync_parser, "each sheet's outcome")

    health_parser = _command(
        commands,
        common,
        "health",
        "check the registry, workspace, APIs, Drive sharing, schedule and remote",
        [(0, "healthy"), (1, "problems (each named with its fix)"), USAGE],
        "Each check of DESIGN.md's health list with what it measured and, when it fails, the "
        "fix. It reads Google and the workspace and changes nothing.",
    )
    _json_flag(health_parser, "every check")

    metrics_parser = _command(
        commands,
        common,
        "metrics",
        "the five practice metrics from the audit trails, with a weekly trend",
        [OK, USAGE],
        "Snapshot success rate, deployment frequency, PHI false positives, rollback "
        "frequency, and changes through staging versus direct production edits, each with "
        "its target; then one row a week. Only trails that verify are counted.",
    )
    metrics_parser.add_argument(
        "--since",
        metavar="DATE",
        help="first day counted, YYYY-MM-DD (default: the Monday that starts the last 12 weeks)",
    )
    _json_flag(metrics_parser, "the metrics and the weekly values")

    alerts_parser = _command(
        commands,
        common,
        "alerts",
        "the active alerts",
        [OK, USAGE],
        "Every active alert with when it was raised, and how many the webhook or a person "
        "has not received yet. Reading them changes nothing.",
    )
    _json_flag(alerts_parser, "the alerts and the outbox's counts")

    _command(
        commands,
        common,
        "roles",
        "who has which role, and why a file is not trusted",
        [OK, USAGE],
    )

    emulator = _command(
        commands,
        common,
        "emulator",
        "run the emulator standalone",
        [(0, "stopped with ctrl+c"), (2, "the port is taken, or a usage error")],
        "Serve the Google emulator on 127.0.0.1 until ctrl+c, and print the config values "
        "that point backend = google at it.",
    )
    emulator.add_argument(
        "--port", type=int, default=None, help="port on 127.0.0.1 (default [emulator].port, 8089)"
    )
    return parser


def _emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=1) + "\n")
    sys.stdout.flush()


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def short_time(stamp: str) -> str:
    """A time shown to a person: services.overview's one format (imported when needed: it
    loads git and the V8 runner, which most commands never need)."""
    from services import overview

    return overview.short_time(stamp)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a text table: each column as wide as its widest cell (in terminal cells, so
    names with em dashes or wide characters line up); the last column is not padded."""
    from rich.cells import cell_len

    widths = [
        max(cell_len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)
    ]

    def line(cells: Sequence[str]) -> str:
        padded = [
            str(cell) + " " * (width - cell_len(str(cell)))
            for cell, width in zip(cells[:-1], widths, strict=False)
        ]
        return "  ".join([*padded, str(cells[-1])]).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(build_parser(), list(sys.argv[1:] if argv is None else argv))
    except SheetstageError as error:
        _say(f"sheetstage: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        _say("sheetstage: interrupted")
        return 130
    except BrokenPipeError:  # `sheetstage ... | head`: the reader left, nothing is wrong
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes it at exit
        return 0
    except OSError as error:  # a full disk or quota, a file it may not touch: one line
        _say(f"sheetstage: {describe_os_error(error)}")
        return 2 if error.errno in (errno.EACCES, errno.EPERM) else 1
    except Exception as error:
        workspace, sqlite3 = sys.modules.get("services.workspace"), sys.modules.get("sqlite3")
        reason = workspace.git_failure(error) if workspace is not None else None  # when loaded
        if reason is not None:
            _say(f"sheetstage: git failed ({reason}); nothing was committed: fix that, run again")
            return 1
        if sqlite3 is not None and isinstance(error, sqlite3.Error):  # the emulator's state
            _say(f"sheetstage: the emulator's state failed ({error}); fix that and run again")
            return 1
        raise


def describe_os_error(error: OSError) -> str:
    where = f" ({error.filename})" if error.filename else ""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free some space (or raise the quota) and run again: the next run finishes the job"
    elif error.errno in (errno.EACCES, errno.EPERM):
        fix = "ask the workspace's owner to add you to its group"
    else:
        fix = "fix that and run again: nothing half-written is committed"
    return f"{error.strerror or error}{where}; {fix}"


def _run(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    args = parser.parse_args(argv)
    config = load_config(args.config)
    if args.batch:
        if args.command:
            raise UsageError("--batch runs on its own; drop the command after it")
        return _batch(config, args)
    if args.command is None:
        return _tui(config, args)
    if args.json and not args.takes_json:
        raise UsageError(
            f"--json goes with --batch or a command that prints JSON, not {args.command}"
        )
    if args.verbose and not args.takes_verbose:
        raise UsageError(f"--verbose goes with --batch, the TUI or snapshot, not {args.command}")
    handler = _HANDLERS[args.command]
    return handler(config, args)


def _ensure_demo(config: Config, clock: PhaseClock | None = None) -> bool:
    """--demo: the demo workspace on the emulator, created and seeded when missing."""
    from services import jobs

    if config.backend != "emulator":
        raise UsageError('--demo runs on the emulator; use a config with backend = "emulator"')
    if _workspace_exists(config):
        return False
    _say(
        "creating the demo workspace: seeding the emulator with 235 production and 235 staging "
        "projects…"
    )
    jobs.init_workspace(config, demo=True, phase=clock.start if clock else None)
    _say(f"created the demo workspace at {config.workspace} (emulator seeded)")
    return True


def tui_app(
    config: Config, args: argparse.Namespace, clock: PhaseClock | None = None
) -> SheetStageApp:
    """What `sheetstage [--demo]` does before the TUI shows: with --demo, the demo workspace
    made and snapshotted when missing. Returns the app, not yet running; `clock` (--verbose)
    times each step, up to the interactive sheet list."""
    from sheetstage_tui.app import SheetStageApp

    if args.json:
        raise UsageError("--json goes with --batch or a command, not the TUI")
    if args.demo and _ensure_demo(config, clock):
        _first_snapshot(config, args, clock)
    if clock is not None:
        clock.start("starting the TUI, to the interactive sheet list")
    return SheetStageApp(
        config, args.read_only, args.as_user, on_ready=clock.stop if clock else None
    )


def _tui(config: Config, args: argparse.Namespace) -> int:
    clock = _clock(args)
    app = tui_app(config, args, clock)
    result = app.run()
    _say_times(clock)
    return int(result or app.return_code or 0)


@contextlib.contextmanager
def _session(config: Config, args: argparse.Namespace) -> Iterator[Session]:
    """The command's session; says on stderr who acts when it is a simulated person, and why
    roles do not count when they do not."""
    from services.session import session

    with session(config, args.read_only, args.as_user) as opened:
        if opened.access.simulated:
            _say(f"SIMULATED: {opened.access.user} (emulator only)")
        if opened.access.warning:
            _say(f"sheetstage: {opened.access.warning}")
        for problem in opened.access.untrusted:
            _say(f"sheetstage: not trusted: {problem} (privileged actions refuse until then)")
        _settle_interrupted(opened)
        try:
            yield opened
        finally:
            opened.push()  # the command's commits, after its locks are released
            for problem in dict.fromkeys(opened.push_problems):  # each once
                _say(f"sheetstage: {problem}")


def _settle_interrupted(opened: Session) -> None:
    """A deploy or rollback a killed run left half-done is reported to everyone, and finished
    by a practice manager's or the service account's command (under the sheet's lock)."""
    from services import deploy, rollback

    for item in deploy.pending(opened):
        _say(f"sheetstage: INTERRUPTED: {item.describe()}")
        if item.problem or not opened.access.can("finish-interrupted"):
            continue
        try:
            settled = rollback.finish(opened, item)
        except SheetstageError as error:
            _say(f"sheetstage: not finished: {error}")
            continue
        _say(f"sheetstage: finished: {settled.message}")


def _first_snapshot(
    config: Config, args: argparse.Namespace, clock: PhaseClock | None = None
) -> None:
    """A new demo opens with every state known, not 470 projects never snapshotted."""
    from services import jobs
    from services.models import Environment

    if clock is not None:
        clock.start("opening the session")
    with _session(config, args) as opened:
        if opened.access.can("snapshot"):
            projects = 2 * len(opened.registry.sheets)
            _say(f"first snapshot of all {projects} projects (later runs fetch only what changed)…")
            progress = _progress(args)
            phases = _phases(progress, clock, f"fetching and scanning {projects} projects")
            result = jobs.run_snapshot(opened, list(Environment), None, progress, phases)
            _finish_job(opened, result, before_tui=True)


def _finish_job(opened: Session, result: JobResult, before_tui: bool = False) -> None:
    """Print the job's summary; the alerts it showed leave the outbox's report list."""
    from services import jobs

    jobs.print_summary(result, before_tui=before_tui)
    jobs.reported(opened, result.to_report)


def _batch(config: Config, args: argparse.Namespace) -> int:
    from services import jobs
    from services.models import Environment

    clock = _clock(args)
    if args.demo:
        _ensure_demo(config, clock)
    if clock is not None:
        clock.start("opening the session")
    with _session(config, args) as opened:
        progress = _progress(args)
        phases = _phases(progress, clock, "checking and fetching what changed")
        result = jobs.run_snapshot(opened, list(Environment), None, progress, phases, run="batch")
        _finish_job(opened, result)
    _say_times(clock)
    if args.json:
        _emit_json(
            {
                "snapshot": result.report.as_json(),
                "drift": [d.as_json() for d in result.drift],
                "alerts": [a.as_json() for a in result.to_report],
                "problems": result.problems,
                "notices": result.notices,
                "exit_code": result.exit_code,
            }
        )
    return result.exit_code


def _progress(args: argparse.Namespace) -> Progress | None:
    return None if args.json else Progress("snapshot")


def _phases(
    progress: Progress | None, clock: PhaseClock | None = None, fetching: str = ""
) -> Callable[[str], None] | None:
    """The steps after the fetch (writing, committing, syncing) said where the bar is, and
    timed with --verbose from `fetching` (the fetch, which starts now) on."""
    if clock is not None:
        clock.start(fetching)

    def phase(text: str) -> None:
        if progress is not None:
            progress.phase(text)
        if clock is not None:
            clock.start(text)

    return phase if progress is not None or clock is not None else None


def _clock(args: argparse.Namespace) -> PhaseClock | None:
    """--verbose: where the time goes, from the process's start on."""
    if not args.verbose:
        return None
    clock = PhaseClock()
    clock.start("starting Python, loading sheetstage", ago=process_age())
    return clock


def _say_times(clock: PhaseClock | None) -> None:
    if clock is not None:
        clock.stop()
        _say("\n".join(clock.lines()))


def _workspace_exists(config: Config) -> bool:
    return (config.workspace / ".git").is_dir()


def _init(config: Config, args: argparse.Namespace) -> int:
    from services import jobs

    if args.read_only:
        raise RefusedError("init refused: this session is --read-only; run without --read-only")
    if args.key is not None and args.source is None:
        raise UsageError("--key goes with --from REMOTE (restoring a workspace); drop it")
    if args.source is not None:
        if args.demo:
            raise UsageError("--from restores a workspace; --demo makes a new one: give one")
        return _restore(config, args.source, args.key)
    workspace = jobs.init_workspace(config, demo=args.demo)
    what = "demo workspace (emulator seeded with 235 + 235 projects)" if args.demo else "workspace"
    print(f"created the {what} at {workspace.root}")
    if not args.demo:
        _say("next: `sheetstage registry import FILE` with your sheets, then `sheetstage --batch`")
    return 0


def _restore(config: Config, source: str, key: Path | None) -> int:
    from services.recovery import restore_workspace

    restored = restore_workspace(config, source, key, _say)
    print(f"restored the workspace at {restored.root} from {source} ({restored.commit[:12]})")
    for line in restored.trails:
        print(f"  {line}")
    for line in [*restored.history_only, *restored.notes]:
        _say(f"sheetstage: {line}")
    print(restored.key)
    if restored.renew:
        _say(
            f"sheetstage: {counted(len(restored.renew), 'acknowledgement')} need renewing "
            "(the new key changes every finding id):"
        )
        for line in restored.renew:
            _say(f"  {line}")
    if restored.backend:
        print(restored.backend)
    for problem in restored.problems:
        _say(f"sheetstage: {problem}")
    _say(
        "next: `sheetstage reference refresh` (the reference cache is not in git), then "
        "`sheetstage --batch`, then `sheetstage health`"
    )
    return restored.exit_code


def _login(config: Config, args: argparse.Namespace) -> int:
    if config.backend != "google":
        raise UsageError('login is for backend = "google"; the emulator needs no sign-in')
    if not config.google.client_secrets_file.is_file():
        raise UsageError(
            f"no OAuth client file at {config.google.client_secrets_file}; download the "
            "'Desktop app' OAuth client JSON from Google Cloud Console and put it there"
        )
    from services.google_client import sign_in

    sign_in(config.google.client_secrets_file, config.google.token_file, args.port)
    print(f"signed in; token written to {config.google.token_file} (mode 600)")
    return 0


def _registry(config: Config, args: argparse.Namespace) -> int:
    from services import jobs

    with _session(config, args) as opened:
        if args.registry_command == "import":
            plan = jobs.import_registry(opened, args.file, allow_removals=args.allow_removals)
            for line in [*plan.lines(), plan.counts()]:  # the plan is the result: stdout
                print(line)
            if plan.changes_nothing:
                print(f"registry.toml already matches {args.file}; nothing to commit")
            else:
                print(f"registry.toml now holds {counted(len(plan.sheets), 'sheet')} (committed)")
            return 0
        problems = jobs.check_registry(opened)
    if args.json:
        _emit_json({"problems": [p.as_json() for p in problems]})
    else:
        for problem in problems:
            print(f"sheet {problem.sheet.key} {problem.env}: {problem.problem}")
    checked = counted(len(opened.registry.sheets), "sheet")
    _say(f"registry check: {counted(len(problems), 'problem')} in {checked}")
    return 1 if problems else 0


def _snapshot(config: Config, args: argparse.Namespace) -> int:
    from services import jobs
    from services.models import Environment

    envs = [Environment(e) for e in ENVIRONMENTS[args.env]]
    clock = _clock(args)
    if clock is not None:
        clock.start("opening the session")
    with _session(config, args) as opened:
        opened.registry.select(args.sheet)  # unknown sheet: exit 2 before any work
        progress = _progress(args)
        phases = _phases(progress, clock, "checking and fetching what changed")
        result = jobs.run_snapshot(opened, envs, args.sheet, progress, phases)
        _finish_job(opened, result)
    _say_times(clock)
    if args.json:
        _emit_json(
            result.report.as_json()
            | {"alerts": [a.as_json() for a in result.to_report], "problems": result.problems}
        )
    return result.exit_code


def _drift(config: Config, args: argparse.Namespace) -> int:
    from services import drift
    from services.state import State

    with _session(config, args) as opened:
        report = drift.compute_drift(opened.registry.sheets, State.load(opened.workspace))
    if args.json:
        _emit_json([d.as_json() for d in report])
        return 0
    rows = [
        (
            d.sheet.key,
            f"{d.state.glyph} {d.state}",
            d.sheet.name,
            d.reason.replace(d.modified_at, short_time(d.modified_at))
            if d.modified_at
            else d.reason,
        )
        for d in report
        if d.state.value != "in-sync"
    ]
    for line in table(("sheet", "state", "name", "reason"), rows) if rows else ():
        print(line)
    print(", ".join(f"{k} {v}" for k, v in drift.counts(report).items()))
    return 0


def _diff(config: Config, args: argparse.Namespace) -> int:
    from services import inspection
    from services.diff import unified
    from services.registry import IdMapper

    with _session(config, args) as opened:
        sheet = opened.registry.select([args.sheet])[0]
        mapper = IdMapper(opened.registry.sheets)
        # masked, as every display of code; code the PHI gate held back is read live
        view = inspection.workspace_view(opened.workspace, config, sheet, mapper)
        if view is None:
            _say(f"sheet {sheet.key}: the PHI gate held its code back; reading it live, masked")
            view = inspection.inspect(opened, sheet, mapper)
    diff = view.diff
    sys.stdout.write(unified(diff))
    _say(f"sheet {sheet.key} {sheet.name}: {diff.summary()}")
    return 0


def _scan(config: Config, args: argparse.Namespace) -> int:
    from services import validation

    if bool(args.paths) == bool(args.staged):
        raise UsageError("scan needs PATH... or --staged (not both)")
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {missing[0]}; check the path")
    result = validation.scan(config, args.paths, staged=args.staged)
    if args.json:
        _emit_json(result.as_json())
    else:
        for finding in result.findings:
            where = f"{finding.path}:{finding.line}:{finding.column}"
            note = f"  acknowledged: {finding.reason}" if finding.acknowledged else ""
            print(f"{where}  {finding.type} {finding.severity}  {finding.excerpt}{note}")
    summary = result.summary()
    _say(
        f"scan: {counted(summary['files'], 'file')}, {summary['block']} block, "
        f"{summary['review']} review, {summary['acknowledged']} acknowledged "
        f"(exit {result.exit_code})"
    )
    return result.exit_code


def _validate(config: Config, args: argparse.Namespace) -> int:
    from services import validation

    with _session(config, args) as opened:
        sheets = opened.registry.select(None if args.all else args.sheet)
        reads = 2 * sum(1 for s in sheets if s.reference_ranges)  # DEV3 data and the reference
        pace = config.client.sheets_requests_per_minute
        note = f"paced by the Sheets read quota, {pace}/min ({reads} reads)" if reads else ""
        if reads > pace:
            _say(
                f"validate: {counted(len(sheets), 'sheet')}, {reads} Sheets reads at {pace}/min: "
                f"about {duration(60 * reads / pace)} (it reads live DEV3 code and data)"
            )
        progress = Progress("validate", note=note)
        results = validation.validate(
            opened,
            None if args.all else args.sheet,
            lambda done, total, result: progress(done, total, f"{result.sheet.key} {result.phi}"),
        )
        _show_alerts(opened)
    if args.json:
        _emit_json({"sheets": [r.as_json() for r in results]})
    for result in [] if args.json else results:
        if result.ok and args.all:
            continue  # counted in the last line
        verdict = "passes" if result.ok else "does not pass"
        print(
            f"sheet {result.sheet.key} {result.sheet.name}: {verdict} · PHI {result.phi} · "
            f"tests: {result.tests_summary}"
        )
        for finding in result.findings:
            note = f" (acknowledged: {finding.reason})" if finding.acknowledged else ""
            print(
                f"  {finding.path}:{finding.line}  {finding.type} {finding.severity}  "
                f"{finding.excerpt}  id {finding.id}{note}"
            )
        for problem in result.problems:
            print(f"  problem: {problem}")
    passed = sum(1 for r in results if r.ok)
    verb = "passes" if passed == 1 else "pass"
    _say(f"validate: {passed} of {counted(len(results), 'sheet')} {verb}")
    return 0 if passed == len(results) else 1


def _generate_test_data(config: Config, args: argparse.Namespace) -> int:
    from services import testdata_job

    numbers = None if args.all else args.sheet
    where = f"files in {args.output}" if args.output else "DEV3"
    with _session(config, args) as opened:
        pace = config.client.sheets_requests_per_minute
        note = f"paced by the Sheets quotas, {pace} reads and {pace} writes/min"
        progress = Progress(f"test data -> {where}", note="" if args.output else note)
        results = testdata_job.generate_test_data(
            opened,
            numbers,
            args.patients,
            args.seed,
            args.output,
            lambda done, total, result: progress(done, total, result.sheet.key),
        )
    if args.json:
        _emit_json({"sheets": [r.as_json() for r in results]})
    for result in results:
        if not args.json:
            print(result.describe())
        for header in result.unmapped:
            _say(f"  sheet {result.sheet.key}: no generator for header {header} (left empty)")
    if any(not r.reference_checked for r in results):
        _say(
            "notice: no production reference is cached, so generated people were not checked "
            "against production patients; run `sheetstage reference refresh` first"
        )
    failed = [r for r in results if not r.ok]
    done = len(results) - len(failed)
    _say(
        f"generate-test-data: {done} of {counted(len(results), 'sheet')} filled (seed {args.seed})"
    )
    return 1 if failed else 0


def _test(config: Config, args: argparse.Namespace) -> int:
    from services import scripttests_job

    with _session(config, args) as opened:
        progress = Progress("staging tests", note="DEV3 code read live, run locally in V8")
        results = scripttests_job.run_tests(
            opened,
            None if args.all else args.sheet,
            args.junit,
            lambda done, total, one: progress(done, total, f"{one.sheet.key} {one.status}"),
        )
    if args.json:
        _emit_json({"sheets": [r.as_json() for r in results]})
    else:
        for result in results:
            if result.status == "none" and args.all:
                continue  # counted in the last line
            print(f"{result.sheet.key} {result.sheet.name}: {result.status} · {result.summary}")
            for test in result.run.results if result.run else []:
                if not test.passed:
                    print(f"  {test.status.upper():6} {test.name} at {test.where or test.file}")
                    print(f"         {test.message}")
            for problem in result.run.problems if result.run else []:
                print(f"  PROBLEM {problem}")
    failing = [r for r in results if not r.passed]
    tested = sum(1 for r in results if r.has_tests)
    written = f"; JUnit XML in {args.junit}" if args.junit else ""
    have = "has" if tested == 1 else "have"
    _say(
        f"test: {tested} of {counted(len(results), 'sheet')} {have} tests, "
        f"{len(failing)} failing{written}"
    )
    return 1 if failing else 0


def _acknowledge(config: Config, args: argparse.Namespace) -> int:
    from services import validation

    with _session(config, args) as opened:
        finding = validation.acknowledge(opened, args.sheet, args.finding, args.reason)
    print(f"acknowledged {finding.type} {finding.excerpt} at {finding.path}:{finding.line}")
    return 0


def _reference(config: Config, args: argparse.Namespace) -> int:
    from services import validation

    with _session(config, args) as opened:
        count = validation.refresh_reference(opened)
    print(f"reference refreshed: {count} identifier digests cached (no raw values)")
    return 0


def _audit(config: Config, args: argparse.Namespace) -> int:
    from services import jobs

    with _session(config, args) as opened:
        report = jobs.audit_report(opened)
    # The whole report is the result, verdict included: `audit verify > report.txt` keeps it all.
    for check in report.checks:
        print(check.describe())
    for problem in report.history:
        print(f"history BROKEN: {problem}")
    for note in report.notes:  # what could not be checked belongs to the report too
        print(f"note: {note}")
    print(report.summary())
    return 0 if report.ok else 1


def _terminal_approver() -> Callable[[Proposal], bool] | None:
    """A typed `yes` on the terminal (stdin); None when there is none (a scheduler, a pipe)."""
    if not sys.stdin.isatty():
        return None

    def ask(proposal: Proposal) -> bool:
        from services.deploy import describe_proposal

        for line in describe_proposal(proposal):
            _say(line)
        verbs = {"deploy": "approve", "rollback": "roll back", "rollback-staging": "roll back"}
        verb = verbs.get(proposal.action, proposal.action)
        _say(f"Type yes to {verb} (anything else cancels): ")
        try:
            answer = sys.stdin.readline()
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip() == "yes"

    return ask


def _print_steps(sheet_key: str) -> Callable[[Any], None]:
    def show(outcome: Any) -> None:
        mark = "ok  " if outcome.ok else "STOP"
        _say(f"  [{mark}] {sheet_key} {outcome.step}: {outcome.detail}")

    return show


def _request_review(config: Config, args: argparse.Namespace) -> int:
    from services import deploy

    with _session(config, args) as opened:
        entry = deploy.request_review(opened, args.sheet)
    print(
        f"review requested for sheet {entry.sheets[0]:03d} ({entry.event_id}): staging "
        f"{entry.hashes['staging'][:12]} against production {entry.hashes['production'][:12]}; "
        "deploy status staged — a practice manager runs `sheetstage approve --sheet "
        f"{entry.sheets[0]}`"
    )
    return 0


def _approve(config: Config, args: argparse.Namespace) -> int:
    from services import deploy

    with _session(config, args) as opened:
        entry = deploy.approve(opened, args.sheet, _terminal_approver())
    days = config.deploy.approval_expiry_days
    lapses = datetime.fromisoformat(entry.time) + timedelta(days=days)
    print(
        f"approved sheet {entry.sheets[0]:03d} ({entry.event_id}) at {short_time(entry.time)} "
        f"for these exact hashes; used up by one deploy, lapses after {days:g} days "
        f"({short_time(lapses.isoformat())})"
    )
    return 0


def _deploy(config: Config, args: argparse.Namespace) -> int:
    from services import deploy

    with _session(config, args) as opened:
        sheets = opened.registry.select(args.sheet)  # unknown sheet: exit 2 before any work
        approver = _terminal_approver()
        results = deploy.deploy(
            opened,
            [str(s.number) for s in sheets],
            approver,
            lambda sheet, outcome: _print_steps(sheet.key)(outcome),
        )
        _show_alerts(opened)
    if args.json:
        _emit_json({"sheets": [r.as_json() for r in results]})
    else:
        print(f"{'sheet':<6} {'outcome':<12} {'exit':<5} detail")
        for r in results:
            detail = r.backup_tag if r.outcome == "deployed" else r.message
            print(f"{r.sheet.key:<6} {r.outcome:<12} {r.exit_code:<5} {detail}")
    for r in results:
        if r.outcome != "deployed":
            _say(f"sheetstage: sheet {r.sheet.key}: {r.message}")
        for problem in r.problems:
            _say(f"problem: {problem}")
    return max((r.exit_code for r in results), default=0)


def _show_alerts(opened: Session) -> None:
    from services import jobs
    from services.alerts import REPORT, Outbox

    shown = [item.alert for item in Outbox(opened.workspace).pending(REPORT)]
    for alert in shown:
        _say(f"ALERT {alert.kind}: {alert.message}")
    jobs.reported(opened, shown)


def _rollback_points(config: Config, args: argparse.Namespace) -> int:
    from services import rollback

    with _session(config, args) as opened:
        points = rollback.rollback_points(opened, args.sheet)
    if args.json:
        _emit_json({"points": [p.as_json() for p in points]})
        return 0
    rows = [(p.tag, short_time(p.time), p.who, p.hash[:12], p.why) for p in points]
    for line in table(("backup", "time", "who", "hash", "why"), rows) if rows else ():
        print(line)
    restore = "; `sheetstage rollback TAG` restores one" if points else ""
    _say(f"{counted(len(points), 'rollback point')}{restore}")
    return 0


def _rollback(config: Config, args: argparse.Namespace) -> int:
    from services import rollback

    with _session(config, args) as opened:
        result = rollback.rollback(
            opened, args.backup_id, _terminal_approver(), _print_steps(args.backup_id[-3:])
        )
        _show_alerts(opened)
    return _way_back_result(result)


def _way_back_result(result: Any) -> int:
    print(f"{result.sheet.key}  {result.outcome}  {result.message}")
    if result.backup_tag:
        print(f"what it replaced is kept as {result.backup_tag}")
    for problem in result.problems:
        _say(f"problem: {problem}")
    return int(result.exit_code)


def _adopt(config: Config, args: argparse.Namespace) -> int:
    from services import rollback

    with _session(config, args) as opened:
        settled = rollback.adopt(opened, args.sheet)
    print(settled.message)
    return settled.exit_code


def _revert(config: Config, args: argparse.Namespace) -> int:
    from services import rollback

    with _session(config, args) as opened:
        sheet = opened.registry.select([args.sheet])[0]
        result = rollback.revert(opened, args.sheet, _terminal_approver(), _print_steps(sheet.key))
        _show_alerts(opened)
    return _way_back_result(result)


def _accept(config: Config, args: argparse.Namespace) -> int:
    from services import rollback

    with _session(config, args) as opened:
        settled = rollback.accept(opened, args.sheet, args.reason)
    print(settled.message)
    return settled.exit_code


def _resync_staging(config: Config, args: argparse.Namespace) -> int:
    from services import resync

    def confirm(plans: Sequence[resync.ResyncPlan]) -> bool:
        rebuilt = [p for p in plans if not p.skip]
        _say(
            f"resync-staging: DEV3 of {counted(len(rebuilt), 'sheet')} is replaced by production's "
            "code; whatever DEV3 holds that production does not (work not yet deployed) is "
            "backed up first, then gone from DEV3:"
        )
        for plan in rebuilt:
            _say(f"  {plan.line}")
        left = [p for p in plans if p.skip and p.skipped_as != "unchanged"]
        if left:
            _say(f"not rebuilt ({counted(len(left), 'sheet')}):")
            for plan in left:
                _say(f"  {plan.line}")
        _say("Type yes to rebuild them (anything else cancels): ")
        try:
            return sys.stdin.readline().strip() == "yes"
        except (EOFError, KeyboardInterrupt):
            return False

    def show(result: resync.ResyncResult) -> None:
        if result.outcome != "unchanged" or not args.all:
            _say(f"  {result.outcome}: sheet {result.sheet.key}: {result.message}")

    with _session(config, args) as opened:
        results = resync.resync_staging(
            opened,
            None if args.all else args.sheet,
            confirm if sys.stdin.isatty() else None,
            None if args.json else show,
        )
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    if args.json:
        _emit_json({"sheets": [r.as_json() for r in results]})
    else:
        print(", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())))
    return max((r.exit_code for r in results), default=0)


def _health(config: Config, args: argparse.Namespace) -> int:
    from services import health

    with _session(config, args) as opened:
        report = health.run_health(opened)
    if args.json:
        _emit_json(report.as_json())
    else:
        print("\n".join(report.lines()))
    return report.exit_code


def _metrics(config: Config, args: argparse.Namespace) -> int:
    from services import metrics

    since = metrics.parse_since(args.since) if args.since else None
    with _session(config, args) as opened:
        report = metrics.for_session(opened, since)
    if args.json:
        _emit_json(report.as_json())
    else:
        print("\n".join(report.lines()))
    return 0


def _alerts(config: Config, args: argparse.Namespace) -> int:
    from services.alerts import REPORT, WEBHOOK, Outbox
    from services.state import State

    with _session(config, args) as opened:
        active = State.load(opened.workspace).alerts
        outbox = Outbox(opened.workspace)
        unsent = len(outbox.pending(WEBHOOK))
        unshown = len(outbox.pending(REPORT))
        webhook = bool(config.alerts.webhook_url)
    if args.json:
        _emit_json(
            {
                "alerts": [{"key": key, **record} for key, record in active.items()],
                "webhook_pending": unsent,
                "report_pending": unshown,
            }
        )
        return 0
    rows = [
        (
            str(record.get("kind", key.split(":")[0])),
            short_time(str(record.get("since", ""))),
            str(record.get("message", key)),
        )
        for key, record in active.items()
    ]
    for line in table(("alert", "since", "message"), rows) if rows else ():
        print(line)
    waiting = (
        f"{unsent} not yet delivered to the webhook"
        if webhook
        else f"{unsent} kept for a webhook (none is configured)"
    )
    _say(f"{counted(len(active), 'active alert')}; {waiting}, {unshown} not yet shown by a run")
    return 0


def _roles(config: Config, args: argparse.Namespace) -> int:
    from services.access import read_roles, trust_problems

    with _session(config, args) as opened:
        roles = read_roles(opened.workspace)
        problems = trust_problems(opened.workspace, config.source)
        access = opened.access
        try:
            trails = [f"grants nothing: {check.describe()}" for check in opened.verify().broken]
        except RefusedError as error:  # git cannot be trusted (listed above): trails unchecked
            trails = [f"trails not checked: {error}"]
    print(
        f"you: {access.who}, {access.role_text}"
        + (f", Google account {access.account}" if access.account else "")
    )
    if roles.problem:
        print(f"roles.toml does not count: {roles.problem}")
    for user in sorted(set(roles.people) | set(roles.accounts)):
        held = ", ".join(sorted(roles.people.get(user, ()))) or "no role"
        print(f"  {user:<20} {held:<40} {roles.accounts.get(user, '')}")
    for problem in problems:
        print(f"not trusted: {problem}")
    if not problems:
        print("trusted files: roles.toml, .git/config, hooks and the config are in order")
    for trail in trails:
        print(trail)
    return 0


def _emulator(config: Config, args: argparse.Namespace) -> int:
    from services.emulator.server import EmulatorServer
    from services.google_client import write_token_file
    from services.session import emulator_credentials, emulator_settings, emulator_state_file

    port = args.port if args.port is not None else (config.emulator.port or 8089)
    try:
        server = EmulatorServer(emulator_state_file(config), emulator_settings(config), port=port)
    except OSError as error:
        raise UsageError(
            f"cannot listen on 127.0.0.1:{port} ({error.strerror}); pick another --port"
        ) from None
    token_file = config.emulator.state_dir / "token.json"
    write_token_file(token_file, emulator_credentials(server, config.emulator.user))
    _say(f"emulator serving on {server.endpoint} (state: {emulator_state_file(config)})")
    _say(
        f'to use it as Google: backend = "google" and in [google] api_endpoint = '
        f'"{server.endpoint}", token_uri = "{server.token_uri}", token_file = "{token_file}"'
    )
    _say("ctrl+c stops it")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


_HANDLERS = {
    "init": _init,
    "login": _login,
    "registry": _registry,
    "snapshot": _snapshot,
    "drift": _drift,
    "diff": _diff,
    "scan": _scan,
    "validate": _validate,
    "acknowledge": _acknowledge,
    "generate-test-data": _generate_test_data,
    "test": _test,
    "reference": _reference,
    "audit": _audit,
    "request-review": _request_review,
    "approve": _approve,
    "deploy": _deploy,
    "rollback-points": _rollback_points,
    "rollback": _rollback,
    "adopt": _adopt,
    "revert": _revert,
    "accept": _accept,
    "resync-staging": _resync_staging,
    "health": _health,
    "metrics": _metrics,
    "alerts": _alerts,
    "roles": _roles,
    "emulator": _emulator,
}


if __name__ == "__main__":
    sys.exit(main())
