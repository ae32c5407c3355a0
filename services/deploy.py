"""Controlled deploys staging -> production (DESIGN.md "The deploy pipeline").

Review requests and approvals are audit-trail entries (state.json only mirrors them). A deploy
runs seven steps: validate, diff, approval, backup, deploy, verify, log. Each step is written
to the deployer's trail and then to a journal under `.sheetstage/deploys/`, so a run killed
at any point is found by the next command and settled against what production holds then
(`pending` here, `rollback.finish`). Everything here reports through callbacks and typed results and
never prints: the CLI and the TUI show it.
"""

from __future__ import annotations

import enum
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services import alerts, crashpoints, scanning, scripttests_job, validation
from services.access import DEVELOPER, PRACTICE_MANAGER, SERVICE_ACCOUNT, RolesFile, read_roles
from services.audit import AuditEntry, AuditReport, utc_now
from services.diff import SheetDiff, diff_projects
from services.errors import JobFailedError, LockHeldError, RefusedError, UsageError
from services.google_client import GoogleApiError
from services.models import Environment, ScriptFile, Sheet, content_hash
from services.overview import short_time
from services.phi import Severity
from services.registry import IdMapper
from services.scripttests import StagingTests
from services.snapshot import files_from_api, gate_findings, project_hash
from services.state import State
from services.workspace import UnsafeFileName, atomic_write, make_dirs

if TYPE_CHECKING:
    from services.session import Session


class Step(enum.StrEnum):
    VALIDATE = "validate"
    DIFF = "diff"
    APPROVE = "approve"
    BACKUP = "backup"
    DEPLOY = "deploy"
    VERIFY = "verify"
    LOG = "log"


STEPS = tuple(Step)


@dataclass(frozen=True)
class StepOutcome:
    step: Step
    ok: bool
    detail: str


Progress = Callable[[StepOutcome], None]
"""Called as each step ends (a TUI shows the pipeline filling up)."""


@dataclass
class Proposal:
    """What an approver sees before typing `yes`."""

    sheet: Sheet
    requested_by: str
    staging_hash: str
    production_hash: str
    diff: SheetDiff
    validation: validation.SheetValidation | None = None  # a rollback is not validated
    action: str = "deploy"
    target: str = ""  # what a rollback restores

    @property
    def risks(self) -> dict[str, list[str]]:
        return self.validation.risks if self.validation is not None else {}


Approver = Callable[[Proposal], bool]
"""Asks a person to type `yes` (True) or anything else (False). None: no terminal."""


@dataclass
class DeployResult:
    sheet: Sheet
    outcome: str  # deployed, stopped, rolled-back, refused
    message: str
    exit_code: int
    steps: list[StepOutcome] = field(default_factory=list)
    approved_by: str = ""
    backup_tag: str = ""
    deployed_hash: str = ""
    problems: list[str] = field(default_factory=list)

    def recorder(self, progress: Progress | None) -> Callable[[Step, bool, str], None]:
        """Records each step's outcome here and passes it on to `progress`."""

        def done(step: Step, ok: bool, detail: str) -> None:
            outcome = StepOutcome(step, ok, detail)
            self.steps.append(outcome)
            if progress is not None:
                progress(outcome)

        return done

    def as_json(self) -> dict[str, object]:
        return {
            "sheet": self.sheet.number,
            "outcome": self.outcome,
            "message": self.message,
            "exit_code": self.exit_code,
            "approved_by": self.approved_by,
            "backup_tag": self.backup_tag,
            "deployed_hash": self.deployed_hash,
            "steps": [{"step": str(s.step), "ok": s.ok, "detail": s.detail} for s in self.steps],
            "problems": self.problems,
        }


RISK_LABELS = {
    "new_urls": "new external URLs",
    "new_recipients": "new e-mail recipients",
    "new_scopes": "new OAuth scopes",
    "logs_cell_values": "code that logs cell values",
}


def describe_proposal(proposal: Proposal) -> list[str]:
    """What an approver reads before typing `yes`, one line each (the terminal and the TUI)."""
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
        lines.append("  risk summary:")
        for key, label in RISK_LABELS.items():
            found = proposal.risks.get(key, [])
            lines.append(f"    {label}: {', '.join(found) if found else 'none'}")
        allows = [f for f in checks.findings if f.allowed_inline] if checks is not None else []
        if allows:  # they count only through this approval: the author cannot allow their own
            lines.append("  inline allow-phi, each counting only through this approval:")
            lines += [f"    {f.path}:{f.line} {f.type} {f.excerpt}: {f.reason}" for f in allows]
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


class StopDeploy(JobFailedError):
    """A step stopped the deploy (exit 1); production was not changed by it."""


# live content ---------------------------------------------------------------------------------


def live_project(session: Session, sheet: Sheet, env: Environment) -> list[ScriptFile]:
    """A project's files as Google holds them now (not the last snapshot)."""
    try:
        content = session.client.get_content(sheet.script_id(env))
        return list(files_from_api(content))
    except GoogleApiError as error:
        raise StopDeploy(f"{env} code of sheet {sheet.key} not read: {error.describe()}") from None
    except UnsafeFileName as error:
        raise StopDeploy(f"{env} code of sheet {sheet.key} refused: {error}") from None


