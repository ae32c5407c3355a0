"""The commands' work, headless: init, the snapshot job (and --batch), registry import/check.

Nothing here imports textual: the scheduler's `--batch` path runs through this module."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from services import activity_log, alerts, audit, drift, rollback, scanning, snapshot, validation
from services.access import render_roles
from services.audit import AuditReport
from services.chain import GENESIS, line_hash
from services.config import Config, packaged_default
from services.emulator.seed import (
    DEVELOPER,
    MANAGER,
    SCHEDULER,
    SOMEONE_ELSE,
    STAGED,
    DemoSeed,
    seed_demo,
    test_data_overrides,
)
from services.emulator.store import EmulatorStore
from services.errors import JobFailedError, SheetstageError, UsageError
from services.google_client import GoogleApiError, usage_record
from services.models import DriftState, Environment, Sheet, SheetDrift, SnapshotReport
from services.phi import Severity
from services.progress import counted
from services.registry import (
    IdMapper,
    ImportPlan,
    RegistryProblem,
    load_registry,
    plan_import,
    read_import_file,
    render_registry,
)
from services.session import Session, emulator_state_file
from services.state import VERSION as STATE_VERSION
from services.state import State, load_cache, save_cache
from services.workspace import (
    ORDER_FILE,
    OWN_FILE,
    Workspace,
    account_name,
    atomic_write,
    current_user,
    disk_name,
    make_dirs,
    order_index,
)

# init ---------------------------------------------------------------------------------------

DEMO_DEVELOPER = "dana"  # a simulated developer (--as dana) on the demo workspace
# Google's side of the demo's production writers, as the design allows them (health checks
# Drive's sharing against these): the practice manager who edits production in the Apps
# Script editor, and the service account whose Google user the scheduler runs as
DEMO_EDITOR = "sam"
DEMO_SCHEDULER = "svc"
DEMO_TEST_DATA_TIME = "2026-05-18T09:00:00Z"  # when dana filled the tested sheets' DEV3 data


def init_workspace(
    config: Config, demo: bool, phase: Callable[[str], None] | None = None
) -> Workspace:
    """Create the workspace (refusing an existing one); with demo, seed the emulator first.
    `phase` is told each step as it starts."""
    say = phase or (lambda _text: None)
    root = config.workspace
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UsageError(
            f"a workspace already exists at {root}; init changes nothing there: use it, or "
            "point `workspace` in the config at a new folder"
        )
    if demo and config.backend != "emulator":
        raise UsageError(
            'init --demo seeds the local emulator, but the config selects backend = "google"; '
            'use a config with backend = "emulator"'
        )
    user = current_user()
    sheets, log_id, baselines = [], "", {}
    roles = render_roles(user)
    files: dict[str, bytes] = {}
    if demo:
        say("seeding the emulator…")
        seeded = _seed_emulator(emulator_state_file(config))
        sheets, log_id, baselines = seeded.sheets, seeded.log_spreadsheet_id, seeded.baselines
        accounts = {
            user: MANAGER,
            DEMO_DEVELOPER: DEVELOPER,
            DEMO_EDITOR: SOMEONE_ELSE,
            DEMO_SCHEDULER: SCHEDULER,
        }
        roles = render_roles(
            user,
            accounts,
            developer=[DEMO_DEVELOPER],
            practice_manager=[DEMO_EDITOR],
            service_account=[DEMO_SCHEDULER],
        )
        files |= _demo_history(seeded) | test_data_overrides()
    state = {
        "version": STATE_VERSION,
        "alerts": {},
        "sheets": {f"{n:03d}": {"baseline": h} for n, h in sorted(baselines.items())},
    }
    for number in STAGED if demo else ():
        state["sheets"][f"{number:03d}"] |= {"deploy": "staged"}
    for number, rows in seeded.test_data.items() if demo else ():
        state["sheets"][f"{number:03d}"]["test_data"] = {
            "status": "synthetic",
            "seed": 0,
            "patients": max(rows.values()),
            "rows": rows,
            "time": DEMO_TEST_DATA_TIME,
            "by": DEMO_DEVELOPER,
        }
    detail = f"{'demo ' if demo else ''}workspace with {counted(len(sheets), 'sheet')}"
    trail = f"audit/{user}.jsonl"
    files |= {
        "registry.toml": render_registry(sheets, log_id).encode(),
        "roles.toml": roles.encode(),
        "state.json": State.render(state),
        trail: audit.render_line(1, GENESIS, user, "init", detail=detail) + b"\n",
        "production-sheets/.gitkeep": b"",
        "staging-sheets/.gitkeep": b"",
    }
    trails = [path for path in files if path.startswith("audit/")]
    say("creating the workspace…")
    return Workspace.create(
        root,
        files,
        own_files=("roles.toml", *trails),
        remote=config.git.remote,
        user=user,
        hook=pre_commit_hook(config),
    )


def _demo_history(seeded: DemoSeed) -> dict[str, bytes]:
    """The demo's history: the simulated developer asked for review of the staged sheets, and
    the sheets whose production was edited behind everyone's back hold their last deployed
    code in the first commit (so `revert` finds it)."""
    events: list[tuple[str, int, dict[str, str], str]] = [
        (
            "generate-test-data",
            number,
            {},
            f"seed 0, {max(rows.values())} patients: "
            + ", ".join(f"{tab} {count} rows" for tab, count in rows.items()),
        )
        for number, rows in sorted(seeded.test_data.items())
    ]
    for number in STAGED:
        staging, production = seeded.heads[number]
        detail = f"review requested: staging {staging[:12]} against production {production[:12]}"
        events.append(
            ("request-review", number, {"staging": staging, "production": production}, detail)
        )
    lines, prev = [], GENESIS
    for seq, (action, number, hashes, detail) in enumerate(events, start=1):
        line = audit.render_line(
            seq, prev, DEMO_DEVELOPER, action, sheets=[number], hashes=hashes, detail=detail
        )
        lines.append(line)
        prev = line_hash(line)
    files = {f"audit/{DEMO_DEVELOPER}.jsonl": b"\n".join(lines) + b"\n"}
    by_number = {sheet.number: sheet for sheet in seeded.sheets}
    for number, project in seeded.baseline_files.items():
        folder = by_number[number].folder(Environment.PRODUCTION)
        for f in project:
            files[f"{folder}/{disk_name(f.name, f.type)}"] = f.source.encode("utf-8")
        files[f"{folder}/{ORDER_FILE}"] = order_index(project)
    return files


def pre_commit_hook(config: Config) -> str:
    """The pre-commit hook for people committing by hand: `sheetstage scan --staged`, found on
    the committer's PATH (nothing of the installing person's is needed); block findings stop
    the commit. The config in use is passed on when the committer can read it."""
    source = "" if config.source == packaged_default() else str(config.source.resolve())
    quoted = "'" + source.replace("'", "'\\''") + "'"
    return f"""#!/bin/sh
