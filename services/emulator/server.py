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


@dataclass
class EmulatorSettings:
    latency_ms: int = 0
    fault_rate: float = 0.0
    quota_per_minute: int = 0
    failing_scripts: tuple[str, ...] = ()
    seed: int | None = None


class ApiError(Exception):
    def __init__(self, code: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after

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
                        "reason": _REASONS.get(self.code, "unknown"),
                    }
                ],
            }
        }


@dataclass
class _Gate:
    """Latency, injected faults and the per-minute quota, shared by all handler threads."""

    settings: EmulatorSettings
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: collections.deque[float] = field(default_factory=collections.deque)
    rng: random.Random = field(default_factory=random.Random)
    counts: collections.Counter[str] = field(default_factory=collections.Counter)

    def admit(self, script_id: str | None, route: str = "") -> None:
        settings = self.settings
        if settings.latency_ms:
            time.sleep(settings.latency_ms / 1000)
        with self.lock:
            self.counts["calls"] += 1
            if route:
                self.counts[route] += 1
            if settings.quota_per_minute:
                now = time.monotonic()
                while self.calls and now - self.calls[0] >= 60:
                    self.calls.popleft()
                if len(self.calls) >= settings.quota_per_minute:
                    self.counts["429-quota"] += 1
                    wait = max(1, int(60 - (now - self.calls[0])) + 1)
                    raise ApiError(
                        429,
                        "Quota exceeded for quota metric 'Requests' and limit 'Requests per "
                        "minute per user' of service 'emulator'.",
                        retry_after=wait,
                    )
                self.calls.append(now)
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


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/v1/projects/([^/]+)$"), "project_get"),
    ("GET", re.compile(r"^/v1/projects/([^/]+)/content$"), "project_content"),
    ("PUT", re.compile(r"^/v1/projects/([^/]+)/content$"), "project_update"),
    ("GET", re.compile(r"^/drive/v3/files/([^/]+)$"), "drive_get"),
    ("GET", re.compile(r"^/v4/spreadsheets/([^/]+)/values:batchGet$"), "values_batch_get"),
    ("POST", re.compile(r"^/v4/spreadsheets/([^/]+)/values/([^/]+):append$"), "values_append"),
    ("POST", re.compile(r"^/v4/spreadsheets/([^/]+)/values:batchUpdate$"), "values_update"),
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
        query = parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        try:
            if method == "POST" and parts.path == "/token":
                self._send(200, self._token(raw_body))
                return
            for route_method, pattern, name in _ROUTES:
                match = pattern.match(parts.path)
                if match and route_method == method:
                    args = [unquote(g) for g in match.groups()]
                    email = self._authenticate(name)
                    script_id = args[0] if name.startswith("project") else None
                    self.server.gate.admit(script_id, name)
                    body = json.loads(raw_body) if raw_body else {}
                    result = getattr(self, name)(email, query, body, *args)
                    self._send(200, result)
                    return
            raise ApiError(404, f"The requested URL {parts.path} was not found on this server.")
        except ApiError as error:
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
            self._send(error.code, error.body(), headers)
        except NotFound as error:
            self._send(404, ApiError(404, str(error)).body())
        except (InvalidArgument, json.JSONDecodeError) as error:
            self._send(400, ApiError(400, str(error)).body())

    def _send(self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        data = json.dumps(payload).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _authenticate(self, route: str) -> str:
        header = self.headers.get("Authorization", "")
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
        if form.get("grant_type", [""])[0] != "refresh_token":
            raise ApiError(400, "unsupported_grant_type")
        try:
            token = self.server.store.exchange_refresh_token(form.get("refresh_token", [""])[0])
        except NotFound:
            raise ApiError(400, "invalid_grant: Token has been expired or revoked.") from None
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    # Apps Script v1 ---------------------------------------------------------------------------

    def project_get(self, email: str, query: dict, body: dict, script_id: str) -> dict:
        return self.server.store.project(script_id)

    def project_content(self, email: str, query: dict, body: dict, script_id: str) -> dict:
        if "versionNumber" in query:
            raise ApiError(400, "The emulator keeps no versions: read HEAD without versionNumber.")
        return self.server.store.content(script_id)

    def project_update(self, email: str, query: dict, body: dict, script_id: str) -> dict:
        files = body.get("files")
        if not isinstance(files, list):
            raise ApiError(400, "Invalid JSON payload received. 'files' must be a list.")
        return self.server.store.update_content(script_id, files, email)

    # Drive v3 ---------------------------------------------------------------------------------

    def drive_get(self, email: str, query: dict, body: dict, file_id: str) -> dict:
        found = self.server.store.drive_file(file_id)
        fields = query.get("fields", [""])[0]
        if fields and fields != "*":
            wanted = {f.strip() for f in fields.split(",")}
            found = {k: v for k, v in found.items() if k in wanted}
        return found

    # Sheets v4 --------------------------------------------------------------------------------

    def values_batch_get(self, email: str, query: dict, body: dict, spreadsheet_id: str) -> dict:
        ranges = query.get("ranges", [])
        return {
            "spreadsheetId": spreadsheet_id,
            "valueRanges": [self.server.store.get_values(spreadsheet_id, r) for r in ranges],
        }

    def values_append(
        self, email: str, query: dict, body: dict, spreadsheet_id: str, range_text: str
    ) -> dict:
        if "valueInputOption" not in query:
            raise ApiError(400, "'valueInputOption' is required but not specified")
        values = body.get("values", [])
        if not isinstance(values, list):
            raise ApiError(400, "Invalid JSON payload received. 'values' must be a list.")
        return self.server.store.append_values(spreadsheet_id, range_text, values)

    def values_update(self, email: str, query: dict, body: dict, spreadsheet_id: str) -> dict:
        if "valueInputOption" not in body:
            raise ApiError(400, "'valueInputOption' is required but not specified")
        responses = self.server.store.update_values(spreadsheet_id, body.get("data", []))
        return {
            "spreadsheetId": spreadsheet_id,
            "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
            "totalUpdatedColumns": max((r["updatedColumns"] for r in responses), default=0),
            "totalUpdatedCells": sum(r["updatedCells"] for r in responses),
            "totalUpdatedSheets": len({r["updatedRange"].split("!")[0] for r in responses}),
            "responses": responses,
        }


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
            target=self._server.serve_forever, name="sheetstage-emulator", daemon=True
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
