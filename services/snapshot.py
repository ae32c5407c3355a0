"""Snapshots: fetch both environments' Apps Script code into the workspace, incrementally.

projects.get().updateTime is read first; content is fetched only where it moved (a project
with nothing cached: getContent alone). Fetches run concurrently on the client's thread pool
and are scanned by the PHI gate as they arrive; files are written atomically under the
workspace lock, and the whole run is ONE commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services import crashpoints
from services.audit import utc_now
from services.google_client import GoogleApiError, GoogleClient
from services.models import (
    Environment,
    FetchFailure,
    FileType,
    PhiStatus,
    ScriptFile,
    Sheet,
    SnapshotReport,
    content_hash,
)
from services.phi import Finding, Scanner, status_of
from services.registry import IdMapper
from services.state import State, load_cache
from services.workspace import (
    ORDER_FILE,
    UnsafeFileName,
    Workspace,
    disk_name,
    order_index,
    sync_to_disk,
)

ProgressCallback = Callable[[int, int, "Fetched"], None]
"""Called as each project is checked: (done, total, what happened to that project)."""


@dataclass(frozen=True)
class Fetched:
    sheet: Sheet
    env: Environment
    update_time: str = ""
    modified_by: str = ""
    files: tuple[ScriptFile, ...] | None = None  # None: unchanged since the last snapshot
    error: str = ""

    def __str__(self) -> str:
        outcome = "failed" if self.error else ("fetched" if self.files is not None else "unchanged")
        return f"{self.env} {self.sheet.key} {outcome}"


def _cache_key(sheet: Sheet, env: Environment) -> str:
    return f"{env}:{sheet.script_id(env)}"


def files_from_api(content: dict[str, Any]) -> tuple[ScriptFile, ...]:
    files = []
    for entry in content.get("files", []):
        try:
            file_type = FileType(entry.get("type"))
        except ValueError:
            raise UnsafeFileName(
                f"file {entry.get('name')!r} has unknown type {entry.get('type')!r}"
            ) from None
        files.append(ScriptFile(entry.get("name"), file_type, entry.get("source", "")))
    return tuple(files)


async def fetch(
    client: GoogleClient,
    workspace: Workspace,
    state: State,
    cache: dict[str, str],
    mapper: IdMapper,
    targets: Sequence[tuple[Sheet, Environment]],
    progress: ProgressCallback | None = None,
    unsettled: set[str] | None = None,
    gate: Scanner | None = None,
) -> list[Fetched]:
    """Check every target (no workspace lock: reading Google and the disk only). A project is
    fetched when Google moved it, or when its folder is `unsettled` (None: all folders) and
    does not hold what state.json says. With a `gate`, each fetched project is scanned as it
    arrives, while the other calls wait on Google."""
    done = 0
    halfway = len(targets) // 2

    async def one(sheet: Sheet, env: Environment) -> Fetched:
        nonlocal done
        check_disk = unsettled is None or sheet.folder(env) in unsettled
        result = await _fetch_one(client, workspace, state, cache, mapper, sheet, env, check_disk)
        if gate is not None and result.files is not None:
            # scanned now, while the other calls wait on Google: the gate's scan in apply and
            # the commit gate's (the file-order index is committed too) are memo lookups
            gate_findings(gate, sheet, env, result.files)
            gate.scan_bytes(order_index(result.files), f"{sheet.folder(env)}/{ORDER_FILE}")
        done += 1
        if progress is not None:
            progress(done, len(targets), result)
        if done == halfway:
            crashpoints.reached("fetch")
        return result

    return list(await asyncio.gather(*(one(sheet, env) for sheet, env in targets)))


def disk_hash(workspace: Workspace, mapper: IdMapper, sheet: Sheet, env: Environment) -> str | None:
    """The content hash of what the sheet's folder holds (None when it does not hold exactly a
    project): compared with state.json, it finds what a crash or a hand left different."""
    files = workspace.project_on_disk(sheet, env)
    if files is None:
        return None
    return project_hash(files, env, mapper)


def project_hash(files: Sequence[ScriptFile], env: Environment, mapper: IdMapper) -> str:
    """Content hash; staging after mapping DEV3 ids to production ids."""
    if env is Environment.STAGING:
        files = [ScriptFile(f.name, f.type, mapper.to_production(f.source)) for f in files]
    return content_hash(files)


async def _fetch_one(
    client: GoogleClient,
    workspace: Workspace,
    state: State,
    cache: dict[str, str],
    mapper: IdMapper,
    sheet: Sheet,
    env: Environment,
    check_disk: bool = True,
) -> Fetched:
    """A project the workspace knows is read with `projects.get` first and fetched only
    when it moved; one not yet in the workspace is fetched with `getContent` alone, whose
    newest file becomes its signal (a deleted file moves the project's time but no file's:
    the next run fetches it once more, as it should). A known project whose signal is lost
    (the cache is not in git: a restored workspace) is read with `projects.get`, so its
    editor and time are the project's, never an older file's."""
    script_id = sheet.script_id(env)
    try:
        cached = cache.get(_cache_key(sheet, env))
        recorded = state.hash(sheet, env)
        on_record = recorded is not None or state.held_back(sheet, env) is not None
        new = cached is None and not on_record
        if not new:
            project = await client.run(client.get_project, script_id)
            update_time = str(project.get("updateTime", ""))
            modified_by = str((project.get("lastModifyUser") or {}).get("email", ""))
            known = (
                cached == update_time
                and on_record
                and (not check_disk or disk_hash(workspace, mapper, sheet, env) == recorded)
            )
            if known:
                return Fetched(sheet, env, update_time, modified_by)
        content = await client.run(client.get_content, script_id)
        if new:
            update_time, modified_by = newest_change(content)
        files = files_from_api(content)
        workspace.plan_project(sheet, env, files)
        return Fetched(sheet, env, update_time, modified_by, files)
    except GoogleApiError as error:
        return Fetched(sheet, env, error=error.describe())
    except UnsafeFileName as error:
        return Fetched(sheet, env, error=f"refused: {error}")


def moment(stamp: str) -> datetime:
    """A time Google wrote (RFC 3339, 0 to 9 fraction digits), for comparing: as text,
    `12:00:00Z` sorts after `12:00:00.5Z`. A missing or unreadable time is the oldest."""
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def newest_change(content: dict[str, Any]) -> tuple[str, str]:
    """The update time and editor (e-mail) of a getContent answer's newest file."""
    newest = max(
        content.get("files", []),
        key=lambda entry: moment(str(entry.get("updateTime", ""))),
        default={},
    )
    editor = newest.get("lastModifyUser") or {}
    return str(newest.get("updateTime", "")), str(editor.get("email", ""))