def mapped_to_production(files: Sequence[ScriptFile], mapper: IdMapper) -> list[ScriptFile]:
    return [ScriptFile(f.name, f.type, mapper.to_production(f.source)) for f in files]


def api_files(files: Sequence[ScriptFile]) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type), "source": f.source} for f in files]


# review requests and approvals ----------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    """A sheet's open review request and the approval that counts for it, from the trails."""

    request: AuditEntry | None
    approval: AuditEntry | None
    broken_approval: str = ""  # an approval standing in a trail that does not verify
    expired: AuditEntry | None = None

    def fresh_for(self, staging: str, production: str) -> bool:
        return (
            self.approval is not None
            and self.approval.hashes.get("staging") == staging
            and (self.approval.hashes.get("production") == production)
        )


_CANCELLING = ("rollback", "revert")


def review_of(report: AuditReport, roles: RolesFile, sheet: Sheet, expiry_days: float) -> Review:
    """The newest counting request for the sheet and an approval of it that is still open: by
    a practice manager other than the requester, not used by a deploy, not cancelled by a
    rollback or a newer request, not expired."""
    requesters = roles.holders(DEVELOPER) | roles.holders(PRACTICE_MANAGER)
    managers = roles.holders(PRACTICE_MANAGER)
    deployers = managers | roles.holders(SERVICE_ACCOUNT)

    def of_sheet(entries: Any) -> list[AuditEntry]:
        return sorted(
            (e for e in entries if sheet.number in e.sheets), key=lambda e: (e.time, e.seq)
        )

    requests = of_sheet(report.counting(requesters, "request-review"))
    if not requests:
        return Review(None, None)
    request = requests[-1]
    approvals = [
        a
        for a in of_sheet(report.counting(managers, "approve"))
        if a.hashes.get("request") == request.event_id and a.user != request.user
    ]
    used = {
        e.hashes.get("approval")
        for e in report.trusted_entries(deployers)
        if e.action == "deploy" and sheet.number in e.sheets
    }
    cancelled_after = max(
        (
            e.time
            for e in report.trusted_entries(managers)
            if e.action in _CANCELLING and sheet.number in e.sheets and e.result == "ok"
        ),
        default="",
    )
    open_approvals = [a for a in approvals if a.event_id not in used and a.time > cancelled_after]
    broken = ""
    for check in report.broken:
        trail = report.files.get(check.name)
        if trail is None:
            continue
        for entry in trail.entries():
            if entry.action == "approve" and entry.hashes.get("request") == request.event_id:
                broken = f"{entry.user}'s approval stands in a trail that does not verify"
    if not open_approvals:
        return Review(request, None, broken)
    newest = open_approvals[-1]
    limit = datetime.now(UTC) - timedelta(days=expiry_days)
    if _parse_time(newest.time) < limit:
        return Review(request, None, broken, expired=newest)
    return Review(request, newest, broken)


def open_review(session: Session, sheet: Sheet) -> Review:
    """The sheet's review request and approval as the trails hold them now (no Google call:
    whether the approval is still fresh for the live hashes is the deploy's to say)."""
    return review_of(
        session.verify(),
        read_roles(session.workspace),
        sheet,
        session.config.deploy.approval_expiry_days,
    )


def _parse_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _heads(session: Session, sheet: Sheet) -> tuple[list[ScriptFile], list[ScriptFile]]:
    """Both projects as Google holds them now, read at once."""
    pool = session.client.executor
    staging = pool.submit(live_project, session, sheet, Environment.STAGING)
    production = pool.submit(live_project, session, sheet, Environment.PRODUCTION)
    return staging.result(), production.result()


def request_review(session: Session, number: str) -> AuditEntry:
    """A developer (or practice manager) asks for a review of staging as it is now, against
    production as it is now; a newer request cancels the sheet's open approvals."""
    session.require("request-review")
    sheet = session.registry.select([number])[0]
    mapper = IdMapper(session.registry.sheets)
    try:
        staging, production = _heads(session, sheet)
    except StopDeploy as error:
        raise JobFailedError(str(error)) from None
    staging_hash = project_hash(staging, Environment.STAGING, mapper)
    production_hash = content_hash(production)
    if staging_hash == production_hash:
        raise UsageError(
            f"sheet {sheet.key}: staging equals production (ids mapped); there is nothing to review"
        )
    hashes = {"staging": staging_hash, "production": production_hash}
    entry = _record(
        session,
        sheet,
        "request-review",
        hashes,
        "ok",
        f"review requested: staging {staging_hash[:12]} against production {production_hash[:12]}",
        mirror={"status": "staged", "by": session.access.user},
    )
    session.sync_log()
    return entry