# sheetstage: a commit holding PHI (block findings) is refused. Installed by sheetstage for
# people committing by hand; sheetstage scans what it stages itself.
if command -v sheetstage >/dev/null 2>&1; then
    set -- sheetstage
elif command -v python3 >/dev/null 2>&1 && python3 -c 'import sheetstage_tui' 2>/dev/null; then
    set -- python3 -m sheetstage_tui.cli
else
    echo "sheetstage: commit refused: sheetstage is not on your PATH (install it, or add it)" >&2
    exit 1
fi
config={quoted}
if [ -z "$SHEETSTAGE_CONFIG" ] && [ -n "$config" ] && [ -r "$config" ]; then
    set -- "$@" --config "$config"
fi
"$@" scan --staged
status=$?
if [ "$status" -eq 4 ]; then
    echo "sheetstage: commit refused: the staged files hold PHI (above)" >&2
    exit 1
fi
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
    echo "sheetstage: the PHI scan could not run (exit $status): commit refused" >&2
    exit 1
fi
exit 0
"""


def _seed_emulator(state_file: Path) -> DemoSeed:
    """Seed a fresh emulator database beside the old one, then swap it in."""
    state_file.parent.mkdir(parents=True, exist_ok=True)
    fresh = state_file.with_name(f".{state_file.name}.{os.getpid()}.new")
    for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm")):
        leftover.unlink(missing_ok=True)
    store = EmulatorStore(fresh)
    try:
        with store.transaction():  # one commit, not thousands
            seeded = seed_demo(store)
        store.checkpoint()
    finally:
        store.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{state_file}{suffix}").unlink(missing_ok=True)
        Path(f"{fresh}{suffix}").unlink(missing_ok=True)
    os.replace(fresh, state_file)
    return seeded


# snapshot and --batch -------------------------------------------------------------------------


@dataclass
class JobResult:
    report: SnapshotReport
    drift: list[SheetDrift]
    new_alerts: list[alerts.Alert] = field(default_factory=list)
    to_report: list[alerts.Alert] = field(default_factory=list)  # new and left by killed runs
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    audit: AuditReport | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.report.failures or self.to_report or self.problems else 0


def run_snapshot(
    session: Session,
    envs: Sequence[Environment],
    sheet_numbers: Sequence[str] | None = None,
    progress: snapshot.ProgressCallback | None = None,
    phase: Callable[[str], None] | None = None,
    run: str = "snapshot",
) -> JobResult:
    """Snapshot, drift, audit check, alerts, ONE commit, push, activity log. `run` says in the
    trail what started it: "batch" (the scheduled job, which `health` looks for) or "snapshot".

    Google is read without the workspace lock; the lock is taken only to write. `phase` is
    told each step after the fetch as it starts (they have no count for a progress bar)."""
    say = phase or (lambda _text: None)
    workspace, config = session.workspace, session.config
    sheets = session.registry.select(sheet_numbers)
    session.require("snapshot")
    mapper = IdMapper(session.registry.sheets)
    client = session.client
    meter = client.meter()  # this run's calls per quota, for health's quota headroom
    started = time.monotonic()
    gate = scanning.scanner_for(config, workspace)
    log_id = session.registry.activity_log_spreadsheet_id

    async def fetch_and_read_log() -> tuple[list[snapshot.Fetched], LogRead]:
        # the log is read while the projects are: neither waits on the other
        log_read = asyncio.create_task(asyncio.to_thread(_read_log, session, log_id))
        fetched = await snapshot.snapshot_fetch(
            client, workspace, mapper, sheets, envs, progress, gate
        )
        return fetched, await log_read

    fetched, (log, problems) = asyncio.run(fetch_and_read_log())
    witness = activity_log.witness_of(log) if log is not None else None
    trail = session.trail()
    report = SnapshotReport()
    outbox = alerts.Outbox(workspace)
    if gate.reference is None or not gate.reference.digests:
        workspace.notices.append(
            "no production reference is cached: the PHI gate cannot tell production "
            "patients' identifiers from others; run `sheetstage reference refresh`"
        )
    with workspace.lock(config.git.lock_timeout_s):
        workspace.recover_git_locks()
        move_planted_trails(session)
        state = State.load(workspace)
        rollback.apply_baselines(session, state)  # state.json only caches them
        cache = load_cache(workspace)
        workspace.install_pre_commit_hook(pre_commit_hook(config))
        projects = sum(1 for f in fetched if f.files is not None)
        if projects:
            say(f"writing {counted(projects, 'fetched project')}…")
        snapshot.apply(workspace, state, cache, mapper, fetched, report, gate)
        del fetched  # written: the code's memory is free for the commit and what follows
        rollback.record_baselines(session, state)
        report.duration_s = time.monotonic() - started
        verified = session.verify(witness)
        drift_now = drift.compute_drift(session.registry.sheets, state)
        entry = trail.append(
            "snapshot",
            sheets=sorted(
                {s.number for _, s in report.changed} | {f.sheet.number for f in report.failures}
            ),
            hashes={
                "run": run,
                "checked": str(sum(report.checked.values())),
                "failed": str(len(report.failures)),
                **usage_record(meter.snapshot()),  # calls, peak_per_minute, http_429
            },
            result="failed" if report.failures else "ok",
            detail=snapshot.describe(report),
        )
        report.audit_seq = entry.seq
        active = alerts.active_alerts(
            session.registry.sheets, state, drift_now, config.alerts, verified
        )
        raised = alerts.raise_new(active, state, trail, outbox)
        state.save(workspace)
        outbox.confirm(raised)  # recorded as active: raised again only if they recur
        save_cache(workspace, cache)
        paths = [
            *snapshot_paths(workspace, session.registry.sheets),
            *workspace.changed_paths(["state.json"]),
        ]
        # A run that finds nothing new commits nothing (its line goes with the next commit),
        # unless there is an off-site backup: then its trail line goes there now, so a
        # workspace restored from the backup lacks none of the lines the activity log holds.
        if paths or config.git.remote:
            say(f"committing {counted(len(paths), 'file')}…")
            try:
                report.commit = session.commit(
                    _commit_message(report), paths, check_staged=validation.commit_gate(gate)
                )
            except JobFailedError as error:
                with contextlib.suppress(OSError):  # a full disk may refuse this line too
                    trail.append("commit", result="failed", detail=str(error)[:300])
                raise
        if config.git.remote:  # also what an earlier push that failed left behind
            say(f"pushing to {config.git.remote}…")
            session.push(always=True)
        for problem in session.push_problems:  # said here, in the job's summary, only
            problems.append(problem)
            trail.append("push", result="failed", detail=problem[:300])
        session.push_problems.clear()
    webhook = bool(config.alerts.webhook_url and outbox.pending(alerts.WEBHOOK))
    steps = [
        *(["syncing the activity log"] if log_id else []),
        *(["sending the alerts to the webhook"] if webhook else []),
    ]
    if steps:
        say(f"{' and '.join(steps)}…")
    # both wait on the network, not on each other
    with ThreadPoolExecutor(max_workers=1) as pool:
        delivered = pool.submit(alerts.deliver, outbox, config.alerts)
        if log_id:
            problems += session.sync_log(log)
        problems += delivered.result()
    return JobResult(
        report,
        drift_now,
        [item.alert for item in raised],
        [item.alert for item in outbox.pending(alerts.REPORT)],
        problems,
        list(workspace.notices),
        verified,
    )


def move_planted_trails(session: Session) -> None:
    """A trail file that is not its person's and was never committed was planted (it would
    lock that person out): the workspace's owner's runs move it to the quarantine."""
    workspace = session.workspace
    if os.geteuid() != workspace.owner_uid:
        return
    report = session.verify()
    for check in report.checks:
        planted = check.untrusted and check.person is not None
        path = workspace.audit_dir / check.name
        if not planted or workspace.file_at("HEAD", f"audit/{check.name}") is not None:
            continue
        owner = account_name(path.lstat().st_uid)
        target = workspace.internal / "quarantine" / f"{check.name}.{audit.utc_now()}"
        make_dirs(target.parent)
        os.replace(path, target)
        workspace.notices.append(
            f"audit/{check.name} was not {check.person}'s (owned by {owner}) and never "
            f"committed: moved to {workspace.relative(target)}"
        )


LogRead = tuple[activity_log.Log | None, list[str]]


def _read_log(session: Session, log_id: str) -> LogRead:
    """The activity log as it is (None when it cannot be read): the witness of trail lines
    not yet committed, and what the sync at the end leaves out."""
    if not log_id:
        return None, ["no activity log: set [activity_log].spreadsheet_id in registry.toml"]
    try:
        return activity_log.read_log(session.client, log_id), []
    except GoogleApiError as error:
        return None, [f"activity log not read: {error.describe()}"]


def audit_report(session: Session) -> AuditReport:
    """`audit verify`: every trail against every witness there is, the activity log and the
    off-site backup included when they can be reached (said so when they cannot)."""
    log_id = session.registry.activity_log_spreadsheet_id
    try:
        log, notes = _read_log(session, log_id)
    except SheetstageError as error:  # no credentials, say: verify still checks the rest
        log, notes = None, [f"activity log not read: {error}"]
    witness = activity_log.witness_of(log) if log is not None else None
    report = session.verify(witness, remote=session.config.git.remote)
    report.notes[:0] = notes
    return report


def reported(session: Session, shown: Sequence[alerts.Alert]) -> None:
    """The caller has shown these alerts to a person: they leave the outbox's report list."""
    outbox = alerts.Outbox(session.workspace)
    keys = {a.key for a in shown}
    outbox.done([i for i in outbox.pending(alerts.REPORT) if i.alert.key in keys], alerts.REPORT)


