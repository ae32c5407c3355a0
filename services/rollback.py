"""Rollback points and the ways back (DESIGN.md "The deploy pipeline"): `rollback` to a backup
tag, `revert` to the last deployed content, `accept` production as the new baseline, `adopt`
production's edit into staging. Each is recorded in the trail and moves the baseline.
`finish` settles a deploy or any of these that a killed run left half-done.

A backup tag counts only when its creator's intact trail holds a `backup` entry with the same
tag, commit and content hash: a tag anyone pushed or moved restores nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services import crashpoints, scripttests_job
from services.access import DEVELOPER, PRACTICE_MANAGER, SERVICE_ACCOUNT, RolesFile, read_roles
from services.alerts import raise_alert
from services.audit import AuditReport
from services.deploy import (
    Approver,
    Backup,
    DeployResult,
    Interrupted,
    Journal,
    Proposal,
    Settled,
    Step,
    StepOutcome,
    StopDeploy,
    api_files,
    close_operation,
    live_project,
    push_backup,
    read_back_hash,
    settle_deploy,
    take_backup,
)
from services.diff import diff_projects
from services.errors import JobFailedError, RefusedError, UsageError
from services.google_client import GoogleApiError
from services.models import Environment, ScriptFile, Sheet, content_hash
from services.registry import IdMapper
from services.scanning import scanner_for
from services.scripttests import StagingTests
from services.snapshot import gate_findings
from services.state import State
from services.workspace import TagInfo

if TYPE_CHECKING:
    from services.session import Session

TAG_PATTERNS = {Environment.PRODUCTION: "prod-backup-*", Environment.STAGING: "staging-backup-*"}


@dataclass(frozen=True)
class BackupPoint:
    tag: str
    env: Environment
    sheet: int
    time: str
    who: str
    why: str
    hash: str
    commit: str

    def as_json(self) -> dict[str, object]:
        return {
            "tag": self.tag,
            "env": str(self.env),
            "sheet": self.sheet,
            "time": self.time,
            "who": self.who,
            "why": self.why,
            "hash": self.hash,
            "commit": self.commit,
        }


def _parse_tag(info: TagInfo, env: Environment) -> BackupPoint | None:
    fields = {}
    for line in info.message.splitlines():
        key, _, value = line.partition(": ")
        fields[key.strip()] = value.strip()
    try:
        sheet = int(info.name.rsplit("-sheet-", 1)[1])
    except (IndexError, ValueError):
        return None
    if not {"who", "why", "hash"} <= set(fields):
        return None
    return BackupPoint(
        info.name, env, sheet, info.time, fields["who"], fields["why"], fields["hash"], info.commit
    )


def rollback_points(
    session: Session, number: str | None = None, report: AuditReport | None = None
) -> list[BackupPoint]:
    """Backup tags, newest first, that match their creator's trail entry (others are not
    restorable and not listed)."""
    workspace = session.workspace
    wanted = session.registry.select([number])[0].number if number is not None else None
    report = report or session.verify()
    roles = read_roles(workspace)
    may_back_up = {  # who may make a point that production (or DEV3) is restored to
        Environment.PRODUCTION: roles.holders(PRACTICE_MANAGER) | roles.holders(SERVICE_ACCOUNT),
        Environment.STAGING: roles.holders(PRACTICE_MANAGER) | roles.holders(DEVELOPER),
    }
    recorded = {
        (e.hashes.get("tag"), e.hashes.get("commit"), e.hashes.get("hash"), e.user, env)
        for env, people in may_back_up.items()
        for e in report.trusted_entries(people)
        if e.action == "backup" and e.result == "ok" and e.hashes.get("env") == str(env)
    }
    points = []
    for env, pattern in TAG_PATTERNS.items():
        for info in workspace.tags(pattern):
            point = _parse_tag(info, env)
            if point is None or (wanted is not None and point.sheet != wanted):
                continue
            if (point.tag, point.commit, point.hash, point.who, env) in recorded:
                points.append(point)
    return sorted(points, key=lambda p: (p.time, p.tag), reverse=True)


def baselines_from_trails(report: AuditReport, roles: RolesFile) -> dict[int, str]:
    """Each sheet's baseline as the trails set it: the newest deploy, rollback, revert, accept
    or adopt of production by someone whose role allows it, else the first production hash
    any snapshot recorded (`baseline` entries: the first one counts, a later one moves
    nothing). state.json only caches this."""
    allowed = {
        "deploy": roles.holders(PRACTICE_MANAGER) | roles.holders(SERVICE_ACCOUNT),
        "rollback": roles.holders(PRACTICE_MANAGER),
        "revert": roles.holders(PRACTICE_MANAGER),
        "accept": roles.holders(PRACTICE_MANAGER),
        "adopt": roles.holders(PRACTICE_MANAGER) | roles.holders(DEVELOPER),
    }
    moved: dict[int, tuple[str, str]] = {}
    first: dict[int, tuple[str, str]] = {}
    for entry in report.trusted_entries():
        if entry.result != "ok":
            continue
        if entry.action == "baseline":
            for number in entry.sheets:
                digest = entry.hashes.get(f"{number:03d}", "")
                if digest and (number not in first or entry.time < first[number][0]):
                    first[number] = (entry.time, digest)
            continue
        if entry.user not in allowed.get(entry.action, ()) or not entry.hashes.get("baseline"):
            continue
        for number in entry.sheets:
            if number not in moved or moved[number][0] <= entry.time:
                moved[number] = (entry.time, entry.hashes["baseline"])
    return {number: digest for number, (_, digest) in (first | moved).items()}


def apply_baselines(
    session: Session, state: State, report: AuditReport | None = None
) -> dict[int, str]:
    """state.json's cached baselines set back to what the trails say; returns the baselines
    state.json holds that no trail records yet (a first snapshot's)."""
    derived = baselines_from_trails(report or session.verify(), read_roles(session.workspace))
    unrecorded = {}
    for sheet in session.registry.sheets:
        if sheet.number in derived:
            state.sheet(sheet)["baseline"] = derived[sheet.number]
        elif state.baseline(sheet):
            unrecorded[sheet.number] = str(state.baseline(sheet))
    return unrecorded


def record_baselines(session: Session, state: State) -> None:
    """Baselines only state.json holds (a first snapshot's, or one from before the trails
    recorded them) go into the runner's trail, so a later edit of state.json moves nothing."""
    unrecorded = apply_baselines(session, state)
    if unrecorded:
        session.trail().append(
            "baseline",
            sheets=sorted(unrecorded),
            hashes={f"{number:03d}": digest for number, digest in sorted(unrecorded.items())},
            detail=f"first production hash of {len(unrecorded)} sheet(s) recorded as baseline",
        )


# restoring ------------------------------------------------------------------------------------


def rollback(
    session: Session,
    tag: str,
    approver: Approver | None,
    progress: Callable[[StepOutcome], None] | None = None,
    tests: StagingTests = scripttests_job.staging_tests,
) -> DeployResult:
    """Restore a sheet's production (or DEV3) code from a backup tag."""
    env = Environment.STAGING if tag.startswith("staging-backup-") else Environment.PRODUCTION
    session.require("rollback" if env is Environment.PRODUCTION else "rollback-staging")
    point = next((p for p in rollback_points(session) if p.tag == tag), None)
    if point is None:
        raise UsageError(
            f"{tag} is not a rollback point (no such tag, or no trail entry of its creator "
            "matches it); `sheetstage rollback-points` lists them"
        )
    sheet = session.registry.by_number(point.sheet)
    files = session.workspace.read_project_at(point.commit, sheet, env)
    if files is None or content_hash(files) != point.hash:
        raise RefusedError(
            f"{tag}: the commit it names does not hold the content its hash says; not restored"
        )
    kind = "rollback" if env is Environment.PRODUCTION else "rollback-staging"
    return restore(session, sheet, env, files, point.tag, kind, approver, progress, tests)


def revert(
    session: Session,
    number: str,
    approver: Approver | None,
    progress: Callable[[StepOutcome], None] | None = None,
    tests: StagingTests = scripttests_job.staging_tests,
) -> DeployResult:
    """Production back to its baseline (the last deployed, reverted, adopted or accepted
    content), found in a backup tag or in the workspace's history."""
    session.require("revert")
    sheet = session.registry.select([number])[0]
    state = State.load(session.workspace)
    report = session.verify()
    apply_baselines(session, state, report)
    baseline = state.baseline(sheet)
    if not baseline:
        raise UsageError(f"sheet {sheet.key} has no baseline yet; snapshot it first")
    source, files = find_content(session, sheet, Environment.PRODUCTION, baseline)
    if files is None:
        raise UsageError(
            f"sheet {sheet.key}: its baseline {baseline[:12]} is in no backup and no commit of "
            "the workspace; use `sheetstage rollback-points --sheet "
            f"{sheet.number}` and `sheetstage rollback TAG`, or `sheetstage accept`"
        )
    return restore(
        session, sheet, Environment.PRODUCTION, files, source, "revert", approver, progress, tests
    )


def find_content(
    session: Session, sheet: Sheet, env: Environment, digest: str
) -> tuple[str, list[ScriptFile] | None]:
    """A project's content with this hash, from a rollback point (named) or the newest commit
    holding it; ("", None) when the workspace has it nowhere."""
    workspace = session.workspace
    for point in rollback_points(session, str(sheet.number)):
        if point.env is env and point.hash == digest:
            files = workspace.read_project_at(point.commit, sheet, env)
            if files is not None and content_hash(files) == digest:
                return point.tag, files
    for commit in workspace.commits_touching(sheet.folder(env)):
        files = workspace.read_project_at(commit, sheet, env)
        if files is not None and content_hash(files) == digest:
            return f"commit {commit[:12]}", files
    return "", None


def restore(
    session: Session,
    sheet: Sheet,
    env: Environment,
    files: list[ScriptFile],
    source: str,
    kind: str,
    approver: Approver | None,
    progress: Callable[[StepOutcome], None] | None = None,
    tests: StagingTests = scripttests_job.staging_tests,
) -> DeployResult:
    """Steps 3-7 for a way back: the diff from now to the target, a typed `yes`, a backup of
    what it replaces, the restore, a verify by content hash (staging tests are run and
    reported, never a reason to undo), the log."""
    result = DeployResult(sheet, "refused", "", 5)
    done = result.recorder(progress)
    target = content_hash(files)
    try:
        with session.workspace.sheet_lock(sheet):
            current = live_project(session, sheet, env)
            before = content_hash(current)
            if before == target:
                result.outcome, result.exit_code = "unchanged", 0
                result.message = f"{env} sheet {sheet.key} already holds {source}; nothing to do"
                return result
            no_mapping = IdMapper([])
            diff = diff_projects(sheet, current, files, no_mapping)
            done(Step.DIFF, True, diff.summary())
            if approver is None:
                raise RefusedError(
                    f"{kind} refused: it needs a typed `yes` on a terminal; run it in one"
                )
            proposal = Proposal(sheet, "", "", before, diff, action=kind, target=source)
            if not approver(proposal):
                done(Step.APPROVE, False, "not confirmed")
                raise StopDeploy(f"not confirmed (only `yes` confirms); {env} unchanged")
            done(Step.APPROVE, True, f"confirmed by {session.access.user}")
            journal = Journal.start(
                session,
                kind,
                sheet,
                env,
                before=before,
                target=target,
                source=source,
            )
            try:
                backup = take_backup(
                    session,
                    sheet,
                    env,
                    current,
                    f"before {kind} to {source}",
                    journal,
                    {"target": target},
                    phi_allowed=True,  # the way back replaces what holds PHI
                )
            except StopDeploy as error:
                done(Step.BACKUP, False, str(error))
                close_operation(session, journal, sheet, "stopped", str(error), {})
                raise
            result.backup_tag = backup.tag
            result.problems += push_backup(session)
            done(Step.BACKUP, True, backup.tag or "not backed up: it holds PHI (see the trail)")
            settled = _apply(session, journal, sheet, env, files, kind, source, tests, done)
    except RefusedError as error:
        result.outcome, result.message, result.exit_code = "refused", str(error), 5
        return result
    except (StopDeploy, JobFailedError) as error:
        result.outcome, result.message, result.exit_code = "stopped", str(error), 1
        return result
    result.outcome, result.message, result.exit_code = (
        settled.outcome,
        settled.message,
        settled.exit_code,
    )
    result.deployed_hash = settled.hash
    problems = session.sync_log()
    result.problems += problems
    done(Step.LOG, not problems, "; ".join(problems) or "trail and activity log written")
    return result


def _apply(
    session: Session,
    journal: Journal,
    sheet: Sheet,
    env: Environment,
    files: list[ScriptFile],
    kind: str,
    source: str,
    tests: StagingTests,
    done: Callable[[Step, bool, str], None],
) -> Settled:
    target = content_hash(files)
    entry = session.trail().append(
        f"{kind}-update" if not kind.endswith("staging") else "rollback-staging-update",
        sheets=[sheet.number],
        hashes={"op": journal.id, "target": target},
        detail=f"updateContent of {len(files)} files from {source}",
    )
    journal.step("update", entry)
    crashpoints.reached("deploy-update")
    try:
        session.client.update_content(sheet.script_id(env), api_files(files))
    except GoogleApiError as error:
        done(Step.DEPLOY, False, error.describe())
        return settle_restore(session, journal, sheet, f"updateContent failed: {error.describe()}")
    crashpoints.reached("deploy-verify")
    done(Step.DEPLOY, True, f"updateContent: {len(files)} files")
    settled = settle_restore(session, journal, sheet, "", tests)
    done(Step.VERIFY, settled.exit_code == 0, settled.message)
    return settled


def settle_restore(
    session: Session,
    journal: Journal,
    sheet: Sheet,
    reason: str,
    tests: StagingTests = scripttests_job.staging_tests,
) -> Settled:
    """Read the project again: recorded when it holds the target; otherwise the target is sent
    once more (an interrupted restore is finished) and verified."""
    data = journal.data
    env = Environment(data.get("env", "production"))
    kind = str(data["kind"])
    target = str(data.get("target"))
    digest, read_back = read_back_hash(session, sheet, env, target)
    if digest != target and kind in ("adopt", "resync-staging"):  # not finished for its author
        undone = "production's edit was not adopted" if kind == "adopt" else "it was not rebuilt"
        message = f"{reason}; DEV3 holds {digest[:12]}, {undone}: run {kind} again"
        close_operation(
            session, journal, sheet, "stopped", message, {"staging": digest}, {env: read_back}
        )
        return Settled("stopped", message, 1)
    if digest != target and reason:
        _, files = find_content(session, sheet, env, target)
        if files is None:
            message = f"{reason}; the content to restore is in no commit: restore by hand"
            raise_alert(session, f"{kind}-failed", sheet, f"{kind} of sheet {sheet.key}: {message}")
            close_operation(
                session, journal, sheet, "failed", message, {"production": digest}, {env: read_back}
            )
            return Settled("stopped", message, 1)
        try:
            session.client.update_content(sheet.script_id(env), api_files(files))
        except GoogleApiError as error:
            message = f"{reason}; sending it again failed ({error.describe()})"
            raise_alert(session, f"{kind}-failed", sheet, f"{kind} of sheet {sheet.key}: {message}")
            return Settled("stopped", message + "; the next command finishes it", 1)
        digest, read_back = read_back_hash(session, sheet, env, target)
    if digest != target:
        message = (
            f"{kind} of {env} sheet {sheet.key}: it reads back as {digest[:12]}, not "
            f"{target[:12]}; check it now"
        )
        raise_alert(session, f"{kind}-failed", sheet, message)
        close_operation(
            session, journal, sheet, "failed", message, {"production": digest}, {env: read_back}
        )
        return Settled("stopped", message, 1)
    outcome = (
        tests(session, sheet, read_back, Environment.PRODUCTION)
        if env is Environment.PRODUCTION
        else None
    )
    tested = f"; staging tests: {outcome.summary}" if outcome is not None else ""
    hashes = {"previous": str(data.get("before", "")), "source": str(data.get("source", ""))}
    if env is Environment.PRODUCTION:
        hashes |= {"production": digest, "baseline": digest}
    else:
        hashes |= {"staging": digest}
    message = f"{env} sheet {sheet.key} restored to {data.get('source')} ({digest[:12]}){tested}"
    status = "none" if env is Environment.PRODUCTION else None
    close_operation(session, journal, sheet, "ok", message, hashes, {env: read_back}, status=status)
    if env is Environment.PRODUCTION:
        raise_alert(session, kind, sheet, f"{message} by {session.access.user}")
    return Settled("restored", message, 0, digest)


# accepting and adopting production's edits ----------------------------------------------------


def accept(session: Session, number: str, reason: str) -> Settled:
    """A practice manager makes production as it is now the sheet's new baseline."""
    session.require("accept")
    if not reason.strip():
        raise UsageError("accept needs --reason TEXT: say why production's edit is kept")
    sheet = session.registry.select([number])[0]
    with session.workspace.sheet_lock(sheet):
        production, state = _edited_production(session, sheet, "accept", "accepted")
        digest = content_hash(production)
        journal = Journal.start(session, "accept", sheet, Environment.PRODUCTION, target=digest)
        hashes = {
            "production": digest,
            "previous": str(state.baseline(sheet) or ""),
            "baseline": digest,
        }
        message = f"production of sheet {sheet.key} ({digest[:12]}) accepted: {reason.strip()}"
        mirror = {Environment.PRODUCTION: production}
        close_operation(session, journal, sheet, "ok", message, hashes, mirror)
    session.sync_log()
    return Settled("accepted", message, 0, digest)


def adopt(session: Session, number: str) -> Settled:
    """Copy production's edit into DEV3 (production ids mapped back to DEV3 ids) after a
    staging backup; the baseline becomes production as it is."""
    session.require("adopt")
    sheet = session.registry.select([number])[0]
    mapper = IdMapper(session.registry.sheets)
    with session.workspace.sheet_lock(sheet):
        production, _ = _edited_production(session, sheet, "adopt", "copied to staging")
        digest = content_hash(production)
        try:
            staging = live_project(session, sheet, Environment.STAGING)
        except StopDeploy as error:
            raise JobFailedError(str(error)) from None
        adopted = [ScriptFile(f.name, f.type, mapper.to_staging(f.source)) for f in production]
        try:
            copied = copy_into_staging(session, sheet, "adopt", staging, adopted, digest)
        except StopDeploy as error:
            raise JobFailedError(f"adopt of sheet {sheet.key} stopped: {error}") from None
        hashes = {"production": digest, "staging": copied.digest, "baseline": digest}
        message = f"production's edit of sheet {sheet.key} adopted into DEV3 ({digest[:12]})"
        mirror = {Environment.STAGING: copied.read_back, Environment.PRODUCTION: production}
        close_operation(session, copied.journal, sheet, "ok", message, hashes, mirror)
    session.sync_log()
    return Settled("adopted", message, 0, digest)


@dataclass
class Copied:
    """DEV3 holds production's code now: the operation's journal (still open), the backup of
    what DEV3 held, and DEV3 as read back."""

    journal: Journal
    backup: Backup
    digest: str
    read_back: list[ScriptFile]


def copy_into_staging(
    session: Session,
    sheet: Sheet,
    kind: str,
    staging: list[ScriptFile],
    target: list[ScriptFile],
    production: str,
) -> Copied:
    """`adopt` and `resync-staging` (the caller holds the sheet's lock): a staging backup of
    `staging`, DEV3 updated to `target` (production's code in DEV3's ids, hash `production`
    before mapping), read back. The caller closes the journal; on a failure it is closed
    here and StopDeploy says why."""
    want = content_hash(target)
    journal = Journal.start(
        session,
        kind,
        sheet,
        Environment.STAGING,
        before=content_hash(staging),
        target=want,
        production=production,
        source=f"production {production[:12]}",
    )
    try:
        backup = take_backup(
            session,
            sheet,
            Environment.STAGING,
            staging,
            f"before {kind}",
            journal,
            {"target": want, "production": production},
            phi_allowed=True,  # production's code replaces what holds PHI
        )
    except StopDeploy as error:
        close_operation(session, journal, sheet, "stopped", str(error), {})
        raise
    entry = session.trail().append(
        f"{kind}-update",
        sheets=[sheet.number],
        hashes={"op": journal.id, "target": want},
        detail=f"updateContent of DEV3 with production's {len(target)} files",
    )
    journal.step("update", entry)
    crashpoints.reached("staging-update")
    try:
        session.client.update_content(sheet.dev3_script_id, api_files(target))
    except GoogleApiError as error:
        message = f"DEV3 not updated: {error.describe()}"
        close_operation(session, journal, sheet, "stopped", message, {})
        raise StopDeploy(message) from None
    digest, read_back = read_back_hash(session, sheet, Environment.STAGING, want)
    if digest != want:
        message = f"DEV3 reads back as {digest[:12]}, not production's {want[:12]}; check DEV3 now"
        close_operation(
            session, journal, sheet, "failed", message, {}, {Environment.STAGING: read_back}
        )
        raise StopDeploy(message)
    return Copied(journal, backup, digest, read_back)


def _edited_production(
    session: Session, sheet: Sheet, action: str, what: str
) -> tuple[list[ScriptFile], State]:
    """Production as it is live, off its baseline and free of PHI (else refused), and the
    state with the trails' baselines."""
    try:
        production = live_project(session, sheet, Environment.PRODUCTION)
    except StopDeploy as error:
        raise JobFailedError(str(error)) from None
    state = State.load(session.workspace)
    apply_baselines(session, state)
    if state.baseline(sheet) == content_hash(production):
        raise UsageError(f"sheet {sheet.key}: production is on its baseline; nothing to {action}")
    _refuse_phi(session, sheet, Environment.PRODUCTION, production, what)
    return production, state


def _refuse_phi(
    session: Session, sheet: Sheet, env: Environment, files: Sequence[ScriptFile], what: str
) -> None:
    """Code the PHI gate holds back never reaches git or the other environment."""
    gate = scanner_for(session.config, session.workspace)
    blocking = [f for f in gate_findings(gate, sheet, env, files) if f.severity == "block"]
    if blocking:
        found = blocking[0]
        raise JobFailedError(
            f"{env} code of sheet {sheet.key} holds PHI ({found.type} {found.excerpt} at "
            f"{found.path}:{found.line}); it is held back and never {what}"
        )


def finish(session: Session, item: Interrupted) -> Settled:
    """Settle an interrupted operation under its sheet's lock (a practice manager or the
    service account): production is read again and the operation recorded, finished or undone."""
    session.require("finish-interrupted")
    if item.problem or item.sheet is None:
        raise RefusedError(f"not finished: {item.describe()}")
    sheet, journal = item.sheet, item.journal
    with session.workspace.sheet_lock(sheet):
        if not journal.path.exists():
            return Settled("stopped", "already settled by another run", 0)
        if not journal.reached("backup"):
            journal.done()  # nothing was sent to Google before the backup
            return Settled("stopped", "interrupted before its backup: nothing was changed", 0)
        reason = f"{journal.data['kind']} {journal.id} was interrupted"
        if journal.data["kind"] == "deploy":
            settled = settle_deploy(session, journal, sheet, reason)
        else:
            settled = settle_restore(session, journal, sheet, reason)
    session.sync_log()
    return settled