def approve(
    session: Session,
    number: str,
    approver: Approver | None,
    tests: StagingTests = scripttests_job.staging_tests,
) -> AuditEntry:
    """A practice manager who did not request the change approves these exact hashes."""
    session.require("approve")
    sheet = session.registry.select([number])[0]
    if approver is None:
        raise RefusedError(
            f"approve refused: approving sheet {sheet.key} needs a practice manager typing "
            "`yes` on a terminal; run it in one"
        )
    mapper = IdMapper(session.registry.sheets)
    try:
        staging, production = _heads(session, sheet)
    except StopDeploy as error:
        raise JobFailedError(str(error)) from None
    proposal = _proposal(session, sheet, staging, production, mapper, tests)
    entry = _approve_inline(session, proposal, approver)
    session.sync_log()
    return entry


def _open_request(session: Session, sheet: Sheet, staging: str, production: str) -> AuditEntry:
    """The review request an approval by the acting person may answer; refused otherwise."""
    review = open_review(session, sheet)
    request, me = review.request, session.access.user
    if request is None:
        raise RefusedError(
            f"sheet {sheet.key} has no review request: a developer runs `sheetstage "
            f"request-review --sheet {sheet.number}` first"
        )
    if request.user == me:
        raise RefusedError(
            f"approval refused: you ({session.access.who}) requested this review "
            f"({request.event_id}); another practice manager must approve it"
        )
    if request.hashes.get("staging") != staging or request.hashes.get("production") != production:
        moved = _moved(request.hashes, staging, production)
        raise RefusedError(
            f"the review request {request.event_id} is stale: {moved} since it was made; "
            f"the developer runs `sheetstage request-review --sheet {sheet.number}` again"
        )
    return request


def _moved(hashes: dict[str, str], staging: str, production: str) -> str:
    moved = [
        side
        for side, now in (("staging", staging), ("production", production))
        if hashes.get(side) != now
    ]
    return " and ".join(moved) + (" have" if len(moved) > 1 else " has") + " changed"


def _proposal(
    session: Session,
    sheet: Sheet,
    staging: list[ScriptFile],
    production: list[ScriptFile],
    mapper: IdMapper,
    tests: StagingTests,
) -> Proposal:
    """Steps 1 and 2: validation (PHI, ids, manifest, syntax, staging tests, risks) of the live
    staging code, and the diff production -> staging."""
    staging_hash = project_hash(staging, Environment.STAGING, mapper)
    production_hash = content_hash(production)
    result = validation.validate_sheet(
        session,
        sheet,
        scanning.scanner_for(session.config, session.workspace),
        State.load(session.workspace),
        mapper,
        validation.acknowledged_findings(session.verify(), read_roles(session.workspace)),
        tests=tests,
        live=(staging, production),
    )
    diff = diff_projects(sheet, production, staging, mapper)
    return Proposal(sheet, "", staging_hash, production_hash, diff, result)


def _approve_inline(session: Session, proposal: Proposal, approver: Approver) -> AuditEntry:
    sheet = proposal.sheet
    request = _open_request(session, sheet, proposal.staging_hash, proposal.production_hash)
    proposal.requested_by = request.user
    checks = proposal.validation
    if checks is not None and not checks.ok:
        raise JobFailedError(
            f"sheet {sheet.key} does not validate ({_validation_problem(checks)}); "
            "nothing was approved"
        )
    if not approver(proposal):
        raise JobFailedError(f"not approved (only `yes` approves); sheet {sheet.key} unchanged")
    hashes = {
        "staging": proposal.staging_hash,
        "production": proposal.production_hash,
        "request": request.event_id,
    }
    return _record(
        session,
        sheet,
        "approve",
        hashes,
        "ok",
        f"approved {proposal.diff.summary()} requested by {request.user}",
        mirror={"status": "approved", "by": session.access.user},
    )


def _validation_problem(result: validation.SheetValidation) -> str:
    if result.phi is not validation.PhiStatus.CLEAN:
        return f"PHI {result.phi}: run `sheetstage validate --sheet {result.sheet.number}`"
    return "; ".join(result.problems[:3])


def _record(
    session: Session,
    sheet: Sheet,
    action: str,
    hashes: dict[str, str],
    result: str,
    detail: str,
    mirror: dict[str, str] | None = None,
) -> AuditEntry:
    """A trail entry, state.json's mirror of the sheet's deploy status, one commit."""
    workspace = session.workspace
    with workspace.lock(session.config.git.lock_timeout_s):
        entry = session.trail().append(
            action, sheets=[sheet.number], hashes=hashes, result=result, detail=detail
        )
        state = State.load(workspace)
        if mirror is not None:
            record = state.sheet(sheet)
            record["deploy"] = mirror["status"]
            record["review"] = {**mirror, "event": entry.event_id, "time": entry.time, **hashes}
        state.save(workspace)
        session.commit(f"{action}: sheet {sheet.key} ({result})", ["state.json"])
    return entry


# the journal ----------------------------------------------------------------------------------