def snapshot_paths(workspace: Workspace, sheets: Sequence[Sheet]) -> list[str]:
    """What a snapshot may commit: the files of registered sheet folders that differ from the
    last commit and belong to their project (a stray file dropped in a folder never does, nor
    a symbolic link planted in a file's place or on its way)."""
    expected: dict[str, set[str]] = {}
    for sheet in sheets:
        for env in Environment:
            folder = sheet.folder(env)
            names = workspace.project_files(sheet, env)
            expected[folder] = {f"{folder}/{name}" for name in [ORDER_FILE, *names]}
    chosen = []
    envs = [Environment.PRODUCTION.folder, Environment.STAGING.folder]
    for path in workspace.changed_paths(envs):
        folder = "/".join(path.split("/")[:2])
        deleted = not (workspace.root / path).exists()
        wanted = folder in expected and (path in expected[folder] or deleted)
        if wanted and not workspace.linked(path):
            chosen.append(path)
    return chosen


def _commit_message(report: SnapshotReport) -> str:
    changed = len(report.changed)
    title = f"snapshot: {changed} project{'s' if changed != 1 else ''} changed"
    if report.failures:
        title += f", {len(report.failures)} failed"
    lines = [title, "", snapshot.describe(report)]
    lines += [f"changed {env} {sheet.key} {sheet.name}" for env, sheet in report.changed[:500]]
    lines += [f"failed {f.env} {f.sheet.key}: {f.reason}" for f in report.failures]
    return "\n".join(lines)


