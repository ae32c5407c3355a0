"""Configuration loading: precedence, relative paths, and one clear line per mistake."""

from __future__ import annotations

import dataclasses
import datetime
import http.server
import threading
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.config import Config, load_config, load_config_file, packaged_default
from services.errors import ConfigError
from sheetstage_tui.cli import main
from tests.conftest import Demo


def test_packaged_default_is_the_repository_config() -> None:
    repository_config = Path(__file__).resolve().parents[1] / "config.toml"
    assert packaged_default().read_text() == repository_config.read_text()


def test_precedence_flag_then_environment_then_local_file_then_packaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("flag", "env", "local"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.toml").write_text(f'workspace = "{name}-ws"\n')
    monkeypatch.chdir(tmp_path / "local")
    monkeypatch.setenv("SHEETSTAGE_CONFIG", str(tmp_path / "env" / "config.toml"))

    assert (
        load_config(str(tmp_path / "flag" / "config.toml")).workspace
        == tmp_path / "flag" / "flag-ws"
    )
    assert load_config(None).workspace == tmp_path / "env" / "env-ws"
    monkeypatch.delenv("SHEETSTAGE_CONFIG")
    assert load_config(None).workspace == tmp_path / "local" / "local-ws"
    monkeypatch.chdir(tmp_path)
    packaged = load_config(None)
    assert packaged.source == packaged_default()
    assert packaged.workspace == tmp_path / "workspace"
    assert packaged.backend == "emulator"


def test_relative_paths_are_relative_to_the_config_files_folder(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "config.toml"
    path.write_text('workspace = "../data/ws"\n[emulator]\nstate_dir = "emu"\n')
    config = load_config_file(path)
    assert config.workspace == tmp_path / "etc" / "../data/ws"
    assert config.emulator.state_dir == tmp_path / "etc" / "emu"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[emulator]\nlatency = 5\n", "unknown key [emulator].latency; did you mean 'latency_ms'?"),
        ("workspce = 'x'\n", "unknown key 'workspce'; did you mean 'workspace'?"),
        ("[client]\nconcurrency = 'many'\n", "[client].concurrency must be an integer, not str"),
        ("[emulator]\nfault_rate = 2.0\n", "[emulator].fault_rate must be between 0 and 1"),
        ("[emulator]\nfailing_scripts = 'x'\n", "must be a list of strings"),
        ('backend = "gogle"\n', 'backend = "gogle" is unknown; use "emulator" or "google"'),
        ("[client\n", "broken TOML"),
        ("emulator = 3\n", "[emulator] must be a table"),
    ],
)
def test_mistakes_name_the_file_the_key_and_the_fix(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and expected in message
    assert "\n" not in message


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "absent.toml"))


def _numeric_settings() -> list[tuple[str, str, type]]:
    """(section, key, int or float) for every numeric field of every [section] dataclass, read
    from the dataclasses themselves so that a setting added later is covered too."""
    settings = []
    for section in dataclasses.fields(Config):
        cls = typing.get_type_hints(Config).get(section.name)
        if not dataclasses.is_dataclass(cls):
            continue
        for key, hint in typing.get_type_hints(cls).items():
            if hint in (int, float):
                settings.append((section.name, key, hint))
    return settings


NUMERIC = _numeric_settings()
OUT_OF_RANGE = [
    pytest.param(section, key, value, id=f"{section}.{key}={value}")
    for section, key, hint in NUMERIC
    for value in (["-1", "10000000000"] if hint is int else ["-1.0", "nan", "inf", "-inf", "1e12"])
]


def test_every_section_has_numeric_settings_to_check() -> None:
    sections = {section for section, _, _ in NUMERIC}
    assert sections == {
        "client",
        "git",
        "alerts",
        "deploy",
        "emulator",
        "phi",
        "test_data",
        "tests",
    }
    assert len(NUMERIC) >= 18  # the discovery found the settings, not an empty list


