"""The emulator's HTTP side: Google's paths, JSON shapes and error format on 127.0.0.1."""

from __future__ import annotations

import collections
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from services.emulator import batch, payload
from services.emulator.store import EmulatorStore, InvalidArgument, NotFound

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_REASONS = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    429: "rateLimitExceeded",
    500: "backendError",
    503: "backendError",
}
API_NOT_ENABLED = (
    "User has not enabled the Apps Script API. Enable it by visiting "
    "https://script.google.com/home/usersettings then retry. If you enabled this API recently, "
    "wait a few minutes for the action to propagate to our systems and retry."
)
NO_PERMISSION = "The caller does not have permission"
ENTITY_NOT_FOUND = "Requested entity was not found."
DRIVE_NO_PERMISSION = "The user does not have sufficient permissions for this file."
# Google counts each API's calls against its own per-minute, per-user quota
_QUOTA_NAMES = {
    "script": ("script.googleapis.com", "Requests", "Requests per minute per user"),
    "drive": ("drive.googleapis.com", "Queries", "Queries per minute per user"),
    "sheets-read": ("sheets.googleapis.com", "Read requests", "Read requests per minute per user"),
    "sheets-write": (
        "sheets.googleapis.com",
        "Write requests",
        "Write requests per minute per user",
    ),
}


@dataclass
class EmulatorSettings:
    latency_ms: int = 0
    fault_rate: float = 0.0
    quota_per_minute: int = 0
    failing_scripts: tuple[str, ...] = ()
    # script ids whose next updateContent is stored altered (a read-back that differs from
    # what was written, once per server run: a drill for the deploy's verify step)
    tampered_scripts: tuple[str, ...] = ()
    seed: int | None = None


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        message: str,
        retry_after: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.reason = reason or _REASONS.get(code, "unknown")

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "status": _STATUS_NAMES.get(self.code, "UNKNOWN"),
                "errors": [
                    {
                        "message": self.message,
                        "domain": "global",
                        "reason": self.reason,
                    }
                ],
            }
        }


class OAuthError(Exception):
    """The token endpoint's refusal, in OAuth 2's format (RFC 6749 5.2), not the APIs'."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class _Gate:
    """Latency, injected faults and the per-minute quotas, shared by all handler threads.

    `quota_per_minute` applies to each API (and user) on its own, as Google counts them.
    counts: "calls", one per route name, "api:<api>", "429-quota", "<code>-fault"."""

    settings: EmulatorSettings
    lock: threading.Lock = field(default_factory=threading.Lock)
    windows: dict[tuple[str, str], collections.deque[float]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    tampered: set[str] = field(default_factory=set)

    def tamper(self, script_id: str, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The files as stored: altered the first time a tampered script is written."""
        with self.lock:
            if script_id not in self.settings.tampered_scripts or script_id in self.tampered:
                return files
            self.tampered.add(script_id)
            self.counts["tampered"] += 1
        altered = [dict(f) for f in files]
        code = [f for f in altered if f.get("type") == "SERVER_JS"] or altered
        code[-1]["source"] = str(code[-1].get("source", "")) + "\n// altered after the write\n"
        return altered

    def admit(
        self, script_id: str | None, route: str = "", api: str = "script", user: str = ""
    ) -> None:
        settings = self.settings
        if settings.latency_ms:
            time.sleep(settings.latency_ms / 1000)
        with self.lock:
            self.counts["calls"] += 1
            if route:
                self.counts[route] += 1
            self.counts[f"api:{api}"] += 1
            if settings.quota_per_minute:
                calls = self.windows.setdefault((api, user), collections.deque())
                now = time.monotonic()
                while calls and now - calls[0] >= 60:
                    calls.popleft()
                if len(calls) >= settings.quota_per_minute:
                    self.counts["429-quota"] += 1
                    self.counts[f"429-quota:{api}"] += 1
                    wait = max(1, int(60 - (now - calls[0])) + 1)
                    service, metric, limit = _QUOTA_NAMES[api]
                    raise ApiError(
                        429,
                        f"Quota exceeded for quota metric '{metric}' and limit '{limit}' of "
                        f"service '{service}' for consumer 'project_number:emulator'.",
                        retry_after=wait,
                    )
                calls.append(now)
            fault = settings.fault_rate and self.rng.random() < settings.fault_rate
            code = self.rng.choice((429, 500, 503)) if fault else 0
        if script_id and script_id in settings.failing_scripts:
            self.counts["500-failing"] += 1
            raise ApiError(500, "Internal error encountered.")
        if code:
            self.counts[f"{code}-fault"] += 1
            messages = {
                429: "Resource has been exhausted (e.g. check quota).",
                500: "Internal error encountered.",
                503: "The service is currently unavailable.",
            }
            raise ApiError(code, messages[code])