HELD_BACK = "held back by the PHI gate"  # how drift's reason says the gate held code back
_OFF_BASELINE = "`sheetstage adopt|revert|accept --sheet N`"


def _sheet_keys(drifts: Sequence[SheetDrift], shown: int = 8) -> str:
    keys = [d.sheet.key for d in drifts]
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


def still_open(drifts: Sequence[SheetDrift]) -> list[tuple[str, str, list[SheetDrift]]]:
    """What needs a person after the run, whatever the run itself did: sheets whose newest code
    the PHI gate holds back, production edited outside sheetstage, states not known. Each as
    (what, what to do, the sheets)."""
    held = [d for d in drifts if HELD_BACK in d.reason]
    unknown = DriftState.UNKNOWN

    def off(state: DriftState) -> list[SheetDrift]:  # unknown because held back: said once
        return [d for d in drifts if d.state is state and not (state is unknown and d in held)]

    groups = [
        (HELD_BACK, "remove the PHI from their DEV3 code", held),
        (
            "prod-modified",
            f"production edited outside sheetstage; {_OFF_BASELINE}",
            off(DriftState.PROD_MODIFIED),
        ),
        ("diverged", f"both sides changed; {_OFF_BASELINE}", off(DriftState.DIVERGED)),
        ("unknown", "`sheetstage drift` says why", off(unknown)),
    ]
    return [group for group in groups if group[2]]


