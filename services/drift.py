"""Drift: the five sheet states of DESIGN.md from content hashes and the baseline."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from services.models import DriftState, Environment, Sheet, SheetDrift
from services.state import State


def sheet_drift(sheet: Sheet, state: State) -> SheetDrift:
    record = state.data["sheets"].get(sheet.key, {})
    production = record.get(str(Environment.PRODUCTION), {})
    staging = record.get(str(Environment.STAGING), {})
    p, s = production.get("hash"), staging.get("hash")
    baseline = record.get("baseline") or p
    who, when = production.get("modified_by", ""), production.get("modified_at", "")

    def make(state_: DriftState, reason: str = "") -> SheetDrift:
        return SheetDrift(sheet, state_, p, s, baseline, reason, who, when)

    failures = [
        f"{env} fetch failed: {side['error']}"
        for env, side in (("production", production), ("staging", staging))
        if side.get("error")
    ]
    if failures:
        return make(DriftState.UNKNOWN, "; ".join(failures))
    held = [
        f"{env}'s newest code is held back by the PHI gate"
        for env, side in (("production", production), ("staging", staging))
        if side.get("held_back")
    ]
    if p is None or s is None:
        missing = " and ".join(env for env, h in (("production", p), ("staging", s)) if h is None)
        return make(DriftState.UNKNOWN, "; ".join([f"{missing} never snapshotted", *held]))
    if s == p:
        return make(DriftState.IN_SYNC, "; ".join(held))
    if p == baseline:
        return make(DriftState.AHEAD, "; ".join(["staging holds undeployed changes", *held]))
    if s == baseline:
        edited = f"production edited by {who or 'unknown'} at {when}"
        return make(DriftState.PROD_MODIFIED, "; ".join([edited, *held]))
    edited = f"both changed; production edited by {who or 'unknown'}"
    return make(DriftState.DIVERGED, "; ".join([edited, *held]))


def compute_drift(sheets: Iterable[Sheet], state: State) -> list[SheetDrift]:
    return [sheet_drift(s, state) for s in sorted(sheets, key=lambda s: s.number)]


def counts(drift: Iterable[SheetDrift]) -> dict[str, int]:
    tally = Counter(d.state for d in drift)
    return {str(state): tally.get(state, 0) for state in DriftState}


DRIFTED = (DriftState.AHEAD, DriftState.PROD_MODIFIED, DriftState.DIVERGED)
