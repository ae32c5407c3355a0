"""Opening a configured workspace and backend: the wiring every command shares."""

from __future__ import annotations

import contextlib
import errno
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from services import audit
from services.access import Access, config_problem, load_access, read_roles, simulated_people
from services.audit import AuditTrail
from services.config import Config
from services.errors import RefusedError, UsageError
from services.registry import Registry, load_registry
from services.workspace import PushError, Staged, Workspace

if TYPE_CHECKING:  # the Google libraries load only when a backend is opened
    from services.activity_log import Log
    from services.emulator.server import EmulatorServer, EmulatorSettings
    from services.google_client import Credentials, GoogleClient

EMULATOR_CLIENT_ID = "sheetstage-emulator"


def emulator_state_file(config: Config) -> Path:
    return config.emulator.state_dir / "emulator.sqlite3"


def emulator_settings(config: Config) -> EmulatorSettings:
    from services.emulator.server import EmulatorSettings

    e = config.emulator
    return EmulatorSettings(
        latency_ms=e.latency_ms,
        fault_rate=e.fault_rate,
        quota_per_minute=e.quota_per_minute,
        failing_scripts=e.failing_scripts,
        tampered_scripts=e.tampered_scripts,
    )


def emulator_credentials(server: EmulatorServer, email: str) -> Credentials:
    """User credentials for the emulator: a refresh token it issued, refreshed at its token_uri
    exactly as google-auth refreshes against Google."""
    from services.google_client import refreshable_credentials

    return refreshable_credentials(
        server.store.issue_refresh_token(email), server.token_uri, EMULATOR_CLIENT_ID, "emulator"
    )


@dataclass
class Backend:
    client: GoogleClient
    emulator: EmulatorServer | None = None

    def close(self) -> None:
        self.client.close()
        if self.emulator is not None:
            self.emulator.stop()


def open_backend(config: Config, account: str = "") -> Backend:
    """The Google client for the configured backend (starting the in-process emulator, whose
    token belongs to `account`, the acting person's Google account, when one is known)."""
    from services.emulator.server import EmulatorServer
    from services.google_client import Endpoints, GoogleClient, load_user_credentials

    if config.backend == "emulator":
        port = config.emulator.port
        try:
            server = EmulatorServer(
                emulator_state_file(config), emulator_settings(config), port=port
            ).start()
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise UsageError(
                f"the emulator cannot listen on 127.0.0.1:{port} ({error.strerror}); set "
                "[emulator].port to another port, or 0 for any free one"
            ) from None
        try:
            client = GoogleClient(
                emulator_credentials(server, account or config.emulator.user),
                config.client,
                Endpoints(server.endpoint),
                script_requests_per_minute=config.client.requests_per_minute
                or config.emulator.quota_per_minute,
            )
            client.authenticate()
        except BaseException:
            server.stop()
            raise
        return Backend(client, server)
    credentials = load_user_credentials(config.google.token_file, config.google.token_uri)
    client = GoogleClient(credentials, config.client, Endpoints(config.google.api_endpoint))
    try:
        client.authenticate()
    except BaseException:
        client.close()
        raise
    return Backend(client)


@dataclass
class Session:
    """One command's view of the world: config, workspace, registry, who is acting."""

    config: Config
    workspace: Workspace
    registry: Registry
    access: Access
    _backend: Backend | None = field(default=None, repr=False)
    # worker threads that reach the backend first must not each open one (an emulator each)
    _backend_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    push_problems: list[str] = field(default_factory=list)  # pushes after a commit that failed
    _unpushed: bool = field(default=False, repr=False)

    @classmethod
    def open(cls, config: Config, read_only: bool = False, as_user: str = "") -> Session:
        workspace = Workspace.open(config.workspace)
        problem = config_problem(workspace, config.source)
        if problem:  # it decides where code, alerts and credentials go
            raise RefusedError(f"refusing the config: {problem}")
        registry = load_registry(workspace.registry_path)
        access = load_access(workspace, config.source, config.backend, read_only, as_user)
        return cls(config, workspace, registry, access)

    def require(self, action: str) -> None:
        """The acting person may do `action`: their role allows it, and for a privileged
        action no trusted file is in doubt and their own audit trail is intact (a broken
        trail voids its owner's authority)."""
        self.access.require(action)
        if not self.access.privileged(action):
            return
        check = self.verify().check_of(self.access.user)
        if check is not None and not check.ok:
            raise RefusedError(
                f"{action} refused: your audit trail is not intact ({check.describe()}); "
                "no role of yours counts until it is restored"
            )

    def verify(
        self, witness: Mapping[str, Collection[str]] | None = None, remote: str = ""
    ) -> audit.AuditReport:
        """Every trail checked: chains, owners, anchors, and the witness when given."""
        return audit.verify(
            self.workspace, simulated=self._simulated(), witness=witness, remote=remote
        )

    def _simulated(self) -> set[str]:
        """People whose trail the workspace's owner may hold (the emulator's)."""
        return simulated_people(read_roles(self.workspace), self.config.backend)

    def sync_log(self, log: Log | None = None) -> list[str]:
        """The activity-log sheet gets every line of an intact trail that it lacks (the outside
        witness of lines not yet in a commit); returns the problems, if any. `log` is the log
        as this run read it already."""
        from services import activity_log

        log_id = self.registry.activity_log_spreadsheet_id
        if not log_id:
            return ["no activity log: set [activity_log].spreadsheet_id in registry.toml"]
        entries = list(self.verify().trusted_entries())
        return activity_log.sync(self.client, log_id, entries, log).problems

    def commit(
        self,
        message: str,
        paths: Sequence[str],
        check_staged: Callable[[Staged], None] | None = None,
    ) -> str | None:
        """Commit `paths` with every trail as its owner wrote it (the caller holds the
        workspace lock); None when nothing changed. The commit goes to the off-site backup
        when the command ends (`push`), outside the lock: a slow remote holds no one up."""
        trails = audit.trails_to_commit(self.workspace, self._simulated())
        commit = self.workspace.commit(
            message, [*paths, *trails], user=self.access.user, check_staged=check_staged
        )
        self._unpushed = self._unpushed or commit is not None
        return commit

    def push(self, always: bool = False) -> None:
        """Push the commits this session made (or, `always`, whatever the backup lacks) to
        `[git] remote`, so a workspace restored from it lacks no line a command wrote; a
        failure is kept in `push_problems` (the next push carries the commits)."""
        remote = self.config.git.remote
        if not remote or not (self._unpushed or always):
            return
        self._unpushed = False
        try:
            self.workspace.push(remote)
        except PushError as error:
            self.push_problems.append(f"{error}; the next command pushes it again")

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            with self._backend_lock:
                if self._backend is None:
                    self._backend = open_backend(self.config, self.access.account)
        return self._backend

    def trail(self) -> AuditTrail:
        """The acting person's own audit trail."""
        return AuditTrail(self.workspace, self.access.user)

    @property
    def client(self) -> GoogleClient:
        return self.backend.client

    def close(self) -> None:
        self.push()  # what a caller did not push itself (the TUI's last commits)
        if self._backend is not None:
            self._backend.close()
            self._backend = None
        self.workspace.close()


@contextlib.contextmanager
def session(config: Config, read_only: bool = False, as_user: str = "") -> Iterator[Session]:
    opened = Session.open(config, read_only, as_user)
    try:
        yield opened
    finally:
        opened.close()