@pytest.mark.parametrize("value", ['"2026-01-01"', "2026-01-01T10:00:00", "20260101", "2026-02-30"])
def test_the_as_of_date_must_be_a_toml_date(tmp_path: Path, value: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[test_data]\nas_of = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert str(caught.value).startswith(f"{path}")
    assert "\n" not in str(caught.value)
    path.write_text("[test_data]\nas_of = 2025-07-04\n")
    assert str(load_config_file(path).test_data.as_of) == "2025-07-04"


@pytest.mark.parametrize(("section", "key", "value"), OUT_OF_RANGE)
def test_every_numeric_setting_refuses_negative_huge_and_non_finite_values(
    tmp_path: Path, section: str, key: str, value: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[{section}]\n{key} = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: [{section}].{key} must be ")
    assert message.endswith("; fix the value") and "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[phi]\nmrn_id_pattern = "[A-Z"\n',
            "[phi].mrn_id_pattern '[A-Z' is not a valid regular expression (unterminated "
            "character set at position 0); fix the pattern",
        ),
        ('[phi]\nmrn_id_pattern = "\\\\d*"\n', "[phi].mrn_id_pattern must be a pattern that"),
        (
            "[client]\nbackoff_cap_s = -5.0\n",
            "[client].backoff_cap_s must be above 0 and at most 3600, not -5.0",
        ),
        (
            "[client]\nbackoff_initial_s = 2.0\nbackoff_cap_s = 1.0\n",
            "[client].backoff_cap_s (1) must be at least [client].backoff_initial_s (2)",
        ),
        (
            "[git]\nlock_timeout_s = -1.0\n",
            "[git].lock_timeout_s must be between 0 and 3600, not -1.0",
        ),
        (
            "[client]\nmax_elapsed_s = inf\n",
            "[client].max_elapsed_s must be above 0 and at most 86400 (a finite",
        ),
        ("[client]\nsheets_requests_per_minute = 0\n", "must be between 1 and 1000000, not 0"),
        ("[emulator]\nport = 70000\n", "[emulator].port must be between 0 and 65535"),
        ('[phi]\nallowlist = ["practice.example", " "]\n', "[phi].allowlist entry 2 is empty"),
        ('[phi]\ntest_cards = [""]\n', "[phi].test_cards entry 1 is empty"),
        ('[phi]\ntest_cards = ["4111-1111"]\n', "[phi].test_cards entry 1 '4111-1111' is not a"),
        ('[phi]\nsynthetic_prefix = " "\n', "[phi].synthetic_prefix must be a non-empty prefix"),
        ('[alerts]\nwebhook_url = "hooks.example/x"\n', "[alerts].webhook_url must be empty or"),
        ('[alerts]\nwebhook_url = "file:///etc/passwd"\n', "must be empty or an http(s) URL"),
        ('[alerts]\nwebhook_url = "https://x.example:port/"\n', "must be empty or an http"),
        ('[google]\ntoken_uri = "127.0.0.1:9/token"\n', "[google].token_uri must be empty or"),
    ],
)
def test_bad_values_are_one_line_naming_the_key_and_the_fix(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and expected in message, message
    assert "\n" not in message and "; " in message


def test_edge_values_inside_the_ranges_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[client]\nrequests_per_minute = 0\nretry_after_cap_s = 0\n"
        "backoff_initial_s = 0.5\nbackoff_cap_s = 0.5\n"
        "[git]\nlock_timeout_s = 0\n"
        '[alerts]\ndrift_threshold = 0\nwebhook_url = "https://hooks.example:8443/alerts"\n'
        '[phi]\nmrn_id_pattern = "MR\\\\d{7}"\ntest_cards = ["4111 1111 1111 1111"]\n'
    )
    config = load_config_file(path)
    assert config.git.lock_timeout_s == 0.0 and config.client.backoff_cap_s == 0.5
    assert config.phi.mrn_id_pattern == "MR\\d{7}"


