"""`resync-staging` (DESIGN.md "Recovery and operations"): DEV3 code rebuilt from production,
production ids mapped back to DEV3 ids, after a staging backup of each sheet it replaces.

Staging only: production is read, never written. Production code the PHI gate holds back is
not copied (the sheet is named, the finding masked). Each sheet is one operation with its own
journal, as `adopt` is, so a run killed half-way is found and settled by the next command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from services.deploy import (
    StopDeploy,
    close_operation,
    live_project,
)
from services.diff import diff_projects
from services.errors import JobFailedError, RefusedError
from services.models import Environment, ScriptFile, Sheet, content_hash
from services.phi import Severity
from services.progress import counted
from services.registry import IdMapper
from services.rollback import copy_into_staging
from services.scanning import scanner_for
from services.snapshot import gate_findings
from services.workspace import UnsafeFileName

if TYPE_CHECKING:
    from services.session import Session

KIND = "resync-staging"


@dataclass
class ResyncPlan:
    """One sheet: what DEV3 holds now and what it becomes; `skip` says why it is left alone."""

    sheet: Sheet
    staging: list[ScriptFile] = field(default_factory=list)
    target: list[ScriptFile] = field(default_factory=list)  # production in DEV3's ids
    production_hash: str = ""
    change: str = ""  # the diff stat, DEV3 now -> rebuilt
    skip: str = ""  # why it is not rebuilt ("" = it is)
    skipped_as: str = ""  # the outcome then: unchanged, held-back or failed

    @property
    def line(self) -> str:
        return f"sheet {self.sheet.key}: {self.skip or self.change}"


@dataclass
class ResyncResult:
    sheet: Sheet
    outcome: str  # rebuilt, unchanged, held-back, failed, stopped
    message: str
    backup_tag: str = ""

    @property
    def exit_code(self) -> int:
        return 0 if self.outcome in ("rebuilt", "unchanged") else 1

    def as_json(self) -> dict[str, object]:
        return {
            "sheet": self.sheet.number,
            "outcome": self.outcome,
            "message": self.message,
            "backup_tag": self.backup_tag,
        }


Confirm = Callable[[Sequence[ResyncPlan]], bool]
"""Shown the plans, says whether a person typed `yes`."""


def plan_resync(session: Session, numbers: Sequence[str] | None) -> list[ResyncPlan]:
    """Read production and DEV3 of each sheet live (side by side) and decide what changes."""
    session.require(KIND)
    sheets = session.registry.select(numbers)
    mapper = IdMapper(session.registry.sheets)
    gate = scanner_for(session.config, session.workspace)

    def plan(sheet: Sheet) -> ResyncPlan:
        try:
            production = live_project(session, sheet, Environment.PRODUCTION)
            staging = live_project(session, sheet, Environment.STAGING)
        except StopDeploy as error:
            return ResyncPlan(sheet, skip=str(error), skipped_as="failed")
        target = [ScriptFile(f.name, f.type, mapper.to_staging(f.source)) for f in production]
        if [mapper.to_production(f.source) for f in target] != [f.source for f in production]:
            why = (
                "production code names DEV3 ids, so mapping it to DEV3 and back would change "
                "it; fix production's code first (`sheetstage diff --sheet "
                f"{sheet.number}` shows them)"
            )
            return ResyncPlan(sheet, skip=why, skipped_as="failed")
        digest = content_hash(production)
        if content_hash(staging) == content_hash(target):  # nothing is copied: no scan needed
            same = "DEV3 already equals production"
            return ResyncPlan(sheet, staging, target, digest, skip=same, skipped_as="unchanged")
        try:
            found = gate_findings(gate, sheet, Environment.PRODUCTION, production)
            staging_phi = any(
                f.severity is Severity.BLOCK
                for f in gate_findings(gate, sheet, Environment.STAGING, staging)
            )
        except UnsafeFileName as error:  # as a snapshot refuses it
            return ResyncPlan(sheet, skip=f"refused: {error}", skipped_as="failed")
        blocking = [f for f in found if f.severity is Severity.BLOCK]
        if blocking:
            found = blocking[0]
            why = (
                f"production code holds PHI ({found.type} {found.excerpt} at {found.path}:"
                f"{found.line}); it is held back and never copied to DEV3"
            )
            return ResyncPlan(sheet, skip=why, skipped_as="held-back")
        change = diff_projects(sheet, staging, target, IdMapper([])).stat
        if staging_phi:  # said before the `yes`, not after
            change += "; DEV3 holds PHI, so it is replaced without a backup (PHI never goes to git)"
        return ResyncPlan(sheet, staging, target, digest, change=change)

    session.client  # noqa: B018 - the backend opens here, once, before the workers share it
    workers = max(1, min(len(sheets), session.config.client.concurrency))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sheetstage-resync") as pool:
        return list(pool.map(plan, sheets))


def resync_staging(
    session: Session,
    numbers: Sequence[str] | None,
    confirm: Confirm | None,
    progress: Callable[[ResyncResult], None] | None = None,
) -> list[ResyncResult]:
    """Rebuild DEV3 of these sheets (None: all) from production, after one typed `yes` for
    all of them; each sheet is backed up, updated, read back and recorded on its own."""
    plans = plan_resync(session, numbers)
    todo = [p for p in plans if not p.skip]
    if todo:
        if confirm is None:
            raise RefusedError(
                f"resync-staging refused: rebuilding DEV3 of {counted(len(todo), 'sheet')} needs "
                "a typed `yes` on a terminal; run it in one"
            )
        if not confirm(plans):
            raise JobFailedError("not confirmed (only `yes` confirms); DEV3 unchanged")
    results = []
    for plan in plans:
        result = (
            ResyncResult(plan.sheet, plan.skipped_as, plan.skip)
            if plan.skip
            else _rebuild(session, plan)
        )
        results.append(result)
        if progress is not None:
            progress(result)
    if todo:
        session.sync_log()
    return results


def _rebuild(session: Session, plan: ResyncPlan) -> ResyncResult:
    sheet = plan.sheet
    before = content_hash(plan.staging)
    with session.workspace.sheet_lock(sheet):
        try:
            now = content_hash(live_project(session, sheet, Environment.STAGING))
        except StopDeploy as error:
            return ResyncResult(sheet, "failed", str(error))
        if now != before:
            message = "DEV3 changed since it was read for your `yes`; run resync-staging again"
            return ResyncResult(sheet, "stopped", message)
        try:
            copied = copy_into_staging(
                session, sheet, KIND, plan.staging, plan.target, plan.production_hash
            )
        except StopDeploy as error:
            return ResyncResult(sheet, "stopped", str(error))
        tag = copied.backup.tag
        message = (
            f"DEV3 of sheet {sheet.key} rebuilt from production {plan.production_hash[:12]} "
            f"({plan.change}); backup {tag or 'not taken: it held PHI'}"
        )
        hashes = {"staging": copied.digest, "production": plan.production_hash, "previous": before}
        mirror = {Environment.STAGING: copied.read_back}
        close_operation(session, copied.journal, sheet, "ok", message, hashes, mirror)
    return ResyncResult(sheet, "rebuilt", message, tag)
