"""The emulator's state (Google's side) in one SQLite file.

The HTTP handlers and the demo seeding both go through this class, so an "edit in the Apps
Script editor" in a test is the same write the API's updateContent makes.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.emulator import a1

SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"
SCRIPT_MIME = "application/vnd.google-apps.script"
FILE_TYPES = ("SERVER_JS", "HTML", "JSON")
_FUNCTION = re.compile(r"^function\s+([A-Za-z_$][\w$]*)\s*\(", re.MULTILINE)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    email TEXT PRIMARY KEY, name TEXT NOT NULL, api_enabled INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, email TEXT NOT NULL, kind TEXT NOT NULL, expires REAL);
CREATE TABLE IF NOT EXISTS projects (
    script_id TEXT PRIMARY KEY, title TEXT NOT NULL, parent_id TEXT,
    create_time TEXT NOT NULL, update_time TEXT NOT NULL,
    creator TEXT NOT NULL, last_modify_user TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    script_id TEXT NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
    source TEXT NOT NULL, create_time TEXT NOT NULL, update_time TEXT NOT NULL,
    last_modify_user TEXT NOT NULL, PRIMARY KEY (script_id, name));
CREATE TABLE IF NOT EXISTS drive_files (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, mime_type TEXT NOT NULL,
    created_time TEXT NOT NULL, modified_time TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tabs (
    spreadsheet_id TEXT NOT NULL, tab TEXT NOT NULL, position INTEGER NOT NULL,
    rows_json TEXT NOT NULL, PRIMARY KEY (spreadsheet_id, tab));
"""


class NotFound(LookupError):
    pass


class InvalidArgument(ValueError):
    pass


