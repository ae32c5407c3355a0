"""Alerts: failed snapshots, unauthorized production edits, PHI held back, drift beyond the
threshold, a broken audit trail.

Each alert fires once per new event: the active alerts live in state.json, and only those
that were not active before are raised. A raised alert is stored in the outbox before
anything else, then written to the audit trail (and from there the Alerts tab); it leaves
the outbox once the webhook (when configured) has taken it and a person has been shown it
(a command's summary, the TUI), so neither a failed webhook nor a killed run loses one."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from services.audit import AuditReport, AuditTrail, utc_now
from services.config import AlertsConfig
from services.drift import DRIFTED
from services.models import DriftState, Environment, Sheet, SheetDrift
from services.overview import short_time
from services.progress import counted
from services.state import State
from services.workspace import Workspace, atomic_write

if TYPE_CHECKING:
    from services.session import Session


@dataclass(frozen=True)
class Alert:
    key: str
    kind: str
    sheets: tuple[int, ...]
    message: str

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "sheets": list(self.sheets), "message": self.message}


def active_alerts(
    sheets: Sequence[Sheet],
    state: State,
    drift: Sequence[SheetDrift],
    settings: AlertsConfig,
    audit: AuditReport | None = None,
) -> list[Alert]:
    """Every alert condition that holds now, from the whole workspace state."""
    alerts = [
        Alert(
            f"audit-broken:{check.name}:{check.broken_line or 0}",
            "audit-broken",
            (),
            check.describe() + "; that person's approvals and role count for nothing until then",
        )
        for check in (audit.broken if audit is not None else [])
    ]
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
            when = short_time(d.modified_at) or "unknown time"  # local time with zone
            alerts.append(
                Alert(
                    f"prod-modified:{d.sheet.key}:{d.production_hash[:12]}",
                    "prod-modified",
                    (d.sheet.number,),
                    f"production sheet {d.sheet.key} edited outside sheetstage by "
                    f"{d.modified_by or 'unknown'} at {when} ({d.state})",
                )
            )
    drifted = [d.sheet.number for d in drift if d.state in DRIFTED]
    if len(drifted) > settings.drift_threshold:
        have = "has" if len(drifted) == 1 else "have"
        alerts.append(
            Alert(
                "drift-threshold",
                "drift-threshold",
                tuple(drifted),
                f"{counted(len(drifted), 'sheet')} {have} drifted, more than the threshold of "
                f"{settings.drift_threshold}",
            )
        )
    return alerts


def raise_new(
    alerts: Sequence[Alert], state: State, trail: AuditTrail, outbox: Outbox
) -> list[OutboxItem]:
    """Record the alerts that are new: each goes to the outbox first (so a killed run loses
    none), then to the audit trail; state.json then holds every active alert. An alert a
    killed run stored but never confirmed is picked up, not raised twice."""
    previous = state.alerts
    raised = []
    for alert in alerts:
        if alert.key in previous:
            continue
        item = outbox.unconfirmed(alert.key) or outbox.put(alert)
        if not item.event_id:
            entry = trail.append(
                "alert",
                sheets=alert.sheets,
                hashes={"key": alert.key},
                result=alert.kind,
                detail=alert.message,
            )
            item = outbox.set_event(item, entry.event_id)
        raised.append(item)
    now = utc_now()
    state.alerts = {a.key: previous.get(a.key) or {**a.as_json(), "since": now} for a in alerts}
    return raised


def raise_alert(session: Session, kind: str, sheet: Sheet, message: str) -> Alert:
    """An event alert (a stopped or rolled-back deploy, real data in DEV3): stored in the
    outbox, written to the trail, delivered by the webhook when one is set."""
    alert = Alert(f"{kind}:{sheet.key}:{utc_now()}", kind, (sheet.number,), message)
    outbox = Outbox(session.workspace)
    item = outbox.put(alert)
    entry = session.trail().append(
        "alert", sheets=[sheet.number], hashes={"key": alert.key}, result=kind, detail=message[:300]
    )
    item = outbox.set_event(item, entry.event_id)
    outbox.confirm([item])
    return alert


def deliver(outbox: Outbox, settings: AlertsConfig) -> list[str]:
    """Send what the webhook has not received yet; what fails, or finds no webhook in this
    run's config, stays for a run that can send it."""
    items = outbox.pending(WEBHOOK)
    if not items or not settings.webhook_url:
        return []
    problem = post_webhook(settings, [item.alert for item in items])
    if problem:
        return [f"{problem}; {counted(len(items), 'alert')} kept in the outbox for the next run"]
    outbox.done(items, WEBHOOK)
    return []


