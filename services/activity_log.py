"""The activity-log spreadsheet ("Staging Environment Log"): every audit-trail line, one row
each, with `USER:seq` as the event id and the line's SHA-256 beside it, so the sheet is an
outside witness for lines not yet in a commit (`audit verify` reads it back).

Sync reads the event ids and hashes already in every tab (one values.batchGet) and appends
exactly the missing rows (one values.append per tab, the tabs at once). values.append is never
retried blindly: a lost answer is repaired by the next sync, which sees which ids arrived.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from services import crashpoints
from services.audit import AuditEntry
from services.google_client import GoogleApiError, GoogleClient

TABS = ("Snapshots", "Deployments", "Rollbacks", "PHI Checks", "Test Data", "Alerts")
HEADER = ["Event ID", "Time (UTC)", "User", "Action", "Sheets", "Result", "Detail", "Line SHA-256"]
TAB_FOR_ACTION = {
    "request-review": "Deployments",
    "approve": "Deployments",
    "validate": "PHI Checks",
    "scan": "PHI Checks",
    "acknowledge": "PHI Checks",
    "allow-phi": "PHI Checks",
    "generate-test-data": "Test Data",
    "test": "Test Data",
    "alert": "Alerts",
}
TAB_FOR_PREFIX = {
    "deploy": "Deployments",
    **{way: "Rollbacks" for way in ("rollback", "revert", "accept", "adopt", "backup")},
}
DEFAULT_TAB = "Snapshots"  # snapshots and the workspace's own events (init, push, recovery)
_HASH = re.compile(r"^[0-9a-f]{64}$")


def tab_for(entry: AuditEntry) -> str:
    """Deploy steps (deploy, deploy-update, ...) go to Deployments, every way back to
    Rollbacks; a backup goes with the operation that took it."""
    action = entry.action
    if action == "backup":
        action = entry.hashes.get("op", "backup")
    if action in TAB_FOR_ACTION:
        return TAB_FOR_ACTION[action]
    return TAB_FOR_PREFIX.get(action.split("-")[0], DEFAULT_TAB)


@dataclass
class SyncResult:
    appended: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    witness: dict[str, set[str]] | None = None  # event id -> line hashes, when the log was read


def _quoted(tab: str) -> str:
    return "'" + tab.replace("'", "''") + "'"


def sheets_text(sheets: Sequence[int]) -> str:
    if len(sheets) > 8:
        return f"{len(sheets)} sheets"
    return ", ".join(f"{n:03d}" for n in sheets)


def row(entry: AuditEntry) -> list[str | int]:
    return [
        entry.event_id,
        entry.time,
        entry.user,
        entry.action,
        sheets_text(entry.sheets),
        entry.result,
        entry.detail,
        entry.line_hash,
    ]


Log = dict[str, dict[str, set[str]]]
"""Per tab: event id -> the line hashes its rows recorded (a row can be appended twice)."""


def read_log(client: GoogleClient, spreadsheet_id: str) -> Log:
    columns = client.batch_get_values(spreadsheet_id, [f"{_quoted(t)}!A:H" for t in TABS])
    log: Log = {}
    for tab, rows in zip(TABS, columns, strict=True):
        log[tab] = {}
        for row in rows[1:]:
            if row and str(row[0]):
                digest = str(row[7]) if len(row) > 7 else ""
                log[tab].setdefault(str(row[0]), set()).add(digest)
    return log


def witness_of(log: Log) -> dict[str, set[str]]:
    """The rows that witness a person's trail line: `USER:seq` ids with line hashes. A line
    matching any row of its id is witnessed, so a row someone appended later cannot void it."""
    witness: dict[str, set[str]] = {}
    for rows in log.values():
        for event, digests in rows.items():
            found = {d for d in digests if _HASH.match(d)}
            if ":" in event and found:
                witness.setdefault(event, set()).update(found)
    return witness


def sync(
    client: GoogleClient,
    spreadsheet_id: str,
    entries: Sequence[AuditEntry],
    log: Log | None = None,
) -> SyncResult:
    """Append the rows the log lacks. `log` is the log as this run already read it (one Sheets
    read saved); a row another run appended meanwhile may then be sent twice, which the
    event id makes harmless: verify checks every copy."""
    result = SyncResult()
    if not spreadsheet_id:
        result.problems.append(
            "no activity log: set [activity_log].spreadsheet_id in registry.toml"
        )
        return result
    if log is None:
        try:
            log = read_log(client, spreadsheet_id)
        except GoogleApiError as error:
            result.problems.append(f"activity log not updated: {error.describe()}")
            return result
    result.witness = witness_of(log)
    present = {event for rows in log.values() for event in rows}
    missing: dict[str, list[AuditEntry]] = {tab: [] for tab in TABS}
    for entry in entries:
        if entry.event_id not in present:
            missing[tab_for(entry)].append(entry)
    tabs = [tab for tab in TABS if missing[tab]]

    def append(tab: str) -> GoogleApiError | None:
        try:
            client.append_values(
                spreadsheet_id, f"{_quoted(tab)}!A1", [row(e) for e in missing[tab]]
            )
        except GoogleApiError as error:
            return error
        crashpoints.reached("activity-log")
        return None

    # the tabs are appended at once: each call waits on Google, not on the others
    with ThreadPoolExecutor(max_workers=max(1, len(tabs))) as pool:
        errors = list(pool.map(append, tabs))
    for tab, error in zip(tabs, errors, strict=True):
        if error is not None:
            result.problems.append(
                f"activity log tab {tab}: {len(missing[tab])} row(s) not appended "
                f"({error.describe()}); the next run appends them"
            )
            continue
        result.appended[tab] = len(missing[tab])
        for entry in missing[tab]:
            result.witness.setdefault(entry.event_id, set()).add(entry.line_hash)
    return result