@dataclass
class Journal:
    """`.sheetstage/deploys/ID.json`: one operation on production (or DEV3) step by step. Each
    step's trail entry is written first; the file exists until the operation is settled."""

    path: Path
    data: dict[str, Any]

    @classmethod
    def start(
        cls, session: Session, kind: str, sheet: Sheet, env: Environment, **extra: Any
    ) -> Journal:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        op = f"{kind}-{sheet.key}-{stamp}-{secrets.token_hex(3)}"
        folder = journal_folder(session)
        make_dirs(folder)
        data = {
            "id": op,
            "kind": kind,
            "sheet": sheet.number,
            "env": str(env),
            "user": session.access.user,
            "started": utc_now(),
            "steps": [],
            **extra,
        }
        journal = cls(folder / f"{op}.json", data)
        journal._save()
        return journal

    @property
    def id(self) -> str:
        return str(self.data["id"])

    def step(self, name: str, entry: AuditEntry, **facts: Any) -> None:
        self.data["steps"].append({"step": name, "event": entry.event_id, "time": entry.time})
        self.data.update(facts)
        self._save()

    def done(self) -> None:
        self.path.unlink(missing_ok=True)

    def _save(self) -> None:
        atomic_write(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode())

    def reached(self, name: str) -> bool:
        return any(s.get("step") == name for s in self.data["steps"])


def journal_folder(session: Session) -> Path:
    return session.workspace.internal / "deploys"


# backups --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backup:
    tag: str
    commit: str
    hash: str


def backup_tag_name(env: Environment, sheet: Sheet) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H-%M-%S")
    side = "prod" if env is Environment.PRODUCTION else "staging"
    return f"{side}-backup-{stamp}-sheet-{sheet.key}"


def take_backup(
    session: Session,
    sheet: Sheet,
    env: Environment,
    files: Sequence[ScriptFile],
    why: str,
    journal: Journal,
    vouch: Mapping[str, str],
    *,
    phi_allowed: bool = False,
) -> Backup:
    """Commit the project as it is live now, tag it (annotated: who, why, content hash),
    record tag, commit and hash in the trail, push the tag when a remote is set.

    Code the PHI gate blocks never reaches the disk or git: the deploy stops; a way back
    (`phi_allowed`, which replaces that code) goes on without a backup, said so in the trail."""
    workspace, config = session.workspace, session.config
    digest = content_hash(files)  # raw: what a restore sends back
    gate = scanning.scanner_for(config, workspace)
    blocking = [f for f in gate_findings(gate, sheet, env, files) if f.severity is Severity.BLOCK]
    with workspace.lock(config.git.lock_timeout_s):
        name, commit = "", ""
        if blocking:
            found = blocking[0]
            problem = (
                f"{env} code of sheet {sheet.key} holds PHI ({found.type} {found.excerpt} at "
                f"{found.path}:{found.line}), which never goes to git"
            )
            if not phi_allowed:
                raise StopDeploy(
                    f"no backup is possible: {problem}; roll it back to a clean point first "
                    f"(`sheetstage rollback-points --sheet {sheet.number}`)"
                )
            detail = f"not backed up: {problem}"
        else:
            write_project_state(session, sheet, files, env)
            folder = sheet.folder(env)
            session.commit(
                f"backup: {env} sheet {sheet.key} before {journal.data['kind']}",
                [folder, "state.json"],
                check_staged=validation.commit_gate(gate, [folder]),
            )
            commit = workspace.head() or ""
            name = backup_tag_name(env, sheet)
            who = session.access.user
            workspace.tag(name, f"who: {who}\nwhy: {why}\nhash: {digest}\n", commit, user=who)
            detail = f"{name}: {why}"
        entry = session.trail().append(
            "backup",
            sheets=[sheet.number],
            hashes={
                **vouch,  # what settling an interrupted run believes: the trail, not the journal
                "op": journal.id,
                "tag": name,
                "commit": commit,
                "hash": digest,
                "env": str(env),
            },
            result="held-back" if blocking else "ok",
            detail=detail,
        )
        journal.step("backup", entry, backup={"tag": name, "commit": commit, "hash": digest})
    crashpoints.reached("deploy-backup")
    return Backup(name, commit, digest)


def push_backup(session: Session) -> list[str]:
    """Push main and the tags to the off-site backup (when one is set); problems, if any."""
    from services.workspace import PushError

    remote = session.config.git.remote
    if not remote:
        return []
    try:
        session.workspace.push(remote)
    except PushError as error:
        return [f"{error}; the backup tag stays local until a later push"]
    return []


def write_project_state(
    session: Session, sheet: Sheet, files: Sequence[ScriptFile], env: Environment
) -> None:
    """The workspace mirrors what Google holds now (the caller holds the workspace lock)."""
    workspace = session.workspace
    mapper = IdMapper(session.registry.sheets)
    workspace.write_project(sheet, env, files)
    state = State.load(workspace)
    side = state.env(sheet, env)
    side.update(hash=project_hash(files, env, mapper), snapshot_at=utc_now())
    side.pop("held_back", None)
    side.pop("error", None)
    state.save(workspace)