GATE_KEYS = {Environment.STAGING: "gate", Environment.PRODUCTION: "gate_production"}


def gate_findings(
    gate: Scanner, sheet: Sheet, env: Environment, files: Sequence[ScriptFile]
) -> list[Finding]:
    """The PHI gate's scan of a project, names and contents, before anything reaches the
    disk."""
    folder = sheet.folder(env)
    findings: list[Finding] = []
    for f in files:
        name = f"{folder}/{disk_name(f.name, f.type)}"
        findings.extend(gate.scan_bytes(f.source.encode("utf-8"), name).findings)
    return findings


def gate_record(findings: Sequence[Finding], digest: str) -> dict[str, object]:
    open_findings = [f for f in findings if not f.acknowledged]
    status = status_of(findings)
    shown = [
        {
            k: v
            for k, v in f.as_json().items()
            if k in ("id", "path", "line", "type", "severity", "excerpt")
        }
        for f in open_findings
    ]
    return {"status": str(status), "hash": digest, "findings": shown}


def apply(
    workspace: Workspace,
    state: State,
    cache: dict[str, str],
    mapper: IdMapper,
    results: Sequence[Fetched],
    report: SnapshotReport,
    gate: Scanner | None = None,
) -> None:
    """Write fetched projects and record their hashes (caller holds the workspace lock, and
    has reloaded `state` and `cache` under it).

    With a gate, code and file names are scanned first: a project with `block` findings is
    never written (so never committed or pushed); its masked findings go to state.json, whose
    `hash` keeps describing what is on disk (the new content's hash is `held_back`).
    Production code is gated too: PHI in production code must not reach git or the off-site
    backup either. A result older than what another run recorded meanwhile is skipped."""
    now = utc_now()
    fetched = [r for r in results if r.files is not None]
    halfway = len(fetched) // 2
    for result in results:
        sheet, env = result.sheet, result.env
        side = state.env(sheet, env)
        report.checked[env] = report.checked.get(env, 0) + 1
        if result.error:
            report.failures.append(FetchFailure(sheet, env, result.error))
            side["error"] = result.error
            continue
        side.pop("error", None)
        if result.files is None:
            continue
        report.fetched[env] = report.fetched.get(env, 0) + 1
        if moment(cache.get(_cache_key(sheet, env), "")) > moment(result.update_time):
            continue  # a run that fetched later has already recorded newer content
        digest = project_hash(result.files, env, mapper)
        blocked = False
        if gate is not None:
            record = gate_record(gate_findings(gate, sheet, env, result.files), digest)
            if env is Environment.STAGING or record["status"] == PhiStatus.BLOCKED:
                state.sheet(sheet)[GATE_KEYS[env]] = record
            else:
                state.sheet(sheet).pop(GATE_KEYS[env], None)
            blocked = record["status"] == PhiStatus.BLOCKED
        if blocked:
            report.phi_blocked.append((env, sheet))
            side.update(held_back=digest, modified_by=result.modified_by)
            side.update(modified_at=result.update_time)
        else:
            changed = workspace.write_project(sheet, env, result.files, durable=False)
            if changed or side.get("hash") != digest or side.get("held_back"):
                report.changed.append((env, sheet))
                side.pop("held_back", None)
                side.update(
                    hash=digest,
                    modified_by=result.modified_by,
                    modified_at=result.update_time,
                    snapshot_at=now,
                )
            if env is Environment.PRODUCTION and not state.baseline(sheet):
                state.sheet(sheet)["baseline"] = digest
        cache[_cache_key(sheet, env)] = result.update_time
        if fetched and result is fetched[halfway]:
            crashpoints.reached("write")
    if fetched:  # on the disk before state.json says so (a repair run wrote them earlier)
        sync_to_disk(workspace.root)


