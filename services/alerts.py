"""Alerts: failed snapshots, unauthorized production edits, drift beyond the threshold.

Each alert fires once per new event: the active alert keys live in state.json, and only keys
that were not active before are raised: to the audit trail (and from there the Alerts tab),
the optional webhook, and the caller, which shows them (stderr for the CLI, the TUI's
notifications)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from services.audit import AuditTrail
from services.drift import DRIFTED
from services.state import State
from sheetstage_tui.config import AlertsConfig
from sheetstage_tui.models import DriftState, Environment, Sheet, SheetDrift


@dataclass(frozen=True)
class Alert:
    key: str
    kind: str
    sheets: tuple[int, ...]
    message: str

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "sheets": list(self.sheets), "message": self.message}


def active_alerts(
    sheets: Sequence[Sheet], state: State, drift: Sequence[SheetDrift], settings: AlertsConfig
) -> list[Alert]:
    """Every alert condition that holds now, from the whole workspace state."""
    alerts = []
    for sheet in sheets:
        for env in Environment:
            error = state.data["sheets"].get(sheet.key, {}).get(str(env), {}).get("error")
            if error:
                alerts.append(
                    Alert(
                        f"snapshot-failed:{env}:{sheet.key}",
                        "snapshot-failed",
                        (sheet.number,),
                        f"snapshot of {env} sheet {sheet.key} failed: {error}",
                    )
                )
    for sheet in sheets:
        record = state.data["sheets"].get(sheet.key, {})
        for env, key in (("staging", "gate"), ("production", "gate_production")):
            gate = record.get(key, {})
            if gate.get("status") != "blocked":
                continue
            kinds = sorted(
                {str(f["type"]) for f in gate.get("findings", []) if f["severity"] == "block"}
            )
            where = "the DEV3 script" if env == "staging" else "the production script"
            alerts.append(
                Alert(
                    f"phi-blocked:{env}:{sheet.key}:{str(gate.get('hash', ''))[:12]}",
                    "phi-blocked",
                    (sheet.number,),
                    f"{env} sheet {sheet.key} holds PHI ({', '.join(kinds)}): not committed; "
                    f"remove it from {where}",
                )
            )
    for d in drift:
        if d.state in (DriftState.PROD_MODIFIED, DriftState.DIVERGED) and d.production_hash:
            alerts.append(
                Alert(
                    f"prod-modified:{d.sheet.key}:{d.production_hash[:12]}",
                    "prod-modified",
                    (d.sheet.number,),
                    f"production sheet {d.sheet.key} edited outside sheetstage by "
                    f"{d.modified_by or 'unknown'} at {d.modified_at or 'unknown time'} "
                    f"({d.state})",
                )
            )
    drifted = [d.sheet.number for d in drift if d.state in DRIFTED]
    if len(drifted) > settings.drift_threshold:
        alerts.append(
            Alert(
                "drift-threshold",
                "drift-threshold",
                tuple(drifted),
                f"{len(drifted)} sheets have drifted, more than the threshold of "
                f"{settings.drift_threshold}",
            )
        )
    return alerts


def raise_new(
    alerts: Sequence[Alert],
    state: State,
    audit: AuditTrail,
    user: str,
    settings: AlertsConfig,
) -> tuple[list[Alert], list[str]]:
    """Raise the alerts that are new; returns them and any delivery problems."""
    previous = state.alerts
    new = [a for a in alerts if a.key not in previous]
    state.alerts = {a.key for a in alerts}
    problems = []
    for alert in new:
        audit.append(user, "alert", sheets=alert.sheets, result=alert.kind, detail=alert.message)
    if new and settings.webhook_url:
        problem = post_webhook(settings, new)
        if problem:
            problems.append(problem)
    return new, problems


def post_webhook(settings: AlertsConfig, alerts: Sequence[Alert]) -> str:
    body = json.dumps({"source": "sheetstage", "alerts": [a.as_json() for a in alerts]}).encode()
    request = urllib.request.Request(
        settings.webhook_url,
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.webhook_timeout_s) as answer:
            answer.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        return f"alert webhook {settings.webhook_url} failed: {error}"
    return ""
