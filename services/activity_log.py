"""The activity-log spreadsheet ("Staging Environment Log"): the audit trail's events, one
row each, with the audit `seq` as the event id.

Sync reads the event ids already in each tab (one values.batchGet) and appends exactly the
missing rows (one values.append per tab). values.append is never retried blindly: a lost
answer is repaired by the next sync, which sees which ids arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from services.audit import AuditEntry, AuditTrail
from services.google_client import GoogleApiError, GoogleClient

TABS = ("Snapshots", "Deployments", "Rollbacks", "PHI Checks", "Test Data", "Alerts")
HEADER = ["Event ID", "Time (UTC)", "User", "Action", "Sheets", "Result", "Detail"]
TAB_FOR_ACTION = {
    "snapshot": "Snapshots",
    "deploy": "Deployments",
    "rollback": "Rollbacks",
    "validate": "PHI Checks",
    "scan": "PHI Checks",
    "acknowledge": "PHI Checks",
    "generate-test-data": "Test Data",
    "alert": "Alerts",
}


@dataclass
class SyncResult:
    appended: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _quoted(tab: str) -> str:
    return "'" + tab.replace("'", "''") + "'"


def sheets_text(sheets: Sequence[int]) -> str:
    if len(sheets) > 8:
        return f"{len(sheets)} sheets"
    return ", ".join(f"{n:03d}" for n in sheets)


def row(entry: AuditEntry) -> list[str | int]:
    return [
        entry.seq,
        entry.time,
        entry.user,
        entry.action,
        sheets_text(entry.sheets),
        entry.result,
        entry.detail,
    ]


def sync(client: GoogleClient, spreadsheet_id: str, audit: AuditTrail) -> SyncResult:
    result = SyncResult()
    if not spreadsheet_id:
        result.problems.append(
            "no activity log: set [activity_log].spreadsheet_id in registry.toml"
        )
        return result
    pending: dict[str, list[AuditEntry]] = {tab: [] for tab in TABS}
    for entry in audit.entries():
        tab = TAB_FOR_ACTION.get(entry.action)
        if tab:
            pending[tab].append(entry)
    wanted = [tab for tab in TABS if pending[tab]]
    if not wanted:
        return result
    try:
        columns = client.batch_get_values(spreadsheet_id, [f"{_quoted(t)}!A:A" for t in wanted])
    except GoogleApiError as error:
        result.problems.append(f"activity log not updated: {error.describe()}")
        return result
    for tab, values in zip(wanted, columns, strict=True):
        present = {str(r[0]) for r in values if r}
        missing = [e for e in pending[tab] if str(e.seq) not in present]
        if not missing:
            continue
        try:
            client.append_values(spreadsheet_id, f"{_quoted(tab)}!A1", [row(e) for e in missing])
        except GoogleApiError as error:
            result.problems.append(
                f"activity log tab {tab}: {len(missing)} row(s) not appended ({error.describe()});"
                " the next run appends them"
            )
            continue
        result.appended[tab] = len(missing)
    return result