async def snapshot_fetch(
    client: GoogleClient,
    workspace: Workspace,
    mapper: IdMapper,
    sheets: Sequence[Sheet],
    envs: Sequence[Environment],
    progress: ProgressCallback | None = None,
    gate: Scanner | None = None,
) -> list[Fetched]:
    """Phase one of a snapshot, without the workspace lock: what changed in Google (or on
    disk, left behind by a crash or a hand) is fetched, and scanned by the `gate`."""
    state = State.load(workspace)
    cache = load_cache(workspace)
    targets = [(sheet, env) for env in envs for sheet in sheets]
    unsettled = unsettled_folders(workspace)
    return await fetch(client, workspace, state, cache, mapper, targets, progress, unsettled, gate)


def unsettled_folders(workspace: Workspace) -> set[str] | None:
    """Sheet folders whose files may not be what state.json says: those that differ from the
    last commit (a crash or a hand left them so). None when state.json itself differs from the
    last commit, and every folder must be checked."""
    if workspace.head() is None or workspace.changed_paths(["state.json"]):
        return None
    folders = [Environment.PRODUCTION.folder, Environment.STAGING.folder]
    return {"/".join(path.split("/")[:2]) for path in workspace.changed_paths(folders)}


def describe(report: SnapshotReport) -> str:
    parts = []
    for env in (Environment.PRODUCTION, Environment.STAGING):
        if env not in report.checked:
            continue
        changed = sum(1 for e, _ in report.changed if e is env)
        failed = sum(1 for f in report.failures if f.env is env)
        blocked = sum(1 for e, _ in report.phi_blocked if e is env)
        parts.append(
            f"{env}: {report.checked[env]} checked, {report.fetched.get(env, 0)} fetched, "
            f"{changed} changed, {failed} failed"
            + (f", {blocked} held back by the PHI gate" if blocked else "")
        )
    return "; ".join(parts) or "nothing to snapshot"
