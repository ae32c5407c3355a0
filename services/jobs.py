"""The commands' work, headless: init, the snapshot job (and --batch), registry import/check.

Nothing here imports textual: the scheduler's `--batch` path runs through this module."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from services import activity_log, alerts, audit, drift, snapshot, validation
from services.access import render_roles
from services.audit import AuditTrail
from services.emulator.seed import DemoSeed, seed_demo
from services.emulator.store import EmulatorStore
from services.google_client import GoogleApiError
from services.registry import (
    IdMapper,
    RegistryProblem,
    parse_import_file,
    render_registry,
    validate_rows,
)
from services.session import Session, emulator_state_file
from services.state import State, load_cache, save_cache
from services.workspace import PushError, Workspace, atomic_write, current_user
from sheetstage_tui.config import Config
from sheetstage_tui.errors import UsageError
from sheetstage_tui.models import Environment, SheetDrift, SnapshotReport

SNAPSHOT_PATHS = ("production-sheets", "staging-sheets", "state.json")


# init ---------------------------------------------------------------------------------------


def init_workspace(config: Config, demo: bool) -> Workspace:
    """Create the workspace (refusing an existing one); with demo, seed the emulator first."""
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
    if demo:
        seeded = _seed_emulator(emulator_state_file(config))
        sheets, log_id, baselines = seeded.sheets, seeded.log_spreadsheet_id, seeded.baselines
    state = {
        "version": 1,
        "alerts": [],
        "sheets": {f"{n:03d}": {"baseline": h} for n, h in sorted(baselines.items())},
    }
    detail = f"{'demo ' if demo else ''}workspace with {len(sheets)} sheets"
    first_line = json.dumps(
        {
            "seq": 1,
            "time": audit.utc_now(),
            "user": user,
            "action": "init",
            "sheets": [],
            "hashes": {},
            "result": "ok",
            "detail": detail,
            "prev": audit.GENESIS,
        },
        separators=(",", ":"),
    )
    files = {
        "registry.toml": render_registry(sheets, log_id).encode(),
        "roles.toml": render_roles(user).encode(),
        "state.json": State.render(state),
        "audit/audit.jsonl": (first_line + "\n").encode(),
        "production-sheets/.gitkeep": b"",
        "staging-sheets/.gitkeep": b"",
    }
    workspace = Workspace.create(root, files, remote=config.git.remote, user=user)
    workspace.install_pre_commit_hook(pre_commit_hook(config))
    return workspace


def pre_commit_hook(config: Config) -> str:
    """The workspace's pre-commit hook: `sheetstage scan --staged`; block findings stop it."""
    from sheetstage_tui.config import packaged_default

    config_flag = (
        "" if config.source == packaged_default() else f" --config '{config.source.resolve()}'"
    )
    return f"""#!/bin/sh
# sheetstage: a commit holding PHI (block findings) is refused. Installed by sheetstage.
'{sys.executable}' -m sheetstage_tui.cli{config_flag} scan --staged
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
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.report.failures or self.new_alerts or self.problems else 0


def run_snapshot(
    session: Session,
    envs: Sequence[Environment],
    sheet_numbers: Sequence[str] | None = None,
    progress: snapshot.ProgressCallback | None = None,
) -> JobResult:
    """Snapshot, drift, alerts, audit, ONE commit, push, activity log."""
    workspace, config = session.workspace, session.config
    sheets = session.registry.select(sheet_numbers)
    session.access.require("snapshot")
    trail = AuditTrail(workspace)
    user = session.access.user
    problems: list[str] = []
    with workspace.lock(config.git.lock_timeout_s):
        client = session.client
        state = State.load(workspace)
        cache = load_cache(workspace)
        gate = validation.scanner_for(config, workspace)
        workspace.install_pre_commit_hook(pre_commit_hook(config))
        report = asyncio.run(
            snapshot.snapshot(
                client,
                workspace,
                state,
                cache,
                IdMapper(session.registry.sheets),
                sheets,
                envs,
                progress,
                gate,
            )
        )
        drift_now = drift.compute_drift(session.registry.sheets, state)
        entry = trail.append(
            user,
            "snapshot",
            sheets=sorted(
                {s.number for _, s in report.changed} | {f.sheet.number for f in report.failures}
            ),
            result="failed" if report.failures else "ok",
            detail=snapshot.describe(report),
        )
        report.audit_seq = entry.seq
        active = alerts.active_alerts(session.registry.sheets, state, drift_now, config.alerts)
        new_alerts, alert_problems = alerts.raise_new(active, state, trail, user, config.alerts)
        problems += alert_problems
        state.save(workspace)
        save_cache(workspace, cache)
        if workspace.has_changes(SNAPSHOT_PATHS):
            report.commit = workspace.commit(_commit_message(report), user=user)
        if report.commit and config.git.remote:
            try:
                workspace.push(config.git.remote)
            except PushError as error:
                problems.append(str(error))
                trail.append(user, "push", result="failed", detail=str(error))
    synced = activity_log.sync(client, session.registry.activity_log_spreadsheet_id, trail)
    problems += synced.problems
    return JobResult(report, drift_now, new_alerts, problems)


def _commit_message(report: SnapshotReport) -> str:
    changed = len(report.changed)
    title = f"snapshot: {changed} project{'s' if changed != 1 else ''} changed"
    if report.failures:
        title += f", {len(report.failures)} failed"
    lines = [title, "", snapshot.describe(report)]
    lines += [f"changed {env} {sheet.key} {sheet.name}" for env, sheet in report.changed[:500]]
    lines += [f"failed {f.env} {f.sheet.key}: {f.reason}" for f in report.failures]
    return "\n".join(lines)


def print_summary(result: JobResult, stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    report = result.report
    print(f"snapshot: {snapshot.describe(report)} in {report.duration_s:.1f}s", file=out)
    print(f"commit: {report.commit or 'none (nothing changed)'}", file=out)
    for failure in report.failures:
        print(f"FAILED {failure.env} sheet {failure.sheet.key}: {failure.reason}", file=out)
    tally = drift.counts(result.drift)
    print("drift: " + ", ".join(f"{k} {v}" for k, v in tally.items()), file=out)
    for alert in result.new_alerts:
        print(f"ALERT {alert.kind}: {alert.message}", file=out)
    for problem in result.problems:
        print(f"problem: {problem}", file=out)
    reasons = [
        f"{len(report.failures)} failed fetch(es)" if report.failures else "",
        f"{len(result.new_alerts)} new alert(s)" if result.new_alerts else "",
        f"{len(result.problems)} problem(s)" if result.problems else "",
    ]
    why = ", ".join(r for r in reasons if r) or "clean"
    print(f"result: {why} (exit {result.exit_code})", file=out)


# registry -----------------------------------------------------------------------------------


def import_registry(session: Session, path: Path) -> int:
    session.access.require("registry")
    rows = parse_import_file(path)
    sheets = validate_rows(rows, str(path))
    workspace = session.workspace
    with workspace.lock(session.config.git.lock_timeout_s):
        text = render_registry(sheets, session.registry.activity_log_spreadsheet_id)
        atomic_write(workspace.registry_path, text.encode())
        AuditTrail(workspace).append(
            session.access.user, "registry-import", detail=f"{len(sheets)} sheets from {path.name}"
        )
        workspace.commit(f"registry: import {len(sheets)} sheets from {path.name}")
    return len(sheets)


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