def read_back_hash(
    session: Session, sheet: Sheet, env: Environment, want: str
) -> tuple[str, list[ScriptFile]]:
    """Read the project back (a few times, as Google may answer with the old content for a
    moment); the last content hash read and its files."""
    attempts = session.config.deploy.verify_attempts
    files: list[ScriptFile] = []
    digest = ""
    for attempt in range(attempts):
        files = live_project(session, sheet, env)
        digest = content_hash(files)
        if digest == want:
            break
        if attempt + 1 < attempts:
            time.sleep(0.2 * (attempt + 1))
    return digest, files


# the pipeline ---------------------------------------------------------------------------------


def deploy(
    session: Session,
    numbers: Sequence[str],
    approver: Approver | None,
    progress: Callable[[Sheet, StepOutcome], None] | None = None,
    tests: StagingTests = scripttests_job.staging_tests,
) -> list[DeployResult]:
    """Deploy each sheet in turn, each with its own approval; one result per sheet."""
    sheets = session.registry.select(numbers)
    results = []
    for sheet in sheets:
        report = (lambda outcome, s=sheet: progress(s, outcome)) if progress else None
        results.append(deploy_sheet(session, sheet, approver, report, tests))
    if all(r.outcome == "refused" for r in results):
        return results  # nothing was recorded: nothing to log
    problems = session.sync_log()
    problems += alerts.deliver(alerts.Outbox(session.workspace), session.config.alerts)
    results[-1].problems += problems
    return results


def deploy_sheet(
    session: Session,
    sheet: Sheet,
    approver: Approver | None,
    progress: Progress | None = None,
    tests: StagingTests = scripttests_job.staging_tests,
) -> DeployResult:
    """The seven steps for one sheet. Refusals before step 1 exit 5; a stop at a step exits 1
    (production untouched, or restored from the step-4 backup and verified)."""
    result = DeployResult(sheet, "refused", "", 5)
    done = result.recorder(progress)
    try:
        action = _deploy_action(session)
        session.require(action)  # before the lock: someone without the role touches nothing
        if action == "deploy-approved":
            approver = None  # the service account deploys only what was approved earlier
        with session.workspace.sheet_lock(sheet):
            _run_pipeline(session, sheet, approver, tests, result, done)
    except RefusedError as error:
        result.outcome, result.message, result.exit_code = "refused", str(error), 5
    except (StopDeploy, JobFailedError) as error:
        result.outcome, result.message, result.exit_code = "stopped", str(error), 1
    except UsageError as error:
        result.outcome, result.message, result.exit_code = "refused", str(error), 2
    return result


def _run_pipeline(
    session: Session,
    sheet: Sheet,
    approver: Approver | None,
    tests: StagingTests,
    result: DeployResult,
    done: Callable[[Step, bool, str], None],
) -> None:
    mapper = IdMapper(session.registry.sheets)
    staging, production = _heads(session, sheet)
    staging_hash = project_hash(staging, Environment.STAGING, mapper)
    production_hash = content_hash(production)
    roles = read_roles(session.workspace)
    review = review_of(session.verify(), roles, sheet, session.config.deploy.approval_expiry_days)
    if staging_hash == production_hash:
        raise UsageError(f"sheet {sheet.key}: production already equals staging; nothing to deploy")
    _check_review(session, sheet, review, staging_hash, production_hash, approver)

    proposal = _proposal(session, sheet, staging, production, mapper, tests)
    checks = proposal.validation
    assert checks is not None
    if not checks.ok:
        done(Step.VALIDATE, False, _validation_problem(checks))
        _stopped(session, sheet, Step.VALIDATE, _validation_problem(checks), staging_hash)
        raise StopDeploy(f"stopped at validate: {_validation_problem(checks)}")
    done(Step.VALIDATE, True, f"PHI clean, manifest and syntax valid; {checks.tests_summary}")
    done(Step.DIFF, True, proposal.diff.summary())

    approval = review.approval
    if approval is not None and review.fresh_for(staging_hash, production_hash):
        done(Step.APPROVE, True, f"approved by {approval.user} at {short_time(approval.time)}")
    else:
        assert approver is not None  # _check_review refused otherwise
        try:
            approval = _approve_inline(session, proposal, approver)
        except JobFailedError as error:
            done(Step.APPROVE, False, str(error))
            raise StopDeploy(f"stopped at approval: {error}") from None
        done(Step.APPROVE, True, f"approved by {approval.user} (inline)")
    result.approved_by = approval.user

    target = mapped_to_production(staging, mapper)
    target_hash = content_hash(target)
    journal = Journal.start(
        session,
        "deploy",
        sheet,
        Environment.PRODUCTION,
        before=production_hash,
        target=target_hash,
        approval=approval.event_id,
        staging=staging_hash,
    )
    try:  # production as this run read it live, under the sheet's lock
        backup = take_backup(
            session,
            sheet,
            Environment.PRODUCTION,
            production,
            f"before deploying staging {staging_hash[:12]} ({journal.id})",
            journal,
            {"target": target_hash, "approval": approval.event_id, "staging": staging_hash},
        )
    except StopDeploy as error:
        done(Step.BACKUP, False, str(error))
        close_operation(
            session, journal, sheet, "stopped", str(error), {"approval": approval.event_id}
        )
        raise
    result.backup_tag = backup.tag
    result.problems += push_backup(session)
    done(Step.BACKUP, True, f"{backup.tag} ({backup.hash[:12]})")

    entry = session.trail().append(
        "deploy-update",
        sheets=[sheet.number],
        hashes={"op": journal.id, "target": target_hash, "tag": backup.tag},
        detail=f"updateContent of {len(target)} files",
    )
    journal.step("update", entry)
    crashpoints.reached("deploy-update")
    try:
        session.client.update_content(sheet.prod_script_id, api_files(target))
    except GoogleApiError as error:
        done(Step.DEPLOY, False, error.describe())
        settled = settle_deploy(
            session, journal, sheet, reason=f"updateContent failed: {error.describe()}"
        )
        _finish_result(result, settled)
        return
    crashpoints.reached("deploy-verify")
    done(Step.DEPLOY, True, f"updateContent: {len(target)} files in staging order")

    digest, read_back = read_back_hash(session, sheet, Environment.PRODUCTION, target_hash)
    outcome = (
        tests(session, sheet, read_back, Environment.PRODUCTION) if digest == target_hash else None
    )
    if digest != target_hash or (outcome is not None and not outcome.passed):
        why = (
            f"production read back as {digest[:12]}, not the deployed {target_hash[:12]}"
            if digest != target_hash
            else f"staging tests failed on the deployed code: {outcome.summary if outcome else ''}"
        )
        done(Step.VERIFY, False, why)
        settled = _roll_back_to_backup(session, journal, sheet, why)
        _finish_result(result, settled)
        return
    entry = session.trail().append(
        "deploy-verify",
        sheets=[sheet.number],
        hashes={"op": journal.id, "read": digest},
        detail="production read back equals the deployed code"
        + (f"; {outcome.summary}" if outcome else ""),
    )
    journal.step("verify", entry)
    done(Step.VERIFY, True, f"read back {digest[:12]} equals the deployed code")
    settled = _complete_deploy(session, journal, sheet, read_back)
    done(Step.LOG, True, settled.message)
    _finish_result(result, settled)


