"""The one Google client: google-api-python-client for Apps Script v1, Drive v3 and Sheets v4.

The same code talks to real Google and to the local emulator; only the endpoint and the
credentials differ. Calls are blocking (httplib2 is not thread-safe, so every worker thread
has its own Http); `run()` puts them on the client's own ThreadPoolExecutor for async
callers. Retries are ours: truncated exponential backoff with full jitter, Retry-After
honoured, only for 429, 5xx and rate-limit 403s, never for values.append.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import json
import os
import random
import stat
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient import discovery_cache
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import BatchError, HttpError
from googleapiclient.http import BatchHttpRequest

from services.config import ClientConfig
from services.errors import CredentialsError

SCOPES = (
    "https://www.googleapis.com/auth/script.projects",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
    "https://www.googleapis.com/auth/spreadsheets",
)
QUOTAS = ("script", "drive", "sheets-read", "sheets-write")  # Google's per-minute buckets
_RETRYABLE_STATUS = {429, 500, 502, 503, 504}
_RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
BATCH_MOST = 100  # calls in one Drive batch request (Google's limit)

T = TypeVar("T")


class GoogleApiError(Exception):
    """A Google API call that failed, with a message a person can act on."""

    def __init__(self, what: str, status: int, reason: str, message: str, attempts: int = 1):
        self.what = what
        self.status = status
        self.reason = reason
        self.message = message
        self.attempts = attempts
        super().__init__(self.describe())

    def describe(self) -> str:
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{self.what}: HTTP {self.status} {self.reason}{tries}: {self.message}"


class ApiNotEnabledError(GoogleApiError):
    def describe(self) -> str:
        return (
            f"{self.what}: the Apps Script API is switched off for this Google account; turn on "
            "'Google Apps Script API' at https://script.google.com/home/usersettings, wait a few "
            "minutes, then run again"
        )


class NotFoundError(GoogleApiError):
    pass


class PermissionDeniedError(GoogleApiError):
    pass


class InvalidRequestError(GoogleApiError):
    pass


class RateLimitedError(GoogleApiError):
    pass


class ServerError(GoogleApiError):
    pass


class TransportError(GoogleApiError):
    pass


class AuthError(CredentialsError):
    """Credentials missing, unreadable, unsafe or rejected: exit 2."""


@dataclass(frozen=True)
class Endpoints:
    """Where the three APIs live; empty root = Google's own endpoints."""

    root: str = ""

    def for_api(self, api: str) -> str | None:
        if not self.root:
            return None
        root = self.root if self.root.endswith("/") else self.root + "/"
        return root + "drive/v3/" if api == "drive" else root

    def drive_batch(self) -> str:
        """Where Drive batch requests go (Google's: https://www.googleapis.com/batch/drive/v3)."""
        root = self.root or "https://www.googleapis.com/"
        return (root if root.endswith("/") else root + "/") + "batch/drive/v3"


class Pacer:
    """Client-side rate limit matching a per-minute quota as Google counts it: at most
    `per_minute` calls start within any minute, so a burst up to the whole quota goes at once
    and a long run is paced instead of bounced off with 429s. Each call starts at the first
    moment the server's count for the minute admits it: no pacing is faster without 429s
    (a token bucket refilled at the quota's rate lets more than the quota into one minute
    once its burst is spent, or holds back a burst the minute would take). The window is a
    little longer than a minute: the server counts a call when it arrives, a moment after we
    send it. Thread-safe; 0 means no limit."""

    WINDOW_S = 62.0

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._starts: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.per_minute:
            return
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and now - self._starts[0] >= self.WINDOW_S:
                    self._starts.popleft()
                if len(self._starts) < self.per_minute:
                    self._starts.append(now)
                    return
                delay = self._starts[0] + self.WINDOW_S - now
            self._sleep(delay)


@dataclass
class QuotaUse:
    """What one quota bucket saw: calls sent (each attempt counts, as Google counts them), the
    most that started within any minute, and the answers that were 429."""

    calls: int = 0
    peak_per_minute: int = 0
    rate_limited: int = 0


