"""The emulator's state (Google's side) in one SQLite file.

The HTTP handlers and the demo seeding both go through this class, so an "edit in the Apps
Script editor" in a test is the same write the API's updateContent makes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.emulator import a1

SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"
SCRIPT_MIME = "application/vnd.google-apps.script"
FOLDER_MIME = "application/vnd.google-apps.folder"
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
    created_time TEXT NOT NULL, modified_time TEXT NOT NULL,
    parents TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS tabs (
    spreadsheet_id TEXT NOT NULL, tab TEXT NOT NULL, position INTEGER NOT NULL,
    rows_json TEXT NOT NULL, row_count INTEGER NOT NULL DEFAULT 1000,
    column_count INTEGER NOT NULL DEFAULT 26, PRIMARY KEY (spreadsheet_id, tab));
CREATE TABLE IF NOT EXISTS permissions (
    file_id TEXT NOT NULL, type TEXT NOT NULL, principal TEXT NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (file_id, type, principal));
CREATE TABLE IF NOT EXISTS requests (
    time REAL NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, user TEXT NOT NULL,
    status INTEGER NOT NULL);
"""
DEFAULT_ROWS = 1000  # a new Google sheet's grid
DEFAULT_COLUMNS = 26
MAX_CELLS = 10_000_000  # Google's limit for all tabs of a spreadsheet together
MAX_COLUMNS = 18_278  # column ZZZ
SPREADSHEET_SETTINGS = {"locale": "en_US", "autoRecalc": "ON_CHANGE", "timeZone": "America/Chicago"}
ROLES = ("owner", "writer", "reader")
PERMISSION_TYPES = ("user", "domain", "anyone")
WRITE_ROLES = ("owner", "writer")


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
        self._migrate()
        self._last_time = 0.0

    def _migrate(self) -> None:
        """A store written before Drive files had parents gets the column (no file in a
        folder); one written before tabs had a grid gets one: the default, or larger where
        its data already reaches further."""
        if not self._has_column(self._db, "drive_files", "parents"):
            with self.transaction() as db:
                if not self._has_column(db, "drive_files", "parents"):  # or another process did
                    db.execute(
                        "ALTER TABLE drive_files ADD COLUMN parents TEXT NOT NULL DEFAULT '[]'"
                    )
        if self._has_grid_columns(self._db):
            return
        with self.transaction() as db:
            if self._has_grid_columns(db):  # another process got there first
                return
            for column, default in (("row_count", DEFAULT_ROWS), ("column_count", DEFAULT_COLUMNS)):
                db.execute(
                    f"ALTER TABLE tabs ADD COLUMN {column} INTEGER NOT NULL DEFAULT {default}"
                )
            stored = db.execute("SELECT spreadsheet_id, tab, rows_json FROM tabs").fetchall()
            for spreadsheet_id, tab, rows_json in stored:
                row_count, column_count = _grid_for(json.loads(rows_json))
                db.execute(
                    "UPDATE tabs SET row_count = ?, column_count = ? "
                    "WHERE spreadsheet_id = ? AND tab = ?",
                    (row_count, column_count, spreadsheet_id, tab),
                )

    @staticmethod
    def _has_grid_columns(db: sqlite3.Connection) -> bool:
        return EmulatorStore._has_column(db, "tabs", "row_count")

    @staticmethod
    def _has_column(db: sqlite3.Connection, table: str, column: str) -> bool:
        return column in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file (before it is moved or copied)."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing; inside another transaction, part of it (seeding the demo is one)."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
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

    # the request log ----------------------------------------------------------------------

    def log_request(self, method: str, path: str, user: str, status: int) -> None:
        """One row per API request answered. A single autocommitted insert: under WAL with
        synchronous=NORMAL it does not wait for a sync of its own."""
        with self._lock:
            self._db.execute(
                "INSERT INTO requests VALUES (?, ?, ?, ?, ?)",
                (time.time(), method, path, user, status),
            )

    def request_log(self, path_contains: str = "") -> list[dict[str, Any]]:
        """The logged requests, oldest first; only those whose path holds `path_contains`
        (case-sensitive, e.g. a spreadsheet id) when given. Rows: {"time": epoch seconds,
        "method", "path" (decoded, without the query), "user" ("" when unauthenticated),
        "status"}."""
        sql = "SELECT time, method, path, user, status FROM requests"
        args: tuple[str, ...] = ()
        if path_contains:
            sql += " WHERE instr(path, ?) > 0"
            args = (path_contains,)
        return [
            {"time": moment, "method": method, "path": path, "user": user, "status": status}
            for moment, method, path, user, status in self._query(sql + " ORDER BY rowid", args)
        ]

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
            db.execute(  # a bound script lives in its container, in no folder of its own
                "INSERT OR REPLACE INTO drive_files "
                "(id, name, mime_type, created_time, modified_time) VALUES (?, ?, ?, ?, ?)",
                (script_id, title, SCRIPT_MIME, stamp, stamp),
            )
            db.executemany(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (script_id, i, f["name"], f["type"], f["source"], stamp, stamp, user)
                    for i, f in enumerate(files)
                ],
            )
            _grant(db, script_id, user, "owner", "user")  # the creator owns the project

    def project(self, script_id: str) -> dict[str, Any]:
        rows = self._query(
            "SELECT title, parent_id, create_time, update_time, creator, last_modify_user "
            "FROM projects WHERE script_id = ?",
            (script_id,),
        )
        if not rows:
            raise NotFound("Requested entity was not found.")
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
        """A Drive v3 File resource; `parents` (the folders holding it) only when there are
        any, as Google leaves the field out."""
        rows = self._query(
            "SELECT name, mime_type, created_time, modified_time, parents FROM drive_files "
            "WHERE id = ?",
            (file_id,),
        )
        if not rows:
            raise NotFound(f"File not found: {file_id}.")
        name, mime, created, modified, parents = rows[0]
        found: dict[str, Any] = {
            "kind": "drive#file",
            "id": file_id,
            "name": name,
            "mimeType": mime,
            "createdTime": created,
            "modifiedTime": modified,
        }
        if json.loads(parents):
            found["parents"] = json.loads(parents)
        return found

    def create_folder(
        self, folder_id: str, name: str, owner: str | None = None, parents: Sequence[str] = ()
    ) -> None:
        """A Drive folder: a file of the folder type, which other files name as a parent."""
        stamp = self._now()
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO drive_files VALUES (?, ?, ?, ?, ?, ?)",
                (folder_id, name, FOLDER_MIME, stamp, stamp, json.dumps(list(parents))),
            )
            if owner:
                _grant(db, folder_id, owner, "owner", "user")

    def move(self, file_id: str, parents: Sequence[str]) -> None:
        """Put a file in these folders (files.update with addParents/removeParents, whole)."""
        with self.transaction() as db:
            for parent in parents:
                found = db.execute(
                    "SELECT mime_type FROM drive_files WHERE id = ?", (parent,)
                ).fetchall()
                if not found or found[0][0] != FOLDER_MIME:
                    raise InvalidArgument(f"The parent {parent} is not a folder.")
            moved = db.execute(
                "UPDATE drive_files SET parents = ? WHERE id = ?",
                (json.dumps(list(parents)), file_id),
            )
            if not moved.rowcount:
                raise NotFound(f"File not found: {file_id}.")

    # Drive permissions ---------------------------------------------------------------------

    def share(self, file_id: str, principal: str, role: str, type: str = "user") -> None:
        """Grant `role` on a file to a user (an e-mail), a whole domain, or anyone with the link
        (type "anyone", principal ""). Sharing again changes the role, except that an owner
        stays owner (Drive moves ownership only on request)."""
        if role not in ROLES:
            raise InvalidArgument(f"Invalid permission role: {role}")
        if type not in PERMISSION_TYPES:
            raise InvalidArgument(f"Invalid permission type: {type}")
        if type != "user" and role == "owner":
            raise InvalidArgument(f"A permission of type {type} cannot own a file.")
        if (type == "anyone") != (principal == ""):
            raise InvalidArgument("Only a permission of type anyone has no email or domain.")
        with self.transaction() as db:
            _grant(db, file_id, principal, role, type)

    def unshare(self, file_id: str, principal: str, type: str = "user") -> None:
        """Remove a grantee's permission (permissions.delete); an owner cannot be removed."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM permissions WHERE file_id = ? AND type = ? AND principal = ? "
                "AND role != 'owner'",
                (file_id, type, principal.lower()),
            )

    def permissions(self, file_id: str) -> list[dict[str, Any]]:
        """The file's permissions as Drive v3's Permission resources, owner first."""
        rows = self._query(
            "SELECT type, principal, role FROM permissions WHERE file_id = ? "
            "ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'writer' THEN 1 ELSE 2 END, rowid",
            (file_id,),
        )
        found = []
        for kind, principal, role in rows:
            entry: dict[str, Any] = {
                "kind": "drive#permission",
                "id": _permission_id(kind, principal),
                "type": kind,
                "role": role,
            }
            if kind == "user":
                entry["emailAddress"] = principal
                info = self.user(principal)
                entry["displayName"] = info["name"] if info else principal.split("@")[0]
            elif kind == "domain":
                entry["domain"] = principal
                entry["displayName"] = principal
                entry["allowFileDiscovery"] = False
            else:  # anyone with the link: no e-mail, no domain, not found by search
                entry["allowFileDiscovery"] = False
            found.append(entry)
        return found

    def can(self, file_id: str, email: str, need: str) -> bool:
        """May `email` read (any role) or write (owner, writer) the file? An `anyone`
        permission grants its role to every caller. A file with no permissions at all (a
        store from before permissions) is open to everyone."""
        if need not in ("read", "write"):
            raise ValueError(f"need must be 'read' or 'write', not {need!r}")
        rows = self._query(
            "SELECT type, principal, role FROM permissions WHERE file_id = ?", (file_id,)
        )
        if not rows:
            return True
        email = email.lower()
        domain = email.partition("@")[2]
        allowed = WRITE_ROLES if need == "write" else ROLES
        return any(
            role in allowed
            and (kind == "anyone" or principal == (email if kind == "user" else domain))
            for kind, principal, role in rows
        )

    # Sheets -------------------------------------------------------------------------------

    def create_spreadsheet(
        self,
        spreadsheet_id: str,
        title: str,
        tabs: dict[str, list[list[str]]],
        owner: str | None = None,
        parents: Sequence[str] = (),
    ) -> None:
        """Each tab gets a new sheet's grid (1000 x 26), or more when its rows need it;
        `parents` are the Drive folders holding it."""
        stamp = self._now()
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO drive_files VALUES (?, ?, ?, ?, ?, ?)",
                (spreadsheet_id, title, SPREADSHEET_MIME, stamp, stamp, json.dumps(list(parents))),
            )
            db.executemany(
                "INSERT OR REPLACE INTO tabs "
                "(spreadsheet_id, tab, position, rows_json, row_count, column_count) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (spreadsheet_id, tab, i, json.dumps(rows), *_grid_for(rows))
                    for i, (tab, rows) in enumerate(tabs.items())
                ],
            )
            if owner:
                _grant(db, spreadsheet_id, owner, "owner", "user")

    def grid(self, spreadsheet_id: str, tab: str) -> tuple[int, int]:
        """(rows, columns) of a tab's grid."""
        with self._lock:
            found = self._read_tab(self._db, spreadsheet_id, tab, tab)
        return found.row_count, found.column_count

    def set_grid(self, spreadsheet_id: str, tab: str, rows: int, columns: int) -> None:
        with self.transaction() as db:
            self._read_tab(db, spreadsheet_id, tab, tab)
            db.execute(
                "UPDATE tabs SET row_count = ?, column_count = ? "
                "WHERE spreadsheet_id = ? AND tab = ?",
                (rows, columns, spreadsheet_id, tab),
            )

    def _read_tab(
        self, db: sqlite3.Connection, spreadsheet_id: str, tab: str, range_text: str
    ) -> _Tab:
        if not db.execute("SELECT 1 FROM drive_files WHERE id = ?", (spreadsheet_id,)).fetchall():
            raise NotFound("Requested entity was not found.")
        rows = db.execute(
            "SELECT rows_json, row_count, column_count FROM tabs "
            "WHERE spreadsheet_id = ? AND tab = ?",
            (spreadsheet_id, tab),
        ).fetchall()
        if not rows:
            raise InvalidArgument(f"Unable to parse range: {range_text}")
        rows_json, row_count, column_count = rows[0]
        return _Tab(tab, list(json.loads(rows_json)), int(row_count), int(column_count))

    def _save_tab(self, db: sqlite3.Connection, spreadsheet_id: str, tab: _Tab) -> None:
        db.execute(
            "UPDATE tabs SET rows_json = ?, row_count = ?, column_count = ? "
            "WHERE spreadsheet_id = ? AND tab = ?",
            (json.dumps(tab.rows), tab.row_count, tab.column_count, spreadsheet_id, tab.name),
        )

    def get_values(self, spreadsheet_id: str, range_text: str) -> dict[str, Any]:
        wanted = _parse_range(range_text)
        with self._lock:
            tab = self._read_tab(self._db, spreadsheet_id, wanted.tab, range_text)
        tab.check_fits(wanted)
        bounded = tab.bound(wanted)
        assert bounded.last_row is not None and bounded.last_col is not None
        picked = [
            [_cell_text(v) for v in row[bounded.first_col : bounded.last_col + 1]]
            for row in tab.rows[bounded.first_row : bounded.last_row + 1]
        ]
        while picked and not any(c != "" for c in picked[-1]):
            picked.pop()
        picked = [_trim(r) for r in picked]
        result: dict[str, Any] = {"range": bounded.label(), "majorDimension": "ROWS"}
        if picked:
            result["values"] = picked
        return result

    def append_values(
        self,
        spreadsheet_id: str,
        range_text: str,
        values: list[list[Any]],
        insert_data_option: str = "INSERT_ROWS",
    ) -> dict[str, Any]:
        """values.append after the last row holding data. INSERT_ROWS inserts rows for the new
        data, so the grid grows by as many rows; OVERWRITE grows it only where the data would
        run past its end."""
        wanted = _parse_range(range_text)
        _check_values(values, "values")
        width = max((len(r) for r in values), default=0)
        with self.transaction() as db:
            tab = self._read_tab(db, spreadsheet_id, wanted.tab, range_text)
            tab.check_fits(wanted)
            rows = tab.rows
            while rows and not any(_cell_text(c) != "" for c in rows[-1]):
                rows.pop()
            first_new = len(rows)
            target = a1.A1Range(
                wanted.tab,
                first_new,
                first_new + max(len(values), 1) - 1,
                wanted.first_col,
                wanted.first_col + max(width, 1) - 1,
            )
            if wanted.first_col + width > tab.column_count:  # rows grow, columns do not
                raise tab.exceeds(target)
            rows.extend([[""] * wanted.first_col + list(r) for r in values])
            if insert_data_option == "INSERT_ROWS":
                tab.row_count += len(values)
            else:
                tab.row_count = max(tab.row_count, len(rows))
            self._save_tab(db, spreadsheet_id, tab)
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
        """values.batchUpdate, all or nothing: every entry is checked (tab, range, grid) before
        any is written, and all are written in one transaction."""
        entries = list(data)
        responses = []
        with self.transaction() as db:
            tabs: dict[str, _Tab] = {}
            writes: list[tuple[_Tab, a1.A1Range, list[list[Any]]]] = []
            for index, entry in enumerate(entries):
                if not isinstance(entry, dict):
                    raise InvalidArgument(f"Invalid value at 'data[{index}]'")
                range_text = str(entry.get("range", ""))
                wanted = _parse_range(range_text)
                values = entry.get("values", [])
                _check_values(values, f"data[{index}].values")
                if wanted.tab not in tabs:
                    tabs[wanted.tab] = self._read_tab(db, spreadsheet_id, wanted.tab, range_text)
                tab = tabs[wanted.tab]
                tab.check_fits(wanted)
                _check_within(wanted, values)
                width = max((len(r) for r in values), default=0)
                if values and width:
                    written = a1.A1Range(
                        wanted.tab,
                        wanted.first_row,
                        wanted.first_row + len(values) - 1,
                        wanted.first_col,
                        wanted.first_col + width - 1,
                    )
                    tab.check_fits(written)
                writes.append((tab, wanted, values))
            for tab, wanted, values in writes:
                for r, row_values in enumerate(values):
                    index = wanted.first_row + r
                    while len(tab.rows) <= index:
                        tab.rows.append([])
                    row = tab.rows[index]
                    for c, value in enumerate(row_values):
                        if value is None:  # Google skips a null: the cell keeps its value
                            continue
                        col = wanted.first_col + c
                        while len(row) <= col:
                            row.append("")
                        row[col] = value
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
            for tab in tabs.values():
                self._save_tab(db, spreadsheet_id, tab)
        return responses

    def _sheets(
        self, db: sqlite3.Connection, spreadsheet_id: str, with_rows: bool = True
    ) -> tuple[str, list[_Sheet]]:
        """The spreadsheet's title and its tabs in order (their cells only `with_rows`)."""
        found = db.execute("SELECT name FROM drive_files WHERE id = ?", (spreadsheet_id,))
        title = found.fetchall()
        if not title:
            raise NotFound("Requested entity was not found.")
        cells = "rows_json" if with_rows else "'[]'"
        stored = db.execute(
            f"SELECT tab, {cells}, row_count, column_count FROM tabs "
            "WHERE spreadsheet_id = ? ORDER BY position, tab",
            (spreadsheet_id,),
        ).fetchall()
        sheets = [
            _Sheet(
                _sheet_id(spreadsheet_id, tab, index),
                index,
                _Tab(tab, list(json.loads(rows_json)), int(row_count), int(column_count)),
            )
            for index, (tab, rows_json, row_count, column_count) in enumerate(stored)
        ]
        return str(title[0][0]), sheets

    def sheet_properties(self, spreadsheet_id: str) -> list[dict[str, Any]]:
        """Each tab's SheetProperties, in order: the first tab's sheetId is 0, the others'
        a stable positive 31-bit number derived from the spreadsheet id and the tab."""
        with self._lock:
            _, sheets = self._sheets(self._db, spreadsheet_id, with_rows=False)
        return [sheet.properties() for sheet in sheets]

    def spreadsheet(
        self, spreadsheet_id: str, ranges: Sequence[str] = (), include_grid_data: bool = False
    ) -> dict[str, Any]:
        """spreadsheets.get: a Spreadsheet resource. With `ranges`, only the tabs they are on,
        and grid data for just those ranges."""
        with self._lock:
            title, sheets = self._sheets(self._db, spreadsheet_id, with_rows=include_grid_data)
        return _spreadsheet_json(spreadsheet_id, title, sheets, ranges, include_grid_data)

    def batch_update_spreadsheet(
        self,
        spreadsheet_id: str,
        requests: Sequence[dict[str, Any]],
        response_ranges: Sequence[str] | None = None,
        response_grid_data: bool = False,
    ) -> dict[str, Any]:
        """spreadsheets.batchUpdate, all or nothing: the requests apply in order to copies of
        the tabs (so an appendDimension makes room for a later updateCells), and the copies
        are stored, in one transaction, only once every request has succeeded. Serves
        appendDimension and updateCells (payload.check_spreadsheet_batch_update_body refuses
        the other kinds). With `response_ranges` (even empty) the answer carries the
        updatedSpreadsheet."""
        with self.transaction() as db:
            title, sheets = self._sheets(db, spreadsheet_id)
            by_id = {sheet.sheet_id: sheet for sheet in sheets}
            changed: dict[int, _Tab] = {}
            for index, request in enumerate(requests):
                ((kind, spec),) = request.items()
                where = f"requests[{index}].{kind}"
                sheet_id = _target(kind, spec).get("sheetId", 0)  # proto3: missing = 0
                if sheet_id not in by_id:
                    raise InvalidArgument(f"Invalid {where}: No grid with id: {sheet_id}")
                tab = by_id[sheet_id].tab
                if kind == "appendDimension":
                    _append_dimension(tab, spec, where, sheets)
                elif kind == "updateCells":
                    _update_cells(tab, spec, where)
                else:
                    raise InvalidArgument(f"Invalid {where}: not served by the emulator.")
                changed[sheet_id] = tab
            answer: dict[str, Any] = {
                "spreadsheetId": spreadsheet_id,
                "replies": [{} for _ in requests],
            }
            if response_ranges is not None:  # built before the commit: a bad range stores nothing
                answer["updatedSpreadsheet"] = _spreadsheet_json(
                    spreadsheet_id, title, sheets, response_ranges, response_grid_data
                )
            for tab in changed.values():
                self._save_tab(db, spreadsheet_id, tab)
        return answer