def _deploy_action(session: Session) -> str:
    access = session.access
    scheduled = SERVICE_ACCOUNT in access.roles and not access.can("deploy")
    return "deploy-approved" if scheduled else "deploy"


def _check_review(
    session: Session,
    sheet: Sheet,
    review: Review,
    staging: str,
    production: str,
    approver: Approver | None,
) -> None:
    """Refusals before step 1 (exit 5): no request, a stale, expired, broken or missing
    approval where none can be given here, the requester approving their own change."""
    number = sheet.number
    if review.approval is not None and not review.fresh_for(staging, production):
        moved = _moved(review.approval.hashes, staging, production)
        raise RefusedError(
            f"deploy refused: the approval {review.approval.event_id} by {review.approval.user} "
            f"is stale ({moved} since); request and approve again (`sheetstage request-review "
            f"--sheet {number}`, then `sheetstage approve --sheet {number}`)"
        )
    if review.approval is not None:
        return
    if review.broken_approval:
        raise RefusedError(
            f"deploy refused: {review.broken_approval}; it counts for nothing until that trail "
            "is restored (`sheetstage audit verify`)"
        )
    if approver is None:
        expired = f" (the approval {review.expired.event_id} expired)" if review.expired else ""
        raise RefusedError(
            f"deploy refused: sheet {sheet.key} has no fresh approval{expired} and there is no "
            "terminal to approve on; a practice manager runs `sheetstage approve --sheet "
            f"{number}` (only approved content deploys without a terminal)"
        )
    _open_request(session, sheet, staging, production)  # refuses what an inline approval cannot


def _stopped(session: Session, sheet: Sheet, step: Step, why: str, staging: str) -> None:
    """A deploy stopped before touching production: in the trail, and an alert."""
    with session.workspace.lock(session.config.git.lock_timeout_s):
        session.trail().append(
            "deploy",
            sheets=[sheet.number],
            hashes={"staging": staging},
            result="stopped",
            detail=f"stopped at {step}: {why}"[:300],
        )
        alerts.raise_alert(
            session,
            "deploy-stopped",
            sheet,
            f"deploy of sheet {sheet.key} stopped at {step}: {why}",
        )
        session.commit(f"deploy: sheet {sheet.key} stopped at {step}", [])


@dataclass(frozen=True)
class Settled:
    outcome: str  # deployed, rolled-back, stopped, restored
    message: str
    exit_code: int
    hash: str = ""


def _finish_result(result: DeployResult, settled: Settled) -> None:
    result.outcome, result.message, result.exit_code = (
        settled.outcome,
        settled.message,
        settled.exit_code,
    )
    result.deployed_hash = settled.hash if settled.outcome == "deployed" else ""