class Meter:
    """Counts a client's calls per quota bucket from its start (GoogleClient.meter) until it
    is stopped or dropped: one job's own use."""

    MINUTE_S = 60.0

    def __init__(self) -> None:
        self.use = {quota: QuotaUse() for quota in QUOTAS}
        self._starts: dict[str, collections.deque[float]] = {q: collections.deque() for q in QUOTAS}
        self._lock = threading.Lock()
        self.stopped = False

    def started(self, quota: str, now: float) -> None:
        with self._lock:
            starts = self._starts[quota]
            while starts and now - starts[0] >= self.MINUTE_S:
                starts.popleft()
            starts.append(now)
            use = self.use[quota]
            use.calls += 1
            use.peak_per_minute = max(use.peak_per_minute, len(starts))

    def rate_limited(self, quota: str) -> None:
        with self._lock:
            self.use[quota].rate_limited += 1

    def snapshot(self) -> dict[str, QuotaUse]:
        with self._lock:
            return {q: dataclasses.replace(u) for q, u in self.use.items()}

    def stop(self) -> None:
        self.stopped = True


USAGE_KEYS = {"calls": "calls", "peak_per_minute": "peak_per_minute", "http_429": "rate_limited"}


def usage_record(use: Mapping[str, QuotaUse]) -> dict[str, str]:
    """A meter's reading as a trail entry's hashes keep it (strings): calls, the peak within a
    minute and the 429 answers, each as `script=470 drive=0 sheets-read=1 sheets-write=0`."""
    return {
        key: " ".join(f"{quota}={getattr(use[quota], attribute)}" for quota in QUOTAS)
        for key, attribute in USAGE_KEYS.items()
    }


def usage_from_record(hashes: Mapping[str, str]) -> dict[str, QuotaUse] | None:
    """The reading `usage_record` wrote (None when the entry has none, or not in that form)."""
    use = {quota: QuotaUse() for quota in QUOTAS}
    for key, attribute in USAGE_KEYS.items():
        text = hashes.get(key)
        if text is None:
            return None
        for pair in text.split():
            quota, _, number = pair.partition("=")
            if quota not in use or not number.isdigit():
                return None
            setattr(use[quota], attribute, int(number))
    return use


def load_user_credentials(token_file: Path, token_uri: str = "") -> Credentials:
    """Authorized-user JSON as Credentials.to_json() writes it; refused if others can read it.

    google-auth ignores a token_uri inside the file (it always refreshes at Google's), so an
    override (`[google] token_uri`, e.g. the emulator's) is passed in explicitly."""
    try:
        info = token_file.stat()
    except FileNotFoundError:
        raise AuthError(
            f"no Google credentials at {token_file}; run `sheetstage login` "
            "(or set [google].token_file)"
        ) from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuthError(
            f"refusing {token_file}: other users can read it (mode "
            f"{stat.S_IMODE(info.st_mode):o}); run `chmod 600 {token_file}`"
        )
    try:
        data = json.loads(token_file.read_text(encoding="utf-8"))
        credentials = Credentials.from_authorized_user_info(data, scopes=list(SCOPES))
    except (ValueError, OSError) as error:
        raise AuthError(
            f"{token_file} is not an authorized-user token file ({error}); "
            "run `sheetstage login` to write a new one"
        ) from None
    if token_uri:
        expiry = credentials.expiry
        credentials = credentials.with_token_uri(token_uri)
        credentials.expiry = expiry  # the copy drops it, and a token without one never expires
    return credentials


def write_token_file(path: Path, credentials: Credentials) -> None:
    """Write the token file 0600, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(credentials.to_json())
    os.replace(temporary, path)


def refreshable_credentials(
    refresh_token: str, token_uri: str, client_id: str, client_secret: str
) -> Credentials:
    """User credentials with no access token yet, refreshed at `token_uri` on first use."""
    return Credentials(
        token=None,
        refresh_token=refresh_token,
        token_uri=token_uri,
        client_id=client_id,
        client_secret=client_secret,
    )


def sign_in(client_secrets: Path, token_file: Path, port: int) -> None:
    """`sheetstage login`: Google's installed-app flow, answered on localhost:`port` (over SSH,
    through a forwarded port); the token file is written 0600."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), scopes=list(SCOPES))
    credentials = flow.run_local_server(
        host="localhost",
        port=port,
        open_browser=False,
        authorization_prompt_message=(
            "Open this URL in a browser on your machine (over SSH, first run "
            f"`ssh -L {port}:localhost:{port} this-host`):\n{{url}}"
        ),
        success_message="sheetstage is signed in; you can close this tab.",
    )
    write_token_file(token_file, credentials)