def rfc3339(moment: float) -> str:
    stamp = datetime.fromtimestamp(moment, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def parse_rfc3339(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


class EmulatorStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)
        self._last_time = 0.0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file (before it is moved or copied)."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _now(self) -> str:
        """A strictly increasing timestamp, so two quick edits never share an updateTime."""
        with self._lock:
            moment = max(time.time(), self._last_time + 0.001)
            stored = self._query("SELECT MAX(update_time) FROM projects")[0][0]
            if stored:
                moment = max(moment, parse_rfc3339(stored) + 0.001)
            self._last_time = moment
            return rfc3339(moment)

    # users and tokens ---------------------------------------------------------------------

    def add_user(self, email: str, name: str = "", api_enabled: bool = True) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO users VALUES (?, ?, ?)",
                (email, name or email.split("@")[0], int(api_enabled)),
            )

    def set_api_enabled(self, email: str, enabled: bool) -> None:
        with self.transaction() as db:
            db.execute("UPDATE users SET api_enabled = ? WHERE email = ?", (int(enabled), email))

    def user(self, email: str) -> dict[str, Any] | None:
        rows = self._query("SELECT email, name, api_enabled FROM users WHERE email = ?", (email,))
        if not rows:
            return None
        return {"email": rows[0][0], "name": rows[0][1], "api_enabled": bool(rows[0][2])}

    def issue_refresh_token(self, email: str) -> str:
        if self.user(email) is None:
            self.add_user(email)
        token = "1//emu-" + secrets.token_urlsafe(24)
        with self.transaction() as db:
            db.execute("INSERT INTO tokens VALUES (?, ?, 'refresh', NULL)", (token, email))
        return token

    def exchange_refresh_token(self, refresh_token: str, lifetime_s: int = 3599) -> str:
        rows = self._query(
            "SELECT email FROM tokens WHERE token = ? AND kind = 'refresh'", (refresh_token,)
        )
        if not rows:
            raise NotFound("invalid_grant")
        token = "ya29.emu-" + secrets.token_urlsafe(24)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO tokens VALUES (?, ?, 'access', ?)",
                (token, rows[0][0], time.time() + lifetime_s),
            )
        return token

    def email_for_access_token(self, token: str) -> str | None:
        rows = self._query(
            "SELECT email, expires FROM tokens WHERE token = ? AND kind = 'access'", (token,)
        )
        if not rows or rows[0][1] < time.time():
            return None
        return str(rows[0][0])

    def expire_access_tokens(self) -> None:
        with self.transaction() as db:
            db.execute("UPDATE tokens SET expires = 0 WHERE kind = 'access'")

    # Apps Script projects ------------------------------------------------------------------

    def create_project(
        self,
        script_id: str,
        title: str,
        parent_id: str | None,
        files: Sequence[dict[str, str]],
        user: str,
        moment: str | None = None,
    ) -> None:
        _check_files(files)
        stamp = moment or self._now()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO projects VALUES (?, ?, ?, ?, ?, ?, ?)",
                (script_id, title, parent_id, stamp, stamp, user, user),
            )
            db.execute(
                "INSERT OR REPLACE INTO drive_files VALUES (?, ?, ?, ?, ?)",
                (script_id, title, SCRIPT_MIME, stamp, stamp),
            )
            db.executemany(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (script_id, i, f["name"], f["type"], f["source"], stamp, stamp, user)
                    for i, f in enumerate(files)
                ],
            )

    def project(self, script_id: str) -> dict[str, Any]:
        rows = self._query(
            "SELECT title, parent_id, create_time, update_time, creator, last_modify_user "
            "FROM projects WHERE script_id = ?",
            (script_id,),
        )
        if not rows:
            raise NotFound(f"Requested entity was not found. (script {script_id})")
        title, parent, created, updated, creator, modifier = rows[0]
        project: dict[str, Any] = {
            "scriptId": script_id,
            "title": title,
            "createTime": created,
            "updateTime": updated,
            "creator": self._user_json(creator),
            "lastModifyUser": self._user_json(modifier),
        }
        if parent:
            project["parentId"] = parent
        return project

    def content(self, script_id: str) -> dict[str, Any]:
        self.project(script_id)
        rows = self._query(
            "SELECT name, type, source, create_time, update_time, last_modify_user FROM files "
            "WHERE script_id = ? ORDER BY position",
            (script_id,),
        )
        files = []
        for name, kind, source, created, updated, modifier in rows:
            entry: dict[str, Any] = {
                "name": name,
                "type": kind,
                "source": source,
                "lastModifyUser": self._user_json(modifier),
                "createTime": created,
                "updateTime": updated,
            }
            if kind == "SERVER_JS":
                entry["functionSet"] = {"values": [{"name": n} for n in _FUNCTION.findall(source)]}
            files.append(entry)
        return {"scriptId": script_id, "files": files}

    def update_content(
        self, script_id: str, files: Sequence[dict[str, Any]], user: str, moment: str | None = None
    ) -> dict[str, Any]:
        """updateContent: replaces ALL files of the project, as Google does."""
        _check_files(files)
        self.project(script_id)
        stamp = moment or self._now()
        previous = {
            row[0]: row[1:]
            for row in self._query(
                "SELECT name, type, source, create_time, update_time, last_modify_user "
                "FROM files WHERE script_id = ?",
                (script_id,),
            )
        }
        rows = []
        for position, f in enumerate(files):
            old = previous.get(f["name"])
            unchanged = old is not None and old[0] == f["type"] and old[1] == f["source"]
            created = old[2] if old else stamp
            updated, modifier = (old[3], old[4]) if unchanged and old else (stamp, user)
            rows.append(
                (script_id, position, f["name"], f["type"], f["source"], created, updated, modifier)
            )
        with self.transaction() as db:
            db.execute("DELETE FROM files WHERE script_id = ?", (script_id,))
            db.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            db.execute(
                "UPDATE projects SET update_time = ?, last_modify_user = ? WHERE script_id = ?",
                (stamp, user, script_id),
            )
            db.execute("UPDATE drive_files SET modified_time = ? WHERE id = ?", (stamp, script_id))
        return self.content(script_id)

    def _user_json(self, email: str) -> dict[str, str]:
        info = self.user(email)
        name = info["name"] if info else email.split("@")[0]
        return {"email": email, "name": name, "domain": email.partition("@")[2]}

    # Drive --------------------------------------------------------------------------------

    def drive_file(self, file_id: str) -> dict[str, Any]:
        rows = self._query(
            "SELECT name, mime_type, created_time, modified_time FROM drive_files WHERE id = ?",
            (file_id,),
        )
        if not rows:
            raise NotFound(f"File not found: {file_id}.")
        name, mime, created, modified = rows[0]
        return {
            "kind": "drive#file",
            "id": file_id,
            "name": name,
            "mimeType": mime,
            "createdTime": created,
            "modifiedTime": modified,
        }

    # Sheets -------------------------------------------------------------------------------

    def create_spreadsheet(
        self, spreadsheet_id: str, title: str, tabs: dict[str, list[list[str]]]
    ) -> None:
        stamp = self._now()
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO drive_files VALUES (?, ?, ?, ?, ?)",
                (spreadsheet_id, title, SPREADSHEET_MIME, stamp, stamp),
            )
            db.executemany(
                "INSERT OR REPLACE INTO tabs VALUES (?, ?, ?, ?)",
                [
                    (spreadsheet_id, tab, i, json.dumps(rows))
                    for i, (tab, rows) in enumerate(tabs.items())
                ],
            )

    def _tab_rows(self, spreadsheet_id: str, tab: str) -> list[list[Any]]:
        if not self._query("SELECT 1 FROM drive_files WHERE id = ?", (spreadsheet_id,)):
            raise NotFound("Requested entity was not found.")
        rows = self._query(
            "SELECT rows_json FROM tabs WHERE spreadsheet_id = ? AND tab = ?", (spreadsheet_id, tab)
        )
        if not rows:
            raise InvalidArgument(f"Unable to parse range: {tab}")
        return list(json.loads(rows[0][0]))

    def _save_tab(self, db: sqlite3.Connection, spreadsheet_id: str, tab: str, rows: list) -> None:
        db.execute(
            "UPDATE tabs SET rows_json = ? WHERE spreadsheet_id = ? AND tab = ?",
            (json.dumps(rows), spreadsheet_id, tab),
        )

    def get_values(self, spreadsheet_id: str, range_text: str) -> dict[str, Any]:
        wanted = _parse_range(range_text)
        rows = self._tab_rows(spreadsheet_id, wanted.tab)
        last_row = len(rows) - 1 if wanted.last_row is None else wanted.last_row
        picked = []
        for row in rows[wanted.first_row : last_row + 1]:
            end = len(row) if wanted.last_col is None else wanted.last_col + 1
            picked.append([_cell_text(v) for v in row[wanted.first_col : end]])
        while picked and not any(c != "" for c in picked[-1]):
            picked.pop()
        picked = [_trim(r) for r in picked]
        result: dict[str, Any] = {"range": wanted.label(), "majorDimension": "ROWS"}
        if picked:
            result["values"] = picked
        return result

    def append_values(
        self, spreadsheet_id: str, range_text: str, values: list[list[Any]]
    ) -> dict[str, Any]:
        wanted = _parse_range(range_text)
        with self._lock:
            rows = self._tab_rows(spreadsheet_id, wanted.tab)
            while rows and not any(_cell_text(c) != "" for c in rows[-1]):
                rows.pop()
            first_new = len(rows)
            rows.extend([list(r) for r in values])
            with self.transaction() as db:
                self._save_tab(db, spreadsheet_id, wanted.tab, rows)
        width = max((len(r) for r in values), default=0)
        target = a1.A1Range(wanted.tab, first_new, None, wanted.first_col, None)
        return {
            "spreadsheetId": spreadsheet_id,
            "tableRange": a1.A1Range(wanted.tab, 0, max(first_new - 1, 0), 0, width - 1).label(),
            "updates": {
                "spreadsheetId": spreadsheet_id,
                "updatedRange": target.label(rows=len(values), cols=width),
                "updatedRows": len(values),
                "updatedColumns": width,
                "updatedCells": sum(len(r) for r in values),
            },
        }

    def update_values(
        self, spreadsheet_id: str, data: Iterable[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        responses = []
        with self._lock:
            for entry in data:
                wanted = _parse_range(str(entry.get("range", "")))
                values = entry.get("values", [])
                rows = self._tab_rows(spreadsheet_id, wanted.tab)
                for r, row_values in enumerate(values):
                    index = wanted.first_row + r
                    while len(rows) <= index:
                        rows.append([])
                    row = rows[index]
                    for c, value in enumerate(row_values):
                        col = wanted.first_col + c
                        while len(row) <= col:
                            row.append("")
                        row[col] = value
                with self.transaction() as db:
                    self._save_tab(db, spreadsheet_id, wanted.tab, rows)
                width = max((len(r) for r in values), default=0)
                responses.append(
                    {
                        "spreadsheetId": spreadsheet_id,
                        "updatedRange": wanted.label(rows=len(values), cols=width),
                        "updatedRows": len(values),
                        "updatedColumns": width,
                        "updatedCells": sum(len(r) for r in values),
                    }
                )
        return responses


def _parse_range(text: str) -> a1.A1Range:
    try:
        return a1.parse(text)
    except ValueError as error:
        raise InvalidArgument(str(error)) from None


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def _trim(row: list[str]) -> list[str]:
    while row and row[-1] == "":
        row = row[:-1]
    return row


def _check_files(files: Sequence[dict[str, Any]]) -> None:
    names: set[str] = set()
    manifests = 0
    for f in files:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not f["name"]:
            raise InvalidArgument("Invalid JSON payload received. Every file needs a name.")
        if f.get("type") not in FILE_TYPES:
            raise InvalidArgument(f"Invalid value at 'content.files.type' ({f.get('type')!r})")
        if not isinstance(f.get("source", ""), str):
            raise InvalidArgument("Invalid value at 'content.files.source'")
        f.setdefault("source", "")
        if f["name"] in names:
            raise InvalidArgument(f"Duplicate file name: {f['name']}")
        names.add(f["name"])
        if f["type"] == "JSON":
            manifests += 1
            if f["name"] != "appsscript":
                raise InvalidArgument("The only JSON file allowed is the manifest 'appsscript'.")
    if manifests != 1:
        raise InvalidArgument("Script project must contain exactly one manifest file 'appsscript'.")