def _complete_deploy(
    session: Session, journal: Journal, sheet: Sheet, read_back: Sequence[ScriptFile]
) -> Settled:
    """Step 7: the trail's deploy entry moves the baseline; the workspace mirrors production."""
    data = journal.data
    digest = content_hash(read_back)
    hashes = {
        "op": journal.id,
        "staging": str(data.get("staging", "")),
        "production": digest,
        "previous": str(data.get("before", "")),
        "approval": str(data.get("approval", "")),
        "tag": str((data.get("backup") or {}).get("tag", "")),
        "baseline": digest,
    }
    message = f"deployed sheet {sheet.key}: production is {digest[:12]}"
    mirror = {Environment.PRODUCTION: read_back}
    close_operation(session, journal, sheet, "ok", message, hashes, mirror, status="deployed")
    return Settled("deployed", message, 0, digest)


def close_operation(
    session: Session,
    journal: Journal,
    sheet: Sheet,
    result: str,
    detail: str,
    hashes: dict[str, str],
    mirror: Mapping[Environment, Sequence[ScriptFile]] | None = None,
    status: str | None = None,
) -> AuditEntry:
    """The operation's final trail entry, the workspace and state.json brought in line with
    what Google holds (`mirror`), one commit, the journal removed."""
    workspace = session.workspace
    kind = str(journal.data["kind"])
    if kind == "deploy" and journal.reached("backup"):  # the approval is used up
        hashes = {"approval": str(journal.data.get("approval", "")), **hashes}
    with workspace.lock(session.config.git.lock_timeout_s):
        entry = session.trail().append(
            kind,
            sheets=[sheet.number],
            hashes={"op": journal.id, **hashes},
            result=result,
            detail=detail[:300],
        )
        paths = ["state.json"]
        for env, files in (mirror or {}).items():
            write_project_state(session, sheet, files, env)
            paths.append(sheet.folder(env))
        state = State.load(workspace)
        record = state.sheet(sheet)
        if "baseline" in hashes and result == "ok":
            record["baseline"] = hashes["baseline"]
        if status is not None:
            record["deploy"] = status
            record.pop("review", None)
            record["last_deploy"] = entry.time
        state.save(workspace)
        scanner = scanning.scanner_for(session.config, workspace)
        gate = validation.commit_gate(scanner, [sheet.folder(env) for env in mirror or {}])
        session.commit(f"{kind}: sheet {sheet.key} {result}: {detail}"[:200], paths, gate)
        journal.done()
    crashpoints.reached("deploy-log")
    return entry


def _roll_back_to_backup(session: Session, journal: Journal, sheet: Sheet, why: str) -> Settled:
    """Step 6 failed: production goes back to the step-4 backup, which is verified; alert."""
    backup = journal.data.get("backup") or {}
    files = session.workspace.read_project_at(
        str(backup.get("commit")), sheet, Environment.PRODUCTION
    )
    if files is None or content_hash(files) != backup.get("hash"):
        message = (
            f"deploy of sheet {sheet.key} failed verify ({why}) and its backup "
            f"{backup.get('tag')} cannot be read back from git: production is unverified; "
            "restore it with `sheetstage rollback`"
        )
        alerts.raise_alert(session, "deploy-unverified", sheet, message)
        return Settled("stopped", message, 1)
    entry = session.trail().append(
        "deploy-rollback",
        sheets=[sheet.number],
        hashes={"op": journal.id, "target": str(backup.get("hash"))},
        detail=f"automatic rollback: {why}"[:300],
    )
    journal.step("rollback", entry)
    try:
        session.client.update_content(sheet.prod_script_id, api_files(files))
    except GoogleApiError as error:
        message = (
            f"deploy of sheet {sheet.key} failed ({why}) and the automatic rollback to "
            f"{backup.get('tag')} failed too ({error.describe()}); the next command of a practice "
            "manager finishes it"
        )
        alerts.raise_alert(session, "deploy-unverified", sheet, message)
        return Settled("stopped", message, 1)
    digest, read_back = read_back_hash(session, sheet, Environment.PRODUCTION, str(backup["hash"]))
    restored = digest == backup.get("hash")
    message = (
        f"deploy of sheet {sheet.key} rolled back to {backup.get('tag')}: {why}"
        if restored
        else f"deploy of sheet {sheet.key} failed ({why}) and production reads back as "
        f"{digest[:12]}, not the backup: check it now"
    )
    alerts.raise_alert(session, "deploy-rolled-back", sheet, message)
    close_operation(
        session,
        journal,
        sheet,
        "rolled-back" if restored else "failed",
        message,
        {"production": digest, "tag": str(backup.get("tag"))},
        {Environment.PRODUCTION: read_back},
    )
    return Settled("rolled-back" if restored else "stopped", message, 1)