REPORT = "report"  # shown to a person: a command's summary, the TUI's notifications
WEBHOOK = "webhook"  # sent by the first run whose config names a webhook


@dataclass(frozen=True)
class OutboxItem:
    path: Path
    alert: Alert
    event_id: str
    pending: tuple[str, ...]
    raised: int = 0  # time.time_ns() when stored: the outbox keeps alerts in order
    confirmed: bool = False  # state.json records it as active (its run got that far)


class Outbox:
    """`.sheetstage/outbox/`: one file per raised alert (each time it is raised), kept until
    every channel has it."""

    def __init__(self, workspace: Workspace) -> None:
        self.folder = workspace.internal / "outbox"

    def _save(self, item: OutboxItem) -> OutboxItem:
        document = {**item.alert.as_json(), "key": item.alert.key}
        document |= {"event_id": item.event_id, "pending": list(item.pending)}
        document |= {"raised": item.raised, "confirmed": item.confirmed}
        atomic_write(item.path, json.dumps(document, sort_keys=True).encode())
        return item

    def put(self, alert: Alert) -> OutboxItem:
        raised = time.time_ns()
        name = hashlib.sha256(f"{alert.key}\0{raised}".encode()).hexdigest()[:20]
        return self._save(
            OutboxItem(self.folder / f"{name}.json", alert, "", (REPORT, WEBHOOK), raised)
        )

    def unconfirmed(self, key: str) -> OutboxItem | None:
        """An alert of this key stored by a run that was killed before recording it."""
        return next((i for i in self.items() if i.alert.key == key and not i.confirmed), None)

    def set_event(self, item: OutboxItem, event_id: str) -> OutboxItem:
        return self._save(dataclasses.replace(item, event_id=event_id))

    def confirm(self, items: Sequence[OutboxItem]) -> None:
        for item in items:
            current = _load(item.path)
            if current is not None:
                self._save(dataclasses.replace(current, confirmed=True))

    def items(self) -> list[OutboxItem]:
        """Every stored alert, oldest first."""
        found = [item for item in map(_load, self.folder.glob("*.json")) if item is not None]
        return sorted(found, key=lambda item: item.raised)

    def pending(self, channel: str) -> list[OutboxItem]:
        return [item for item in self.items() if channel in item.pending]

    def done(self, items: Sequence[OutboxItem], channel: str) -> None:
        for item in items:
            current = _load(item.path)
            if current is None:
                continue
            left = tuple(c for c in current.pending if c != channel)
            if left:
                self._save(dataclasses.replace(current, pending=left))
            else:
                with contextlib.suppress(FileNotFoundError):
                    current.path.unlink()


def _load(path: Path) -> OutboxItem | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        alert = Alert(
            str(data["key"]),
            str(data["kind"]),
            tuple(int(n) for n in data.get("sheets", [])),
            str(data.get("message", "")),
        )
        pending = tuple(str(c) for c in data.get("pending", []))
        event = str(data.get("event_id", ""))
        raised, confirmed = int(data.get("raised", 0)), bool(data.get("confirmed", False))
        return OutboxItem(path, alert, event, pending, raised, confirmed)
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