# (method, path, handler, API whose quota it counts against)
_ROUTES: list[tuple[str, re.Pattern[str], str, str]] = [
    ("GET", re.compile(r"^/v1/projects/([^/]+)$"), "project_get", "script"),
    ("GET", re.compile(r"^/v1/projects/([^/]+)/content$"), "project_content", "script"),
    ("PUT", re.compile(r"^/v1/projects/([^/]+)/content$"), "project_update", "script"),
    ("GET", re.compile(r"^/drive/v3/files/([^/]+)$"), "drive_get", "drive"),
    ("GET", re.compile(r"^/drive/v3/files/([^/]+)/permissions$"), "drive_permissions", "drive"),
    ("GET", re.compile(r"^/v4/spreadsheets/([^/:]+)$"), "spreadsheets_get", "sheets-read"),
    (
        "POST",
        re.compile(r"^/v4/spreadsheets/([^/:]+):batchUpdate$"),
        "spreadsheets_batch_update",
        "sheets-write",
    ),
    (
        "GET",
        re.compile(r"^/v4/spreadsheets/([^/]+)/values:batchGet$"),
        "values_batch_get",
        "sheets-read",
    ),
    (
        "POST",
        re.compile(r"^/v4/spreadsheets/([^/]+)/values/([^/]+):append$"),
        "values_append",
        "sheets-write",
    ),
    (
        "POST",
        re.compile(r"^/v4/spreadsheets/([^/]+)/values:batchUpdate$"),
        "values_update",
        "sheets-write",
    ),
]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the emulator is a library, not a web server with an access log

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        if method == "POST" and parts.path == "/token":
            try:
                self._send(200, self._token(raw_body))
            except OAuthError as error:
                self._send(400, error.body())
            return
        authorization = self.headers.get("Authorization", "")
        if method == "POST" and parts.path == batch.PATH:
            self._batch(raw_body, authorization)
            return
        code, answer, headers, email = self._answer(
            method, parts.path, parts.query, raw_body, authorization
        )
        # logged before the answer goes out: a caller that got it finds the row
        self.server.store.log_request(method, unquote(parts.path), email, code)
        self._send(code, answer, headers)

    def _batch(self, raw_body: bytes, authorization: str) -> None:
        """A Drive batch (services/emulator/batch.py): each call answered, counted and logged
        as if it came alone, with the batch's Authorization when it has none of its own; the
        batch itself is logged too, with its own status."""
        store = self.server.store
        token = authorization.removeprefix("Bearer ").strip()
        caller = (store.email_for_access_token(token) or "") if token else ""
        try:
            boundary = batch.boundary_of(self.headers.get("Content-Type", ""))
            calls = batch.parse_calls(raw_body, boundary)
        except batch.BatchFormatError as error:
            store.log_request("POST", batch.PATH, caller, 400)
            self._send(400, ApiError(400, str(error)).body())
            return
        answers = []
        for call in calls:
            target = urlsplit(call.target)
            if target.path.startswith(batch.API_PREFIX):
                code, answer, headers, email = self._answer(
                    call.method,
                    target.path,
                    target.query,
                    call.body,
                    call.headers.get("authorization", authorization),
                )
            else:
                message = f"{batch.PATH} serves Drive v3 calls only, not {target.path}"
                code, answer, headers, email = 400, ApiError(400, message).body(), {}, caller
            store.log_request(call.method, unquote(target.path), email, code)
            answers.append((call, code, json.dumps(answer).encode("utf-8"), headers))
        content_type, data = batch.response_body(answers)
        store.log_request("POST", batch.PATH, caller, 200)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(
        self, method: str, path: str, query_text: str, raw_body: bytes, authorization: str
    ) -> tuple[int, dict[str, Any], dict[str, str], str]:
        """(status, JSON body, extra headers, the caller's e-mail or "") for an API request."""
        query = parse_qs(query_text)
        email = ""
        try:
            for route_method, pattern, name, api in _ROUTES:
                match = pattern.match(path)
                if match and route_method == method:
                    args = [unquote(g) for g in match.groups()]
                    email = self._authenticate(name, authorization)
                    script_id = args[0] if name.startswith("project") else None
                    self.server.gate.admit(script_id, name, api, email)
                    body = json.loads(raw_body) if raw_body else {}
                    return 200, getattr(self, name)(email, query, body, *args), {}, email
            raise ApiError(404, f"The requested URL {path} was not found on this server.")
        except ApiError as error:
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
            return error.code, error.body(), headers, email
        except NotFound as error:
            return 404, ApiError(404, str(error)).body(), {}, email
        except (InvalidArgument, json.JSONDecodeError) as error:
            return 400, ApiError(400, str(error)).body(), {}, email

    def _send(self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        data = json.dumps(payload).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _authenticate(self, route: str, header: str) -> str:
        if not header.startswith("Bearer "):
            raise ApiError(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
        email = self.server.store.email_for_access_token(header.removeprefix("Bearer ").strip())
        if email is None:
            raise ApiError(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential.",
            )
        if route.startswith("project"):
            user = self.server.store.user(email)
            if user is not None and not user["api_enabled"]:
                raise ApiError(403, API_NOT_ENABLED)
        return email

    def _token(self, raw_body: bytes) -> dict[str, Any]:
        form = parse_qs(raw_body.decode("utf-8"))
        grant_type = form.get("grant_type", [""])[0]
        if grant_type != "refresh_token":
            raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        refresh_token = form.get("refresh_token", [""])[0]
        if not refresh_token:
            raise OAuthError("invalid_request", "Missing required parameter: refresh_token")
        try:
            token = self.server.store.exchange_refresh_token(refresh_token)
        except NotFound:
            raise OAuthError("invalid_grant", "Token has been expired or revoked.") from None
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _require(self, file_id: str, email: str, need: str, not_found: str) -> None:
        """Google's answer to a caller without the permission: a file they cannot even read
        does not exist for them (404); one they may read but not write is 403."""
        store = self.server.store
        if store.can(file_id, email, need):
            return
        if need == "write" and store.can(file_id, email, "read"):
            raise ApiError(403, NO_PERMISSION)
        raise ApiError(404, not_found)

    # Apps Script v1 ---------------------------------------------------------------------------

    def project_get(self, email: str, query: dict, body: dict, script_id: str) -> dict:
        self._require(script_id, email, "read", ENTITY_NOT_FOUND)
        return self.server.store.project(script_id)

    def project_content(self, email: str, query: dict, body: dict, script_id: str) -> dict:
        if "versionNumber" in query:
            raise ApiError(400, "The emulator keeps no versions: read HEAD without versionNumber.")
        self._require(script_id, email, "read", ENTITY_NOT_FOUND)
        return self.server.store.content(script_id)

    def project_update(self, email: str, query: dict, body: Any, script_id: str) -> dict:
        files = payload.check_content_body(body)
        self._require(script_id, email, "write", ENTITY_NOT_FOUND)
        self.server.store.project(script_id)  # a missing project is 404 before any check
        payload.check_project_files(files)
        stored = self.server.gate.tamper(script_id, files)
        return self.server.store.update_content(script_id, stored, email)

    # Drive v3 ---------------------------------------------------------------------------------

    def drive_get(self, email: str, query: dict, body: dict, file_id: str) -> dict:
        self._require(file_id, email, "read", f"File not found: {file_id}.")
        found = self.server.store.drive_file(file_id)
        return select_fields(found, query.get("fields", [""])[0])

    def drive_permissions(self, email: str, query: dict, body: dict, file_id: str) -> dict:
        """permissions.list: for those who may share the file (owners and writers)."""
        self._require(file_id, email, "read", f"File not found: {file_id}.")
        self.server.store.drive_file(file_id)
        if not self.server.store.can(file_id, email, "write"):
            raise ApiError(403, DRIVE_NO_PERMISSION, reason="insufficientFilePermissions")
        listing = {
            "kind": "drive#permissionList",
            "permissions": self.server.store.permissions(file_id),
        }
        return select_fields(listing, query.get("fields", [""])[0])

    # Sheets v4 --------------------------------------------------------------------------------

    def spreadsheets_get(self, email: str, query: dict, body: dict, spreadsheet_id: str) -> dict:
        """A field mask, when given, decides alone whether grid data comes back (Google then
        ignores includeGridData)."""
        include = payload.check_bool(
            query.get("includeGridData", ["false"])[0], "include_grid_data"
        )
        self._require(spreadsheet_id, email, "read", ENTITY_NOT_FOUND)
        fields = query.get("fields", [""])[0]
        if fields:
            include = _wants_grid_data(parse_fields(fields))
        found = self.server.store.spreadsheet(spreadsheet_id, query.get("ranges", []), include)
        return select_fields(found, fields)

    def spreadsheets_batch_update(
        self, email: str, query: dict, body: Any, spreadsheet_id: str
    ) -> dict:
        requests, options = payload.check_spreadsheet_batch_update_body(body)
        self._require(spreadsheet_id, email, "write", ENTITY_NOT_FOUND)
        wanted = options.get("includeSpreadsheetInResponse", False)
        return self.server.store.batch_update_spreadsheet(
            spreadsheet_id,
            requests,
            response_ranges=options.get("responseRanges", []) if wanted else None,
            response_grid_data=options.get("responseIncludeGridData", False),
        )

    def values_batch_get(self, email: str, query: dict, body: dict, spreadsheet_id: str) -> dict:
        self._require(spreadsheet_id, email, "read", ENTITY_NOT_FOUND)
        ranges = query.get("ranges", [])
        return {
            "spreadsheetId": spreadsheet_id,
            "valueRanges": [self.server.store.get_values(spreadsheet_id, r) for r in ranges],
        }

    def values_append(
        self, email: str, query: dict, body: Any, spreadsheet_id: str, range_text: str
    ) -> dict:
        payload.check_value_input_option(query.get("valueInputOption", [None])[0])
        insert_data_option = query.get("insertDataOption", ["OVERWRITE"])[0]
        payload.check_insert_data_option(insert_data_option)
        values = body.get("values", []) if isinstance(body, dict) else None
        if not isinstance(values, list):
            raise ApiError(400, "Invalid JSON payload received. 'values' must be a list.")
        self._require(spreadsheet_id, email, "write", ENTITY_NOT_FOUND)
        return self.server.store.append_values(
            spreadsheet_id, range_text, values, insert_data_option
        )

    def values_update(self, email: str, query: dict, body: Any, spreadsheet_id: str) -> dict:
        data = payload.check_batch_update_body(body)
        self._require(spreadsheet_id, email, "write", ENTITY_NOT_FOUND)
        responses = self.server.store.update_values(spreadsheet_id, data)
        return {
            "spreadsheetId": spreadsheet_id,
            "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
            "totalUpdatedColumns": max((r["updatedColumns"] for r in responses), default=0),
            "totalUpdatedCells": sum(r["updatedCells"] for r in responses),
            "totalUpdatedSheets": len({r["updatedRange"].split("!")[0] for r in responses}),
            "responses": responses,
        }


FieldMask = dict[str, "FieldMask | None"]


def parse_fields(text: str) -> FieldMask:
    """A partial-response `fields` value (`id,name`, `kind,permissions(id,role)`,
    `sheets.properties.title`, `sheets(data/rowData)`)."""
    mask, _ = _parse_fields(text.replace(" ", ""), 0)
    return mask


def _parse_fields(text: str, index: int) -> tuple[FieldMask, int]:
    mask: FieldMask = {}
    name = ""
    while index < len(text):
        char = text[index]
        index += 1
        if char == ",":
            _merge_field(mask, name, None)
            name = ""
        elif char == "(":
            sub, index = _parse_fields(text, index)
            _merge_field(mask, name, sub)
            name = ""
        elif char == ")":
            break
        else:
            name += char
    _merge_field(mask, name, None)
    return mask, index


def _merge_field(mask: FieldMask, path: str, sub: FieldMask | None) -> None:
    """Add `a.b.c` (or `a/b/c`) with its sub-mask; a field named whole wins over parts."""
    head, _, rest = path.replace("/", ".").partition(".")
    if not head:
        return
    if rest:
        nested: FieldMask = {}
        _merge_field(nested, rest, sub)
        sub = nested
    if head in mask:
        held = mask[head]
        if held is not None and sub is not None:
            for key, inner in sub.items():
                _merge_field(held, key, inner)
        else:
            mask[head] = None
    else:
        mask[head] = sub


def _wants_grid_data(mask: FieldMask) -> bool:
    if "*" in mask:
        return True
    if "sheets" not in mask:
        return False
    sheets = mask["sheets"]
    return sheets is None or "*" in sheets or "data" in sheets


def select_fields(resource: dict[str, Any], fields: str) -> dict[str, Any]:
    """Only the fields asked for, as Google's partial responses do; all without `fields`."""
    if not fields or fields == "*":
        return resource
    return _select(resource, parse_fields(fields))


def _select(value: Any, mask: FieldMask | None) -> Any:
    if mask is None or "*" in mask:
        return value
    if isinstance(value, list):
        return [_select(item, mask) for item in value]
    if isinstance(value, dict):
        return {key: _select(value[key], sub) for key, sub in mask.items() if key in value}
    return value


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], store: EmulatorStore, gate: _Gate) -> None:
        self.store = store
        self.gate = gate
        super().__init__(address, _Handler)


class EmulatorServer:
    """Runs the emulator on 127.0.0.1 in a background thread (or in the foreground)."""

    def __init__(
        self, state_file: Path, settings: EmulatorSettings | None = None, port: int = 0
    ) -> None:
        self.store = EmulatorStore(state_file)
        self.settings = settings or EmulatorSettings()
        self.gate = _Gate(self.settings, rng=random.Random(self.settings.seed))
        self._server = _Server(("127.0.0.1", port), self.store, self.gate)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def token_uri(self) -> str:
        return f"{self.endpoint}token"

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits up to one poll: every command's exit
            name="sheetstage-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.store.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