def test_an_invalid_pattern_stops_the_command_with_exit_2_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[phi]\nmrn_id_pattern = "(MRN"\n')
    code = tmp_path / "Code.gs"
    code.write_text("const mrn = 'MRN 12345678';\n")
    assert main(["--config", str(path), "scan", str(code)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert "[phi].mrn_id_pattern '(MRN' is not a valid regular expression" in err


class _TokenEndpoint(http.server.BaseHTTPRequestHandler):
    """A token endpoint that answers garbage (an HTTP error google-auth raises as its own
    TransportError) or refuses the refresh token the way Google does."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/garbage":
            self.wfile.write(b"garbage\r\n\r\n")
            return
        body = b'{"error": "invalid_grant", "error_description": "Token has been revoked."}'
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def token_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("unreachable", "cannot reach the token endpoint {uri} ("),
        ("garbage", "cannot reach the token endpoint {uri} (BadStatusLine"),
        ("refusing", "the token endpoint {uri} refused the stored credentials (invalid_grant"),
    ],
)
def test_a_token_endpoint_that_fails_is_one_line_exit_2_never_a_traceback(
    demo: Demo,
    token_endpoint: str,
    capsys: pytest.CaptureFixture[str],
    where: str,
    expected: str,
) -> None:
    from google.oauth2.credentials import Credentials

    uri = {
        "unreachable": "http://127.0.0.1:9/token",
        "garbage": f"{token_endpoint}/garbage",
        "refusing": f"{token_endpoint}/token",
    }[where]
    token_file = demo.root / "token.json"
    expired = Credentials(
        token="an-expired-access-token",
        refresh_token="a-stored-refresh-token",
        token_uri="https://oauth2.googleapis.com/token",
        client_id="sheetstage-test",
        client_secret="secret",
        expiry=datetime.datetime(2020, 1, 1),
    )
    token_file.write_text(expired.to_json())
    token_file.chmod(0o600)
    demo.config_path.write_text(
        'backend = "google"\nworkspace = "workspace"\n[client]\nmax_attempts = 1\n[google]\n'
        f'token_file = "{token_file}"\napi_endpoint = "http://127.0.0.1:9/"\n'
        f'token_uri = "{uri}"\n'
    )
    head = demo.workspace.head()
    capsys.readouterr()

    assert demo.cli("snapshot") == 2

    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert expected.format(uri=uri) in err
    fix = (
        "run `sheetstage login`"
        if where == "refusing"
        else "check the network or [google] token_uri"
    )
    assert err.endswith(fix)
    assert demo.workspace.head() == head
    assert demo.workspace.repo.git.status("--porcelain") == ""


# [schedule] -------------------------------------------------------------------------------------


def test_the_schedules_longest_gap_crosses_midnight_and_the_night_clocks_change(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("")
    schedule = load_config_file(path).schedule
    assert schedule.times == ("09:00", "17:00") and schedule.timezone == "America/Chicago"
    # 17:00 -> 09:00 is 16 hours, and 17 the night summer time ends (any year: both changes)
    for around in (datetime.date(2026, 1, 15), datetime.date(2027, 7, 1)):
        assert schedule.longest_gap(around) == datetime.timedelta(hours=17)
    path.write_text('[schedule]\ntimes = ["22:00", "02:00"]\ntimezone = "UTC"\n')
    assert load_config_file(path).schedule.longest_gap() == datetime.timedelta(hours=20)
    path.write_text('[schedule]\ntimes = ["09:00", "17:00"]\ntimezone = "UTC"\n')
    assert load_config_file(path).schedule.longest_gap() == datetime.timedelta(hours=16)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('times = ["9:00"]', "[schedule].times entry 1 '9:00' is not a time of day as HH:MM"),
        ('times = ["09:00", "24:00"]', "[schedule].times entry 2 '24:00' is not a time of day"),
        ('times = ["09:00", "09:00"]', "[schedule].times lists 09:00 twice; remove one"),
        ("times = []", "[schedule].times must list at least one time of day"),
        ("times = [9]", "[schedule].times must be a list of strings"),
        ('timezone = "America/Chicgo"', "[schedule].timezone 'America/Chicgo' is not a time zone"),
        ('timezone = "../../etc/passwd"', "[schedule].timezone '../../etc/passwd' is not a time"),
        ('timezone = ""', "[schedule].timezone '' is not a time zone this machine knows"),
        ('days = ["mon"]', "unknown key [schedule].days"),
    ],
)
def test_a_bad_schedule_is_one_line_naming_the_key_and_the_fix(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[schedule]\n{text}\n")
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and expected in message, message
    assert "\n" not in message and "; " in message


def test_an_mrn_pattern_is_checked_as_the_scanner_embeds_it(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[phi]\nmrn_id_pattern = "MR(?i)\\\\d{7}"\n')
    with pytest.raises(ConfigError, match="is not a valid regular expression"):
        load_config_file(path)
