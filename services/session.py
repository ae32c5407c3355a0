"""Opening a configured workspace and backend: the wiring every command shares."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from services.access import Access, load_access
from services.audit import AuditTrail
from services.registry import Registry, load_registry
from services.workspace import Workspace
from sheetstage_tui.config import Config

if TYPE_CHECKING:  # the Google libraries load only when a backend is opened
    from google.oauth2.credentials import Credentials

    from services.emulator.server import EmulatorServer, EmulatorSettings
    from services.google_client import GoogleClient

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
    )


def emulator_credentials(server: EmulatorServer, email: str) -> Credentials:
    """User credentials for the emulator: a refresh token it issued, refreshed at its token_uri
    exactly as google-auth refreshes against Google."""
    from google.oauth2.credentials import Credentials

    return Credentials(
        token=None,
        refresh_token=server.store.issue_refresh_token(email),
        token_uri=server.token_uri,
        client_id=EMULATOR_CLIENT_ID,
        client_secret="emulator",
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
        server = EmulatorServer(
            emulator_state_file(config), emulator_settings(config), port=config.emulator.port
        ).start()
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

    @classmethod
    def open(cls, config: Config, read_only: bool = False, as_user: str = "") -> Session:
        workspace = Workspace.open(config.workspace)
        registry = load_registry(workspace.registry_path)
        access = load_access(workspace, config.source, config.backend, read_only, as_user)
        return cls(config, workspace, registry, access)

    @property
    def backend(self) -> Backend:
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