@functools.cache
def discovery_document(api: str, version: str) -> str:
    """The API's discovery document as shipped with google-api-python-client, its schemas cut
    down to their top-level property names (each of type `any`).

    The client reads the schemas only to write each method's docstring (a walk of every nested
    schema: 0.3 s of CPU for each client built, on every command) and to find a method's paging
    fields by name; requests and answers are plain JSON, never checked against them."""
    document = json.loads(discovery_cache.get_static_doc(api, version) or "{}")
    document["schemas"] = {
        name: {
            "id": name,
            "type": "object",
            "properties": {field: {"type": "any"} for field in schema.get("properties", {})},
        }
        for name, schema in document.get("schemas", {}).items()
    }
    return json.dumps(document)


class GoogleClient:
    def __init__(
        self,
        credentials: Credentials,
        settings: ClientConfig,
        endpoints: Endpoints = Endpoints(),
        script_requests_per_minute: int | None = None,
    ) -> None:
        self.credentials = credentials
        self.settings = settings
        self._local = threading.local()
        self._in_flight = threading.BoundedSemaphore(settings.concurrency)
        self._executor = ThreadPoolExecutor(
            max_workers=settings.concurrency, thread_name_prefix="sheetstage-google"
        )
        script_rate = (
            settings.requests_per_minute
            if script_requests_per_minute is None
            else script_requests_per_minute
        )
        self._pacers = {
            "script": Pacer(script_rate),
            "drive": Pacer(script_rate),
            # Sheets counts reads and writes against separate per-minute quotas
            "sheets-read": Pacer(settings.sheets_requests_per_minute),
            "sheets-write": Pacer(settings.sheets_requests_per_minute),
        }
        placeholder = httplib2.Http()  # never used: every call passes its thread's own Http
        services = {
            api: build_from_document(
                discovery_document(api, version),
                http=placeholder,
                client_options={"api_endpoint": endpoints.for_api(api)}
                if endpoints.for_api(api)
                else None,
            )
            for api, version in (("script", "v1"), ("drive", "v3"), ("sheets", "v4"))
        }
        # Each `service.projects()` builds its methods anew (their docstrings too): built once
        # here, reused by every call (a request is made from them, never changed through them)
        self._projects = services["script"].projects()
        self._files = services["drive"].files()
        self._permissions = services["drive"].permissions()
        self._drive_batch = endpoints.drive_batch()
        self._spreadsheets = services["sheets"].spreadsheets()
        self._values = self._spreadsheets.values()
        self._auth_lock = threading.Lock()
        self._auth_failure: str | None = None
        self._lifetime = Meter()  # every call the client made
        self._meters: weakref.WeakSet[Meter] = weakref.WeakSet({self._lifetime})
        self._meters_lock = threading.Lock()

    # plumbing ----------------------------------------------------------------------------

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The client's own pool (blocking calls of one caller run side by side on it)."""
        return self._executor

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    # counting ---------------------------------------------------------------------------------

    @property
    def quota_limits(self) -> dict[str, int]:
        """The per-minute quota the client paces each bucket to (0: none set)."""
        return {quota: pacer.per_minute for quota, pacer in self._pacers.items()}

    def usage(self) -> dict[str, QuotaUse]:
        """Every call this client made, per quota bucket."""
        return self._lifetime.snapshot()

    def meter(self) -> Meter:
        """A meter counting the calls made from now on (by any thread) until it is stopped or
        no longer referenced."""
        meter = Meter()
        with self._meters_lock:
            self._meters.add(meter)
        return meter

    def _count(self, quota: str, rate_limited: bool = False) -> None:
        with self._meters_lock:
            meters = [meter for meter in self._meters if not meter.stopped]
        now = time.monotonic()
        for meter in meters:
            if rate_limited:
                meter.rate_limited(quota)
            else:
                meter.started(quota, now)

    def _http(self) -> google_auth_httplib2.AuthorizedHttp:
        http = getattr(self._local, "http", None)
        if http is None:
            http = google_auth_httplib2.AuthorizedHttp(
                self.credentials, http=httplib2.Http(timeout=self.settings.timeout_s)
            )
            self._local.http = http
        return http

    def authenticate(self) -> None:
        """Make sure there is a valid access token (refreshing once, before threads start).

        Every refresh we start goes through here, so a token endpoint that cannot be reached
        or that refuses the token is one AuthError line, never a traceback; after a failure
        every later call fails the same way instead of asking the endpoint again."""
        with self._auth_lock:
            if self._auth_failure is not None:
                raise AuthError(self._auth_failure)
            if self.credentials.valid:
                return
            endpoint = self.credentials.token_uri
            request = google_auth_httplib2.Request(httplib2.Http(timeout=self.settings.timeout_s))
            try:
                self.credentials.refresh(request)
            except google.auth.exceptions.RefreshError as error:
                self._auth_failure = _refused(endpoint, error)
            except (
                google.auth.exceptions.TransportError,
                OSError,
                httplib2.HttpLib2Error,
            ) as error:
                self._auth_failure = _unreachable(endpoint, error)
            except google.auth.exceptions.GoogleAuthError as error:
                self._auth_failure = _refused(endpoint, error)
            if self._auth_failure is not None:
                raise AuthError(self._auth_failure)

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking client call on the client's own thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(function, *args, **kwargs)
        )

    def _execute(
        self,
        quota: str,
        what: str,
        request: Any,
        *,
        idempotent: bool = True,
        attempts: int | None = None,
    ) -> Any:
        """One call with our retries; `attempts` caps them below the configured number (a
        probe that must answer at once)."""
        settings = self.settings
        most = min(attempts or settings.max_attempts, settings.max_attempts)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            self._pacers[quota].wait()
            if not self.credentials.valid:
                self.authenticate()  # expired mid-run: refreshed here, not inside the request
            try:
                with self._in_flight:
                    self._count(quota)
                    result = request.execute(http=self._http(), num_retries=0)
                if not isinstance(result, dict):
                    raise ServerError(what, 200, "badResponse", "the answer was not JSON", attempt)
                return result
            except HttpError as http_error:
                error = _classify(what, http_error, attempt)
                retry_after = _retry_after(http_error)
            except google.auth.exceptions.RefreshError as refresh_error:  # after a 401
                endpoint = self.credentials.token_uri
                raise AuthError(f"{what}: {_refused(endpoint, refresh_error)}") from None
            except google.auth.exceptions.TransportError as token_error:  # after a 401
                endpoint = self.credentials.token_uri
                raise AuthError(f"{what}: {_unreachable(endpoint, token_error)}") from None
            except (TimeoutError, OSError, httplib2.HttpLib2Error) as transport_error:
                error = TransportError(what, 0, "transport", str(transport_error), attempt)
                retry_after = None
            if error.status == 429:
                self._count(quota, rate_limited=True)
            retryable = isinstance(error, RateLimitedError | ServerError | TransportError)
            if not retryable or not idempotent:
                raise error
            delay = retry_delay(settings, attempt, retry_after)
            elapsed = time.monotonic() - started
            if attempt >= most or elapsed + delay > settings.max_elapsed_s:
                raise error
            time.sleep(delay)

    def _execute_batch(
        self, quota: str, calls: Sequence[tuple[str, Any]]
    ) -> list[dict[str, Any] | GoogleApiError]:
        """Read-only calls (what, request) sent in Drive batch requests of up to BATCH_MOST,
        one HTTP request each: each call paced, counted and retried as `_execute` does one (a
        429 or 5xx call goes again in the next batch, after the backoff). A call's failure is
        its result; credentials that fail stop it all (AuthError)."""
        results: list[dict[str, Any] | GoogleApiError] = []
        for start in range(0, len(calls), BATCH_MOST):
            results += self._one_batch(quota, calls[start : start + BATCH_MOST])
        return results

    def _one_batch(
        self, quota: str, calls: Sequence[tuple[str, Any]]
    ) -> list[dict[str, Any] | GoogleApiError]:
        settings = self.settings
        results: list[dict[str, Any] | GoogleApiError | None] = [None] * len(calls)
        pending = list(range(len(calls)))
        started = time.monotonic()
        attempt = 0
        while pending:
            attempt += 1
            for _ in pending:
                self._pacers[quota].wait()
            if not self.credentials.valid:
                self.authenticate()
            answers: dict[str, tuple[Any, HttpError | None]] = {}
            batch = BatchHttpRequest(
                callback=functools.partial(_collect, answers), batch_uri=self._drive_batch
            )
            for index in pending:
                batch.add(calls[index][1], request_id=str(index))
            failed: GoogleApiError | None = None
            retry_after: float | None = None
            try:
                with self._in_flight:
                    for _ in pending:
                        self._count(quota)
                    batch.execute(http=self._http())
            except HttpError as http_error:  # the batch itself refused: each call failed so
                failed = _classify(f"batch of {len(pending)}", http_error, attempt)
                retry_after = _retry_after(http_error)
            except google.auth.exceptions.RefreshError as refresh_error:
                endpoint = self.credentials.token_uri
                raise AuthError(f"batch: {_refused(endpoint, refresh_error)}") from None
            except google.auth.exceptions.TransportError as token_error:
                endpoint = self.credentials.token_uri
                raise AuthError(f"batch: {_unreachable(endpoint, token_error)}") from None
            except (TimeoutError, OSError, httplib2.HttpLib2Error, BatchError) as error:
                failed = TransportError("batch", 0, "transport", str(error), attempt)
            again = []
            for index in pending:
                what = calls[index][0]
                answer, http_error = answers.get(str(index), (None, None))
                if failed is not None:
                    error: GoogleApiError = type(failed)(
                        what, failed.status, failed.reason, failed.message, attempt
                    )
                elif http_error is not None:
                    error = _classify(what, http_error, attempt)
                    later = _retry_after(http_error)
                    if later is not None:
                        retry_after = max(retry_after or 0.0, later)
                elif isinstance(answer, dict):
                    results[index] = answer
                    continue
                else:
                    why = "the answer was not JSON"
                    error = ServerError(what, 200, "badResponse", why, attempt)
                if error.status == 429:
                    self._count(quota, rate_limited=True)
                results[index] = error
                if isinstance(error, RateLimitedError | ServerError | TransportError):
                    again.append(index)
            pending = again
            if not pending:
                break
            delay = retry_delay(settings, attempt, retry_after)
            if attempt >= settings.max_attempts or (
                time.monotonic() - started + delay > settings.max_elapsed_s
            ):
                break
            time.sleep(delay)
        return [r if r is not None else TransportError("batch", 0, "lost", "") for r in results]

    # Apps Script v1 ---------------------------------------------------------------------------

    def get_project(self, script_id: str, attempts: int | None = None) -> dict[str, Any]:
        request = self._projects.get(scriptId=script_id)
        return self._execute("script", f"projects.get {script_id}", request, attempts=attempts)

    def get_content(self, script_id: str) -> dict[str, Any]:
        request = self._projects.getContent(scriptId=script_id)
        return self._execute("script", f"projects.getContent {script_id}", request)

    def update_content(self, script_id: str, files: Sequence[dict[str, str]]) -> dict[str, Any]:
        """Replaces ALL files of the project: send the full set, manifest included."""
        body = {"scriptId": script_id, "files": list(files)}
        request = self._projects.updateContent(scriptId=script_id, body=body)
        return self._execute("script", f"projects.updateContent {script_id}", request)

    # Drive v3 ---------------------------------------------------------------------------------

    def get_drive_file(
        self, file_id: str, fields: str = "id,name,mimeType,parents", attempts: int | None = None
    ) -> dict[str, Any]:
        """files.get: the file's metadata; `parents` are the folders holding it (left out by
        Google when there are none the caller can see)."""
        request = self._files.get(fileId=file_id, fields=fields)
        return self._execute("drive", f"files.get {file_id}", request, attempts=attempts)

    def get_drive_files(
        self, file_ids: Sequence[str], fields: str = "id,name,mimeType,parents"
    ) -> list[dict[str, Any] | GoogleApiError]:
        """files.get of each file, in Drive batch requests (BATCH_MOST calls in each HTTP
        request; each call counts against the quota, as Google counts them): each file's
        metadata, or why it could not be read."""
        calls = [
            (f"files.get {file_id}", self._files.get(fileId=file_id, fields=fields))
            for file_id in file_ids
        ]
        return self._execute_batch("drive", calls)

    def list_permissions(self, file_id: str) -> list[dict[str, Any]]:
        """permissions.list: who the file is shared with (for owners and writers; others get
        403 insufficientFilePermissions). Each Permission has id, type (user, group, domain,
        anyone), role, and emailAddress or domain; every page is read."""
        return self._permission_pages(file_id, [], None)

    def list_permissions_of(
        self, file_ids: Sequence[str]
    ) -> list[list[dict[str, Any]] | GoogleApiError]:
        """permissions.list of each file, their first pages in Drive batch requests (as
        `get_drive_files`), any further page one call at a time: each file's permissions, or
        why they could not be read."""
        calls = [
            (f"permissions.list {file_id}", self._permissions_page(file_id, None))
            for file_id in file_ids
        ]
        found: list[list[dict[str, Any]] | GoogleApiError] = []
        for file_id, page in zip(file_ids, self._execute_batch("drive", calls), strict=True):
            if isinstance(page, GoogleApiError):
                found.append(page)
                continue
            listed = _permissions_in(page)
            token = page.get("nextPageToken")
            try:
                found.append(self._permission_pages(file_id, listed, token) if token else listed)
            except GoogleApiError as error:
                found.append(error)
        return found

    def _permissions_page(self, file_id: str, token: str | None) -> Any:
        fields = "nextPageToken,permissions(id,type,role,emailAddress,domain,allowFileDiscovery)"
        arguments: dict[str, Any] = {"fileId": file_id, "fields": fields, "pageSize": 100}
        if token:
            arguments["pageToken"] = token
        return self._permissions.list(**arguments)

    def _permission_pages(
        self, file_id: str, found: list[dict[str, Any]], token: str | None
    ) -> list[dict[str, Any]]:
        """The pages from `token` on (the first when None), after those `found` already."""
        while True:
            request = self._permissions_page(file_id, token)
            page = self._execute("drive", f"permissions.list {file_id}", request)
            found.extend(_permissions_in(page))
            token = page.get("nextPageToken")
            if not token:
                return found

    # Sheets v4 --------------------------------------------------------------------------------

    def get_spreadsheet(
        self,
        spreadsheet_id: str,
        ranges: Sequence[str] = (),
        fields: str = "",
        include_grid_data: bool = False,
        attempts: int | None = None,
    ) -> dict[str, Any]:
        """spreadsheets.get: a Spreadsheet resource. With `ranges`, only the tabs they are on
        (and, with grid data, only those cells). Google ignores include_grid_data when
        `fields` is given: the mask alone then decides whether grid data comes back."""
        arguments: dict[str, Any] = {
            "spreadsheetId": spreadsheet_id,
            "includeGridData": include_grid_data,
        }
        if ranges:
            arguments["ranges"] = [ranges] if isinstance(ranges, str) else list(ranges)
        if fields:
            arguments["fields"] = fields
        request = self._spreadsheets.get(**arguments)
        what = f"spreadsheets.get {spreadsheet_id}"
        return self._execute("sheets-read", what, request, attempts=attempts)

    def batch_update_spreadsheet(
        self, spreadsheet_id: str, requests: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        """spreadsheets.batchUpdate: the requests apply all or nothing."""
        body = {"requests": [dict(r) for r in requests]}
        request = self._spreadsheets.batchUpdate(spreadsheetId=spreadsheet_id, body=body)
        # Retried: Google applies a batch atomically, so a failed attempt changed nothing and a
        # replayed updateCells writes the same cells (an appendDimension replayed after a lost
        # answer would add its empty rows twice).
        return self._execute(
            "sheets-write", f"spreadsheets.batchUpdate {spreadsheet_id}", request, idempotent=True
        )

    def batch_get_values(self, spreadsheet_id: str, ranges: Sequence[str]) -> list[list[list[str]]]:
        values = self._values
        request = values.batchGet(spreadsheetId=spreadsheet_id, ranges=list(ranges))
        answer = self._execute("sheets-read", f"values.batchGet {spreadsheet_id}", request)
        return [r.get("values", []) for r in answer.get("valueRanges", [])]

    def append_values(
        self, spreadsheet_id: str, range_name: str, rows: Sequence[Sequence[Any]]
    ) -> dict[str, Any]:
        """Never retried here: a lost answer may still have appended. Callers re-sync by event
        id instead (see services/activity_log.py)."""
        values = self._values
        request = values.append(
            spreadsheetId=spreadsheet_id,
            range=range_name,
            valueInputOption="RAW",
            insertDataOption="INSERT_ROWS",
            body={"values": [list(r) for r in rows]},
        )
        return self._execute(
            "sheets-write", f"values.append {spreadsheet_id}", request, idempotent=False
        )

    def batch_update_values(
        self, spreadsheet_id: str, data: Sequence[tuple[str, Sequence[Sequence[Any]]]]
    ) -> dict[str, Any]:
        body = {
            "valueInputOption": "RAW",
            "data": [{"range": r, "values": [list(v) for v in rows]} for r, rows in data],
        }
        values = self._values
        request = values.batchUpdate(spreadsheetId=spreadsheet_id, body=body)
        return self._execute("sheets-write", f"values.batchUpdate {spreadsheet_id}", request)


def _collect(
    answers: dict[str, tuple[Any, HttpError | None]],
    key: str,
    answer: Any,
    error: HttpError | None,
) -> None:
    """A batch's callback: each call's answer or error, by its request id."""
    answers[key] = (answer, error)


def _permissions_in(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [p for p in page.get("permissions", []) if isinstance(p, dict)]


def _unreachable(endpoint: str | None, error: Exception) -> str:
    return (
        f"cannot reach the token endpoint {endpoint or 'of Google'} ({_one_line(error)}); "
        "check the network or [google] token_uri"
    )


def _refused(endpoint: str | None, error: Exception) -> str:
    return (
        f"the token endpoint {endpoint or 'of Google'} refused the stored credentials "
        f"({_one_line(error)}); run `sheetstage login`"
    )


def _one_line(error: Exception) -> str:
    """google-auth puts the endpoint's answer (or the transport's error) first in args."""
    if isinstance(error, google.auth.exceptions.GoogleAuthError) and error.args:
        detail = error.args[0]
        text = str(detail)
        if isinstance(detail, Exception):
            text = f"{type(detail).__name__}: {text}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())[:300]


def retry_delay(settings: ClientConfig, attempt: int, retry_after: float | None) -> float:
    """Retry-After when the server gave one (up to its cap), else truncated exponential
    backoff with jitter: a random wait in the upper half of min(cap, initial * 2^(n-1))."""
    if retry_after is not None:
        return min(retry_after, settings.retry_after_cap_s)
    ceiling = min(settings.backoff_cap_s, settings.backoff_initial_s * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def _classify(what: str, error: HttpError, attempt: int) -> GoogleApiError:
    status = int(error.resp.status)
    message, reason, status_name = str(error), "", ""
    try:
        payload = json.loads(error.content.decode("utf-8"))["error"]
        message = str(payload.get("message", message))
        status_name = str(payload.get("status", ""))
        details = payload.get("errors") or []
        reason = str(details[0].get("reason", "")) if details else ""
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        pass
    label = reason or status_name or "error"
    if status == 403 and "has not enabled the Apps Script API" in message:
        return ApiNotEnabledError(what, status, label, message, attempt)
    if status == 403 and reason in _RATE_LIMIT_REASONS:
        return RateLimitedError(what, status, label, message, attempt)
    if status == 429:
        return RateLimitedError(what, status, label, message, attempt)
    if status in _RETRYABLE_STATUS:
        return ServerError(what, status, label, message, attempt)
    if status == 404:
        return NotFoundError(what, status, label, message, attempt)
    if status in (401, 403):
        return PermissionDeniedError(what, status, label, message, attempt)
    return InvalidRequestError(what, status, label, message, attempt)


def _retry_after(error: HttpError) -> float | None:
    value = error.resp.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