@dataclass
class _Tab:
    name: str
    rows: list[list[Any]]
    row_count: int
    column_count: int

    def check_fits(self, wanted: a1.A1Range) -> None:
        past = (
            wanted.first_row >= self.row_count
            or wanted.first_col >= self.column_count
            or (wanted.last_row is not None and wanted.last_row >= self.row_count)
            or (wanted.last_col is not None and wanted.last_col >= self.column_count)
        )
        if past:
            raise self.exceeds(wanted)

    def exceeds(self, wanted: a1.A1Range) -> InvalidArgument:
        return InvalidArgument(
            f"Range ({wanted.quoted()}) exceeds grid limits. Max rows: {self.row_count}, "
            f"max columns: {self.column_count}"
        )

    def bound(self, wanted: a1.A1Range) -> a1.A1Range:
        """An open range (`Tab`, `Tab!A:A`, `Tab!A2:F`) closed at the grid's edge."""
        last_row = self.row_count - 1 if wanted.last_row is None else wanted.last_row
        last_col = self.column_count - 1 if wanted.last_col is None else wanted.last_col
        return dataclasses.replace(wanted, last_row=last_row, last_col=last_col)

    def put(self, row: int, col: int, value: Any) -> None:
        if value == "" and (row >= len(self.rows) or col >= len(self.rows[row])):
            return  # already empty
        while len(self.rows) <= row:
            self.rows.append([])
        cells = self.rows[row]
        while len(cells) <= col:
            cells.append("")
        cells[col] = value

    def tidy(self) -> None:
        """Drop the empty cells and rows at the ends (reads trim them anyway)."""
        self.rows = [_trim_cells(r) for r in self.rows]
        while self.rows and not self.rows[-1]:
            self.rows.pop()