def print_summary(
    result: JobResult, stream: TextIO | None = None, *, before_tui: bool = False
) -> None:
    """The job's report, for a person or a scheduler's log. The last line gives the exit code
    and what is still open; `before_tui` (the first run of `sheetstage --demo`) gives no exit
    code: its alerts are news about the demo, and the TUI opens next."""
    out = stream or sys.stderr
    report = result.report
    for notice in result.notices:
        print(f"notice: {notice}", file=out)
    print(f"snapshot: {snapshot.describe(report)} in {report.duration_s:.1f}s", file=out)
    print(f"commit: {report.commit or 'none (nothing changed)'}", file=out)
    for failure in report.failures:
        print(f"FAILED {failure.env} sheet {failure.sheet.key}: {failure.reason}", file=out)
    tally = drift.counts(result.drift)
    print("drift: " + ", ".join(f"{k} {v}" for k, v in tally.items()), file=out)
    new = {a.key for a in result.new_alerts}
    for alert in result.to_report:
        earlier = "" if alert.key in new else " (raised by an earlier run that was interrupted)"
        print(f"ALERT {alert.kind}: {alert.message}{earlier}", file=out)
    for problem in result.problems:
        print(f"problem: {problem}", file=out)
    groups = still_open(result.drift)
    for what, todo, found in groups:
        keys = _sheet_keys(found)
        print(f"still open: {counted(len(found), 'sheet')} {what} ({keys}): {todo}", file=out)
    print(f"result: {_result_line(result, groups, before_tui)}", file=out)


