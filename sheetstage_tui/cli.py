"""The command line. Headless commands run through services/ only: this module imports
textual nowhere on their path."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.progress import Progress
from sheetstage_tui import __version__
from sheetstage_tui.config import Config, load_config
from sheetstage_tui.errors import RefusedError, SheetstageError, UsageError

if TYPE_CHECKING:
    from services.deploy import Proposal
    from services.jobs import JobResult
    from services.session import Session

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


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(
        prog="sheetstage",
        description="Staging (DEV3) and production Apps Script code of the practice's Google "
        "Sheets under git: snapshots, drift, and controlled deploys.",
        parents=[_common()],  # its own copy: set_defaults below changes the actions it holds
    )
    parser.set_defaults(config=None, read_only=False, as_user="", command=None)
    parser.add_argument("--version", action="version", version=f"sheetstage {__version__}")
    parser.add_argument(
        "--batch",
        action="store_true",
        help="the scheduled job: snapshot both environments, drift, activity "
        "log, alerts; exit 0 clean, 1 failures or new alerts, 2 usage error",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="use the demo workspace on the emulator, created and seeded when missing",
    )
    parser.add_argument(
        "--json", action="store_true", help="with --batch: one JSON document on stdout"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    init = commands.add_parser("init", parents=[common], help="create the workspace")
    init.add_argument("--demo", action="store_true", help="seed the emulator with the demo")

    login = commands.add_parser("login", parents=[common], help="OAuth for backend = google")
    login.add_argument(
        "--port",
        type=int,
        default=8085,
        help="local port of the sign-in redirect (forward it over SSH: ssh -L)",
    )

    registry = commands.add_parser("registry", parents=[common], help="the sheet registry")
    registry_commands = registry.add_subparsers(
        dest="registry_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    registry_import = registry_commands.add_parser(
        "import", parents=[common], help="fill registry.toml from CSV or JSON"
    )
    registry_import.add_argument("file", type=Path)
    registry_import.add_argument(
        "--allow-removals",
        action="store_true",
        help="remove registered sheets the file does not list",
    )
    registry_check = registry_commands.add_parser(
        "check", parents=[common], help="each script's parentId against the registry"
    )
    registry_check.add_argument("--json", action="store_true")

    snap = commands.add_parser("snapshot", parents=[common], help="snapshot Apps Script code")
    snap.add_argument("--env", choices=sorted(ENVIRONMENTS), default="both")
    snap.add_argument("--sheet", action="append", metavar="N", help="only sheet N (repeatable)")
    snap.add_argument("--json", action="store_true")

    drift_parser = commands.add_parser("drift", parents=[common], help="drift per sheet")
    drift_parser.add_argument("--json", action="store_true")

    scan_parser = commands.add_parser(
        "scan", parents=[common], help="scan files for PHI: exit 0 clean, 3 review, 4 block"
    )
    scan_parser.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    scan_parser.add_argument("--staged", action="store_true", help="what is staged for commit")
    scan_parser.add_argument("--json", action="store_true")

    validate_parser = commands.add_parser(
        "validate", parents=[common], help="deploy step 1: PHI, ids, manifest, syntax, risks"
    )
    which = validate_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--sheet", action="append", metavar="N")
    which.add_argument("--all", action="store_true")
    validate_parser.add_argument("--json", action="store_true")

    acknowledge_parser = commands.add_parser(
        "acknowledge", parents=[common], help="acknowledge a review finding (practice manager)"
    )
    acknowledge_parser.add_argument("--sheet", required=True, metavar="N")
    acknowledge_parser.add_argument("--finding", required=True, metavar="ID")
    acknowledge_parser.add_argument("--reason", required=True, metavar="TEXT")

    reference_parser = commands.add_parser(
        "reference", parents=[common], help="the production reference set"
    )
    reference_commands = reference_parser.add_subparsers(
        dest="reference_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    reference_commands.add_parser(
        "refresh", parents=[common], help="cache HMACs of production identifiers"
    )

    diff_parser = commands.add_parser(
        "diff", parents=[common], help="unified diff production -> staging (DEV3 ids mapped)"
    )
    diff_parser.add_argument("--sheet", required=True, metavar="N")

    audit_parser = commands.add_parser("audit", parents=[common], help="the audit trail")
    audit_commands = audit_parser.add_subparsers(
        dest="audit_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    audit_commands.add_parser(
        "verify", parents=[common], help="chains, owners, commit anchors and the activity log"
    )

    test_data_parser = commands.add_parser(
        "generate-test-data",
        parents=[common],
        help="fill DEV3 target ranges with provably synthetic patients (or --output files)",
    )
    which = test_data_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--sheet", action="append", metavar="N")
    which.add_argument("--all", action="store_true")
    test_data_parser.add_argument(
        "--patients", type=int, metavar="N", help="patients per sheet (default [test_data])"
    )
    test_data_parser.add_argument("--seed", type=int, default=0, metavar="S")
    test_data_parser.add_argument(
        "--output", type=Path, metavar="DIR", help="write CSV and JSON files here instead"
    )
    test_data_parser.add_argument("--json", action="store_true")

    test_parser = commands.add_parser(
        "test",
        parents=[common],
        help="run the staging tests of DEV3's live code locally in V8, on DEV3 data",
    )
    tested = test_parser.add_mutually_exclusive_group(required=True)
    tested.add_argument("--sheet", action="append", metavar="N")
    tested.add_argument("--all", action="store_true")
    test_parser.add_argument("--json", action="store_true")
    test_parser.add_argument(
        "--junit", type=Path, metavar="FILE", help="also write the results as JUnit XML"
    )

    review_parser = commands.add_parser(
        "request-review", parents=[common], help="ask for a review of a sheet's staging code"
    )
    review_parser.add_argument("--sheet", required=True, metavar="N")

    approve_parser = commands.add_parser(
        "approve", parents=[common], help="approve a requested deploy (practice manager, `yes`)"
    )
    approve_parser.add_argument("--sheet", required=True, metavar="N")

    deploy_parser = commands.add_parser(
        "deploy",
        parents=[common],
        help="deploy staging -> production in seven steps (no flag skips approval)",
    )
    deploy_parser.add_argument("--sheet", required=True, action="append", metavar="N")
    deploy_parser.add_argument("--json", action="store_true")

    points_parser = commands.add_parser(
        "rollback-points", parents=[common], help="backup tags to roll back to, newest first"
    )
    points_parser.add_argument("--sheet", metavar="N")
    points_parser.add_argument("--json", action="store_true")

    rollback_parser = commands.add_parser(
        "rollback", parents=[common], help="restore production (or DEV3) from a backup tag"
    )
    rollback_parser.add_argument("backup_id", metavar="BACKUP_ID")

    for name, text in (
        ("adopt", "copy production's edit into staging; the baseline becomes production"),
        ("revert", "production back to the last deployed content"),
        ("accept", "make production as it is the new baseline (practice manager)"),
    ):
        way = commands.add_parser(name, parents=[common], help=text)
        way.add_argument("--sheet", required=True, metavar="N")
        way.add_argument("--reason", metavar="TEXT", default="")

    alerts_parser = commands.add_parser("alerts", parents=[common], help="the active alerts")
    alerts_parser.add_argument("--json", action="store_true")

    commands.add_parser(
        "roles", parents=[common], help="who has which role, and why a file is not trusted"
    )

    emulator = commands.add_parser("emulator", parents=[common], help="run the emulator standalone")
    emulator.add_argument("--port", type=int, default=None)
    return parser


def _emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=1) + "\n")
    sys.stdout.flush()


def _say(message: str) -> None:
    print(message, file=sys.stderr)


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
        git, sqlite3 = sys.modules.get("git"), sys.modules.get("sqlite3")  # when loaded
        if git is not None and isinstance(error, git.GitCommandError):
            lines = [line for line in str(error.stderr or "").splitlines() if line.strip()]
            reason = lines[-1].strip().removeprefix("stderr: ").strip("'") if lines else error
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
    handler = _HANDLERS[args.command]
    return handler(config, args)


def _ensure_demo(config: Config) -> bool:
    """--demo: the demo workspace on the emulator, created and seeded when missing."""
    from services import jobs

    if config.backend != "emulator":
        raise UsageError('--demo runs on the emulator; use a config with backend = "emulator"')
    if _workspace_exists(config):
        return False
    jobs.init_workspace(config, demo=True)
    _say(f"created the demo workspace at {config.workspace} (emulator seeded)")
    return True


def _tui(config: Config, args: argparse.Namespace) -> int:
    if args.json:
        raise UsageError("--json goes with --batch or a command, not the TUI")
    if args.demo and _ensure_demo(config):
        _first_snapshot(config, args)
    from sheetstage_tui.app import run_app

    return run_app(config, args.read_only, args.as_user)


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
        yield opened


def _settle_interrupted(opened: Session) -> None:
    """A deploy or rollback a killed run left half-done is reported to everyone, and finished
    by a practice manager's or the service account's command (under the sheet's lock)."""
    from services import deploy

    for item in deploy.pending(opened):
        _say(f"sheetstage: INTERRUPTED: {item.describe()}")
        if item.problem or not opened.access.can("finish-interrupted"):
            continue
        try:
            settled = deploy.finish(opened, item)
        except SheetstageError as error:
            _say(f"sheetstage: not finished: {error}")
            continue
        _say(f"sheetstage: finished: {settled.message}")


def _first_snapshot(config: Config, args: argparse.Namespace) -> None:
    """A new demo opens with every state known, not 470 projects never snapshotted."""
    from services import jobs
    from sheetstage_tui.models import Environment

    with _session(config, args) as opened:
        if opened.access.can("snapshot"):
            _finish_job(opened, jobs.run_snapshot(opened, list(Environment), None, _progress(args)))


def _finish_job(opened: Session, result: JobResult) -> None:
    """Print the job's summary; the alerts it showed leave the outbox's report list."""
    from services import jobs

    jobs.print_summary(result)
    jobs.reported(opened, result.to_report)


def _batch(config: Config, args: argparse.Namespace) -> int:
    from services import jobs
    from sheetstage_tui.models import Environment

    if args.demo:
        _ensure_demo(config)
    with _session(config, args) as opened:
        result = jobs.run_snapshot(opened, list(Environment), None, _progress(args))
        _finish_job(opened, result)
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


def _workspace_exists(config: Config) -> bool:
    return (config.workspace / ".git").is_dir()


def _init(config: Config, args: argparse.Namespace) -> int:
    from services import jobs

    if args.read_only:
        raise RefusedError("init refused: this session is --read-only; run without --read-only")
    workspace = jobs.init_workspace(config, demo=args.demo)
    what = "demo workspace (emulator seeded with 235 + 235 projects)" if args.demo else "workspace"
    _say(f"created the {what} at {workspace.root}")
    if not args.demo:
        _say("next: `sheetstage registry import FILE` with your sheets, then `sheetstage --batch`")
    return 0


def _login(config: Config, args: argparse.Namespace) -> int:
    if config.backend != "google":
        raise UsageError('login is for backend = "google"; the emulator needs no sign-in')
    if not config.google.client_secrets_file.is_file():
        raise UsageError(
            f"no OAuth client file at {config.google.client_secrets_file}; download the "
            "'Desktop app' OAuth client JSON from Google Cloud Console and put it there"
        )
    from google_auth_oauthlib.flow import InstalledAppFlow

    from services.google_client import SCOPES, write_token_file

    flow = InstalledAppFlow.from_client_secrets_file(
        str(config.google.client_secrets_file), scopes=list(SCOPES)
    )
    credentials = flow.run_local_server(
        host="localhost",
        port=args.port,
        open_browser=False,
        authorization_prompt_message=(
            "Open this URL in a browser on your machine (over SSH, first run "
            f"`ssh -L {args.port}:localhost:{args.port} this-host`):\n{{url}}"
        ),
        success_message="sheetstage is signed in; you can close this tab.",
    )
    write_token_file(config.google.token_file, credentials)
    _say(f"signed in; token written to {config.google.token_file} (mode 600)")
    return 0


def _registry(config: Config, args: argparse.Namespace) -> int:
    from services import jobs

    with _session(config, args) as opened:
        if args.registry_command == "import":
            plan = jobs.import_registry(opened, args.file, allow_removals=args.allow_removals)
            for line in plan.lines():
                _say(line)
            _say(plan.counts())
            if plan.changes_nothing:
                _say(f"registry.toml already matches {args.file}; nothing to commit")
            else:
                _say(f"registry.toml now holds {len(plan.sheets)} sheets (committed)")
            return 0
        problems = jobs.check_registry(opened)
    if args.json:
        _emit_json({"problems": [p.as_json() for p in problems]})
    for problem in problems:
        _say(f"sheet {problem.sheet.key} {problem.env}: {problem.problem}")
    _say(f"registry check: {len(problems)} problem(s) in {len(opened.registry.sheets)} sheets")
    return 1 if problems else 0


def _snapshot(config: Config, args: argparse.Namespace) -> int:
    from services import jobs
    from sheetstage_tui.models import Environment

    envs = [Environment(e) for e in ENVIRONMENTS[args.env]]
    with _session(config, args) as opened:
        opened.registry.select(args.sheet)  # unknown sheet: exit 2 before any work
        result = jobs.run_snapshot(opened, envs, args.sheet, _progress(args))
        _finish_job(opened, result)
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
    for d in report:
        if d.state.value != "in-sync":
            print(f"{d.sheet.key}  {d.state.glyph} {d.state:<13} {d.sheet.name}  {d.reason}")
    print(", ".join(f"{k} {v}" for k, v in drift.counts(report).items()))
    return 0


def _diff(config: Config, args: argparse.Namespace) -> int:
    from services.diff import sheet_diff, unified
    from services.registry import IdMapper

    with _session(config, args) as opened:
        sheet = opened.registry.select([args.sheet])[0]
        diff = sheet_diff(opened.workspace, IdMapper(opened.registry.sheets), sheet)
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
    for finding in result.findings:
        where = f"{finding.path}:{finding.line}:{finding.column}"
        note = f"  acknowledged: {finding.reason}" if finding.acknowledged else ""
        _say(f"{where}  {finding.type} {finding.severity}  {finding.excerpt}{note}")
    summary = result.summary()
    _say(
        f"scan: {summary['files']} files, {summary['block']} block, {summary['review']} review, "
        f"{summary['acknowledged']} acknowledged (exit {result.exit_code})"
    )
    return result.exit_code


def _validate(config: Config, args: argparse.Namespace) -> int:
    from services import validation

    with _session(config, args) as opened:
        sheets = opened.registry.select(None if args.all else args.sheet)
        reads = 2 * sum(1 for s in sheets if s.reference_ranges)  # DEV3 data and the reference
        pace = config.client.sheets_requests_per_minute
        note = f"paced by the Sheets read quota, {pace}/min ({reads} reads)" if reads else ""
        progress = Progress("validate", note=note)
        results = validation.validate(
            opened,
            None if args.all else args.sheet,
            lambda done, total, result: progress(done, total, f"{result.sheet.key} {result.phi}"),
        )
        _show_alerts(opened)
    if args.json:
        _emit_json({"sheets": [r.as_json() for r in results]})
    for result in results:
        if result.ok:
            continue
        _say(f"sheet {result.sheet.key} {result.sheet.name}: PHI {result.phi}")
        for finding in result.findings:
            note = f" (acknowledged: {finding.reason})" if finding.acknowledged else ""
            _say(
                f"  {finding.path}:{finding.line}  {finding.type} {finding.severity}  "
                f"{finding.excerpt}  id {finding.id}{note}"
            )
        for problem in result.problems:
            _say(f"  problem: {problem}")
    bad = [r for r in results if not r.ok]
    _say(f"validate: {len(results) - len(bad)} of {len(results)} sheets pass")
    return 1 if bad else 0


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
    _say(f"generate-test-data: {done} of {len(results)} sheets filled (seed {args.seed})")
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
    _say(f"test: {tested} of {len(results)} sheets have tests, {len(failing)} failing{written}")
    return 1 if failing else 0


def _acknowledge(config: Config, args: argparse.Namespace) -> int:
    from services import validation

    with _session(config, args) as opened:
        finding = validation.acknowledge(opened, args.sheet, args.finding, args.reason)
    _say(f"acknowledged {finding.type} {finding.excerpt} at {finding.path}:{finding.line}")
    return 0


def _reference(config: Config, args: argparse.Namespace) -> int:
    from services import validation

    with _session(config, args) as opened:
        count = validation.refresh_reference(opened)
    _say(f"reference refreshed: {count} identifier digests cached (no raw values)")
    return 0


def _audit(config: Config, args: argparse.Namespace) -> int:
    from services import jobs

    with _session(config, args) as opened:
        report = jobs.audit_report(opened)
    for check in report.checks:
        _say(check.describe())
    for problem in report.history:
        _say(f"history BROKEN: {problem}")
    for note in report.notes:
        _say(f"note: {note}")
    _say(report.summary())
    return 0 if report.ok else 1


def _terminal_approver() -> Callable[[Proposal], bool] | None:
    """A typed `yes` on the terminal (stdin); None when there is none (a scheduler, a pipe)."""
    if not sys.stdin.isatty():
        return None

    def ask(proposal: Proposal) -> bool:
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


def describe_proposal(proposal: Proposal) -> list[str]:
    sheet = proposal.sheet
    if proposal.action == "deploy":
        lines = [
            f"sheet {sheet.key} {sheet.name}: deploy staging -> production",
            f"  requested by {proposal.requested_by or 'nobody'}; staging "
            f"{proposal.staging_hash[:12]} against production {proposal.production_hash[:12]}",
        ]
        checks = proposal.validation
        if checks is not None:
            lines.append(f"  validation: PHI {checks.phi}; staging tests: {checks.tests_summary}")
        names = {
            "new_urls": "new external URLs",
            "new_recipients": "new e-mail recipients",
            "new_scopes": "new OAuth scopes",
            "logs_cell_values": "code that logs cell values",
        }
        lines.append("  risk summary:")
        for key, label in names.items():
            found = proposal.risks.get(key, [])
            lines.append(f"    {label}: {', '.join(found) if found else 'none'}")
    else:
        lines = [
            f"sheet {sheet.key} {sheet.name}: {proposal.action} to {proposal.target}",
            f"  now {proposal.production_hash[:12]}; the change from now to the backup:",
        ]
    lines.append(f"  diff: {proposal.diff.summary()}")
    for f in proposal.diff.files:
        if f.changed:
            lines.append(f"    {f.path}  {f.status}  +{f.added} -{f.removed}")
    return lines


def _print_steps(sheet_key: str) -> Callable[[Any], None]:
    def show(outcome: Any) -> None:
        mark = "ok  " if outcome.ok else "STOP"
        _say(f"  [{mark}] {sheet_key} {outcome.step}: {outcome.detail}")

    return show


def _request_review(config: Config, args: argparse.Namespace) -> int:
    from services import deploy

    with _session(config, args) as opened:
        entry = deploy.request_review(opened, args.sheet)
    _say(
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
    _say(
        f"approved sheet {entry.sheets[0]:03d} ({entry.event_id}) for these exact hashes; "
        f"used up by one deploy, lapses after {days:g} days"
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
    for p in points:
        print(f"{p.tag}  {p.time}  {p.who:<12} {p.hash[:12]}  {p.why}")
    _say(f"{len(points)} rollback point(s); `sheetstage rollback TAG` restores one")
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
        _say(f"what it replaced is kept as {result.backup_tag}")
    for problem in result.problems:
        _say(f"problem: {problem}")
    return int(result.exit_code)


def _adopt(config: Config, args: argparse.Namespace) -> int:
    from services import rollback

    with _session(config, args) as opened:
        settled = rollback.adopt(opened, args.sheet)
    _say(settled.message)
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
    _say(settled.message)
    return settled.exit_code


def _alerts(config: Config, args: argparse.Namespace) -> int:
    from services.alerts import REPORT, WEBHOOK, Outbox
    from services.state import State

    with _session(config, args) as opened:
        active = State.load(opened.workspace).alerts
        outbox = Outbox(opened.workspace)
        unsent = len(outbox.pending(WEBHOOK))
        unshown = len(outbox.pending(REPORT))
    if args.json:
        _emit_json(
            {
                "alerts": [{"key": key, **record} for key, record in active.items()],
                "webhook_pending": unsent,
                "report_pending": unshown,
            }
        )
        return 0
    for key, record in active.items():
        since = record.get("since", "")
        print(f"{record.get('kind', key.split(':')[0])}  {since}  {record.get('message', key)}")
    _say(
        f"{len(active)} active alert(s); {unsent} not yet delivered to the webhook, "
        f"{unshown} not yet shown by a run"
    )
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
    "alerts": _alerts,
    "roles": _roles,
    "emulator": _emulator,
}


if __name__ == "__main__":
    sys.exit(main())