def settle_deploy(session: Session, journal: Journal, sheet: Sheet, reason: str) -> Settled:
    """Production after an interrupted step, read again: the deploy recorded when it holds the
    deployed code, nothing to do when it holds the code from before, otherwise restored from
    the backup."""
    data = journal.data
    rolling_back = journal.reached("rollback")
    want = (data.get("backup") or {}).get("hash") if rolling_back else data.get("target")
    digest, files = read_back_hash(session, sheet, Environment.PRODUCTION, str(want))
    if not rolling_back:
        if digest == data.get("target"):
            return _complete_deploy(session, journal, sheet, files)
        if digest == data.get("before"):
            message = f"{reason}; production unchanged ({digest[:12]})"
            alerts.raise_alert(
                session, "deploy-stopped", sheet, f"deploy of sheet {sheet.key}: {message}"
            )
            mirror = {Environment.PRODUCTION: files}
            close_operation(
                session, journal, sheet, "stopped", message, {"production": digest}, mirror
            )
            return Settled("stopped", message, 1)
        return _roll_back_to_backup(session, journal, sheet, reason)
    backup = data.get("backup") or {}
    if digest == backup.get("hash"):
        message = f"{reason}; production equals the backup {backup.get('tag')}"
        mirror = {Environment.PRODUCTION: files}
        close_operation(
            session, journal, sheet, "rolled-back", message, {"production": digest}, mirror
        )
        return Settled("rolled-back", message, 1)
    return _roll_back_to_backup(session, journal, sheet, reason)


# interrupted operations -----------------------------------------------------------------------

_VOUCHED = ("target", "approval", "staging", "production")  # the hashes a backup entry vouches for


@dataclass
class Interrupted:
    journal: Journal
    sheet: Sheet | None
    problem: str = ""  # why it must not be acted on

    def describe(self) -> str:
        data = self.journal.data
        steps = ", ".join(str(s.get("step")) for s in data.get("steps", [])) or "none"
        where = f"sheet {self.sheet.key}" if self.sheet else f"sheet {data.get('sheet')}"
        text = (
            f"{data.get('kind')} {data.get('id')} of {where} by {data.get('user')} was "
            f"interrupted (steps done: {steps})"
        )
        return f"{text}; {self.problem}" if self.problem else text


def pending(session: Session) -> list[Interrupted]:
    """Operations a killed run left unsettled, each checked against its author's trail: a
    journal step that the trail does not hold is reported and never acted on."""
    folder = journal_folder(session)
    if not folder.is_dir():
        return []
    report: AuditReport | None = None
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
                raise ValueError("not a journal")
        except (OSError, ValueError) as error:
            found.append(
                Interrupted(
                    Journal(path, {"id": path.stem, "steps": []}), None, f"unreadable ({error})"
                )
            )
            continue
        journal = Journal(path, data)
        report = report or session.verify()
        try:
            sheet: Sheet | None = session.registry.by_number(int(data.get("sheet", -1)))
        except (UsageError, ValueError, TypeError):
            sheet = None
        if sheet is not None and _running(session, sheet):
            continue  # a live deploy of that sheet holds its lock
        if _settled(report, journal):
            journal.done()  # killed after its last trail entry: nothing is left to do
            continue
        found.append(
            Interrupted(
                journal,
                sheet,
                _unvouched(report, journal, sheet) if sheet else "its sheet is not registered",
            )
        )
    return found


def _unvouched(report: AuditReport, journal: Journal, sheet: Sheet) -> str:
    """Why a journal must not be acted on ("" when it may). Its steps must stand in its
    author's intact trail under its own operation id, and the operation must not be closed
    there already; the facts settling believes (backup, before, target) are then taken from
    the trail's backup entry, never from the file anyone in the group could have written."""
    author, kind = str(journal.data.get("user", "")), str(journal.data.get("kind", ""))
    check = report.check_of(author)
    if check is None or not check.ok:
        return f"{author}'s trail does not verify: not acted on"
    if not journal.id.startswith(f"{kind}-{sheet.key}-"):
        return "its id does not name its kind and sheet: not acted on"
    trail = report.files.get(f"{author}.jsonl")
    entries = list(trail.entries()) if trail else []
    events = {e.event_id: e for e in entries}
    for step in journal.data["steps"]:
        entry = events.get(str(step.get("event")))
        if entry is None or entry.hashes.get("op") != journal.id:
            return f"its step {step.get('step')} is not in {author}'s trail: not acted on"
        if sheet.number not in entry.sheets:
            return f"its step {step.get('step')} is about another sheet: not acted on"
        if entry.action == "backup":
            backup = {key: entry.hashes.get(key, "") for key in ("tag", "commit", "hash")}
            journal.data |= {key: entry.hashes.get(key, "") for key in _VOUCHED}
            journal.data |= {"backup": backup, "before": backup["hash"]}
            journal.data["env"] = entry.hashes.get("env", "production")
    return ""


def _settled(report: AuditReport, journal: Journal) -> bool:
    """The author's trail already closes this operation (its final entry is written)."""
    author, kind = str(journal.data.get("user", "")), str(journal.data.get("kind", ""))
    trail = report.files.get(f"{author}.jsonl")
    entries = trail.entries() if trail else []
    return any(e.action == kind and e.hashes.get("op") == journal.id for e in entries)


def _running(session: Session, sheet: Sheet) -> bool:
    try:
        with session.workspace.sheet_lock(sheet):
            return False
    except LockHeldError:
        return True