def _result_line(
    result: JobResult, groups: list[tuple[str, str, list[SheetDrift]]], before_tui: bool
) -> str:
    """What the run found, its exit code (none before the TUI), and how much is still open."""
    report = result.report
    failed = [
        counted(len(report.failures), "failed fetch", "failed fetches") if report.failures else "",
        counted(len(result.problems), "problem") if result.problems else "",
    ]
    failures = ", ".join(f for f in failed if f)
    new = {a.key for a in result.new_alerts}
    carried = sum(1 for a in result.to_report if a.key not in new)
    news = ""
    if result.to_report:
        news = counted(len(result.to_report), "new alert") + (
            f" ({carried} of them raised by an interrupted run)" if carried else ""
        )
        news += " — news (events found), not a failure of the run"
    sheets = {d.sheet.key for _, _, found in groups for d in found}
    still = f"still open: {counted(len(sheets), 'sheet')} (above)" if sheets else ""
    if before_tui:
        done = "the first snapshot is done" + (f" with {failures}" if failures else "")
        again = "; `sheetstage alerts` lists them again" if news else ""
        return "; ".join(p for p in (done, news + again, still) if p) + "; the TUI opens now"
    code = f"exit {result.exit_code}"
    if not failures and not news:
        return f"no failures, no new alerts ({code}); {still}" if still else f"clean ({code})"
    found = "; ".join(p for p in (failures, news) if p)
    return f"{found} ({code})" + (f"; {still}" if still else "")


# registry -----------------------------------------------------------------------------------


def import_registry(session: Session, path: Path, allow_removals: bool = False) -> ImportPlan:
    """The import planned against registry.toml as it is under the lock. A refused plan (no
    rows, a bad row, removals without allow_removals) writes nothing; a plan that changes
    nothing commits nothing."""
    session.require("registry")
    exported = read_import_file(path)
    workspace = session.workspace
    with workspace.lock(session.config.git.lock_timeout_s):
        current = load_registry(workspace.registry_path)
        plan = plan_import(
            current, exported.rows, exported.columns, str(path), allow_removals=allow_removals
        )
        if plan.changes_nothing:
            return plan
        _refuse_phi_in_names(session, plan)
        text = render_registry(plan.sheets, current.activity_log_spreadsheet_id)
        atomic_write(workspace.registry_path, text.encode(), OWN_FILE)
        summary = f"{counted(len(plan.sheets), 'sheet')} from {path.name} ({plan.tally()})"
        session.trail().append("registry-import", detail=summary)
        session.commit(f"registry: import {summary}", ["registry.toml"])
    session.sync_log()
    return plan


def _refuse_phi_in_names(session: Session, plan: ImportPlan) -> None:
    """A sheet's name is shown everywhere: one that holds what looks like patient data is
    refused (and never echoed)."""
    scanner = scanning.scanner_for(session.config, session.workspace)
    for sheet in plan.sheets:
        found = scanner.scan_text(sheet.name, "registry.toml")
        blocking = [f for f in found if f.severity is Severity.BLOCK]
        if blocking:
            raise UsageError(
                f"{plan.origin}: the name of sheet {sheet.key} holds what looks like patient "
                f"data ({blocking[0].type} {blocking[0].excerpt}); use a name without identifiers"
            )


async def _check_one(session: Session, sheet, env: Environment) -> RegistryProblem | None:
    client = session.client
    script_id, spreadsheet_id = sheet.script_id(env), sheet.spreadsheet_id(env)
    try:
        project = await client.run(client.get_project, script_id)
    except GoogleApiError as error:
        return RegistryProblem(sheet, env, f"script {script_id}: {error.describe()}")
    parent = project.get("parentId", "")
    if parent != spreadsheet_id:
        return RegistryProblem(
            sheet,
            env,
            f"script {script_id} is bound to {parent or 'nothing'}, registry says {spreadsheet_id}",
        )
    try:
        meta = await client.run(client.get_drive_file, spreadsheet_id)
    except GoogleApiError as error:
        return RegistryProblem(sheet, env, f"spreadsheet {spreadsheet_id}: {error.describe()}")
    if meta.get("mimeType") != "application/vnd.google-apps.spreadsheet":
        return RegistryProblem(
            sheet, env, f"{spreadsheet_id} is a {meta.get('mimeType')}, not a spreadsheet"
        )
    return None


def check_registry(session: Session) -> list[RegistryProblem]:
    async def check_all() -> list[RegistryProblem | None]:
        return await asyncio.gather(
            *(
                _check_one(session, sheet, env)
                for sheet in session.registry.sheets
                for env in Environment
            )
        )

    return [p for p in asyncio.run(check_all()) if p is not None]