@dataclass
class _Sheet:
    sheet_id: int
    index: int
    tab: _Tab

    def properties(self) -> dict[str, Any]:
        return {
            "sheetId": self.sheet_id,
            "title": self.tab.name,
            "index": self.index,
            "sheetType": "GRID",
            "gridProperties": {
                "rowCount": self.tab.row_count,
                "columnCount": self.tab.column_count,
            },
        }


def _sheet_id(spreadsheet_id: str, tab: str, index: int) -> int:
    if index == 0:
        return 0
    digest = hashlib.sha256(f"{spreadsheet_id}{tab}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (2**31 - 1) + 1


def _spreadsheet_json(
    spreadsheet_id: str,
    title: str,
    sheets: Sequence[_Sheet],
    ranges: Sequence[str],
    include_grid_data: bool,
) -> dict[str, Any]:
    by_title = {sheet.tab.name: sheet for sheet in sheets}
    wanted: dict[str, list[a1.A1Range]] = {}
    for text in ranges:
        parsed = _parse_range(text)
        if parsed.tab not in by_title:
            raise InvalidArgument(f"Unable to parse range: {text}")
        by_title[parsed.tab].tab.check_fits(parsed)
        wanted.setdefault(parsed.tab, []).append(parsed)
    listed = []
    for sheet in sheets:
        if ranges and sheet.tab.name not in wanted:
            continue
        entry: dict[str, Any] = {"properties": sheet.properties()}
        if include_grid_data:
            whole = [a1.A1Range(sheet.tab.name, 0, None, 0, None)]
            entry["data"] = [_grid_data(sheet.tab, r) for r in wanted.get(sheet.tab.name, whole)]
        listed.append(entry)
    return {
        "spreadsheetId": spreadsheet_id,
        "properties": {"title": title, **SPREADSHEET_SETTINGS},
        "sheets": listed,
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit",
    }


def _grid_data(tab: _Tab, wanted: a1.A1Range) -> dict[str, Any]:
    """GridData as Google gives it: rows up to the last one holding data, each row's cells up
    to its last value, empty ones as {}; startRow/startColumn only when not 0."""
    bounded = tab.bound(wanted)
    assert bounded.last_row is not None and bounded.last_col is not None
    row_data: list[dict[str, Any]] = []
    for row in tab.rows[bounded.first_row : bounded.last_row + 1]:
        cells = [_cell_data(v) for v in row[bounded.first_col : bounded.last_col + 1]]
        while cells and not cells[-1]:
            cells.pop()
        row_data.append({"values": cells} if cells else {})
    while row_data and not row_data[-1]:
        row_data.pop()
    data: dict[str, Any] = {}
    if wanted.first_row:
        data["startRow"] = wanted.first_row
    if wanted.first_col:
        data["startColumn"] = wanted.first_col
    if row_data:
        data["rowData"] = row_data
    return data


def _cell_data(value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, bool):
        typed = {"boolValue": value}
    elif isinstance(value, int | float):
        typed = {"numberValue": value}
    else:
        typed = {"stringValue": _cell_text(value)}
    return {
        "userEnteredValue": typed,
        "effectiveValue": dict(typed),
        "formattedValue": _cell_text(value),
    }


def _target(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The part of a request naming its sheet."""
    if kind == "updateCells":
        return spec.get("range", spec.get("start", {}))
    return spec


def _append_dimension(
    tab: _Tab, spec: dict[str, Any], where: str, sheets: Sequence[_Sheet]
) -> None:
    dimension, length = spec.get("dimension"), spec.get("length", 0)
    if dimension not in ("ROWS", "COLUMNS"):
        raise InvalidArgument(f"Invalid {where}: dimension must be ROWS or COLUMNS.")
    if length <= 0:
        raise InvalidArgument(f"Invalid {where}: length must be greater than 0.")
    if dimension == "ROWS":
        tab.row_count += length
    else:
        tab.column_count += length
    if tab.column_count > MAX_COLUMNS:
        raise InvalidArgument(
            f"Invalid {where}: This action would increase the number of columns in the sheet "
            f"above the limit of {MAX_COLUMNS}."
        )
    if sum(s.tab.row_count * s.tab.column_count for s in sheets) > MAX_CELLS:
        raise InvalidArgument(
            f"Invalid {where}: This action would increase the number of cells in the workbook "
            f"above the limit of {MAX_CELLS} cells."
        )


def _update_cells(tab: _Tab, spec: dict[str, Any], where: str) -> None:
    """updateCells, as Google documents it: with `range`, every cell of the range the rows do
    not cover is cleared; with `start`, only the cells given are written. A cell without a
    userEnteredValue is cleared (every fields mask served covers the value)."""
    if not spec.get("fields"):
        raise InvalidArgument(f"Invalid {where}: At least one field must be specified.")
    rows: list[dict[str, Any]] = spec.get("rows", [])
    if "range" in spec:
        area = spec["range"]
        first_row, first_col = area.get("startRowIndex", 0), area.get("startColumnIndex", 0)
        end_row = area.get("endRowIndex", max(tab.row_count, first_row))
        end_col = area.get("endColumnIndex", max(tab.column_count, first_col))
        for name, first, end in (("Row", first_row, end_row), ("Column", first_col, end_col)):
            if end < first:
                raise InvalidArgument(
                    f"Invalid {where}: end{name}Index ({end}) is before start{name}Index ({first})."
                )
        outside = first_row >= tab.row_count or first_col >= tab.column_count
        if outside or end_row > tab.row_count or end_col > tab.column_count:
            last_row, last_col = max(end_row - 1, first_row), max(end_col - 1, first_col)
            shown = a1.A1Range(tab.name, first_row, last_row, first_col, last_col)
            raise InvalidArgument(f"Invalid {where}: {tab.exceeds(shown)}")
    else:
        start = spec.get("start", {})
        first_row, first_col = start.get("rowIndex", 0), start.get("columnIndex", 0)
        end_row, end_col = tab.row_count, tab.column_count
    if first_row + len(rows) > end_row:
        raise InvalidArgument(
            f"Invalid {where}: Attempting to write row: {max(first_row, end_row)}, beyond the "
            f"last requested row of: {end_row - 1}"
        )
    for row in rows:
        if first_col + len(row.get("values", [])) > end_col:
            raise InvalidArgument(
                f"Invalid {where}: Attempting to write column: {max(first_col, end_col)}, "
                f"beyond the last requested column of: {end_col - 1}"
            )
    if "range" in spec:
        for r in range(first_row, min(end_row, len(tab.rows))):
            for c in range(first_col, min(end_col, len(tab.rows[r]))):
                tab.rows[r][c] = ""
    for r, row in enumerate(rows, start=first_row):
        for c, cell in enumerate(row.get("values", []), start=first_col):
            tab.put(r, c, _stored_value(cell.get("userEnteredValue")))
    tab.tidy()


def _stored_value(value: dict[str, Any] | None) -> Any:
    """An ExtendedValue as the tabs keep cells; a formula is kept as its text."""
    if not value:
        return ""
    ((kind, typed),) = value.items()
    if (
        kind == "numberValue"
        and isinstance(typed, float)
        and typed.is_integer()
        and abs(typed) < 1e15
    ):
        return int(typed)  # Google shows 5.0 as 5
    return typed


def _parse_range(text: str) -> a1.A1Range:
    try:
        return a1.parse(text)
    except ValueError as error:
        raise InvalidArgument(str(error)) from None


def _check_values(values: Any, where: str) -> None:
    if not isinstance(values, list) or not all(isinstance(row, list) for row in values):
        raise InvalidArgument(f"Invalid value at '{where}': a list of rows (lists) is expected.")


def _check_within(wanted: a1.A1Range, values: list[list[Any]]) -> None:
    """Values that run past the range they were sent for are refused, as Google does; a
    single cell is only where the values start."""
    if wanted.last_row == wanted.first_row and wanted.last_col == wanted.first_col:
        return
    if wanted.last_row is not None and len(values) > wanted.last_row - wanted.first_row + 1:
        raise InvalidArgument(
            f"Requested writing within range [{wanted.label()}], but tried writing to row "
            f"[{wanted.last_row + 2}]"
        )
    width = max((len(r) for r in values), default=0)
    if wanted.last_col is not None and width > wanted.last_col - wanted.first_col + 1:
        raise InvalidArgument(
            f"Requested writing within range [{wanted.label()}], but tried writing to column "
            f"[{a1.column_letters(wanted.last_col + 1)}]"
        )


def _grid_for(rows: list[list[Any]]) -> tuple[int, int]:
    """A new sheet's grid, or larger where the data needs it."""
    width = max((len(r) for r in rows), default=0)
    return max(DEFAULT_ROWS, len(rows)), max(DEFAULT_COLUMNS, width)


def _grant(db: sqlite3.Connection, file_id: str, principal: str, role: str, kind: str) -> None:
    principal = principal.lower()
    held = db.execute(
        "SELECT role FROM permissions WHERE file_id = ? AND type = ? AND principal = ?",
        (file_id, kind, principal),
    ).fetchall()
    if held and held[0][0] == "owner":
        return
    db.execute(
        "INSERT OR REPLACE INTO permissions (file_id, type, principal, role) VALUES (?, ?, ?, ?)",
        (file_id, kind, principal, role),
    )


def _permission_id(kind: str, principal: str) -> str:
    """Drive's permission ids are per grantee, the same on every file: digits for a user,
    digits and a trailing 'k' for a domain, `anyoneWithLink` for anyone with the link."""
    if kind == "anyone":
        return "anyoneWithLink"
    digits = str(int(hashlib.sha256(f"{kind}:{principal}".encode()).hexdigest()[:16], 16))
    return digits[:20] + ("k" if kind == "domain" else "")


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def _trim_cells(row: list[Any]) -> list[Any]:
    end = len(row)
    while end and (row[end - 1] is None or row[end - 1] == ""):
        end -= 1
    return row[:end]


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
