"""Configuration loading: precedence, relative paths, and one clear line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from sheetstage_tui.config import load_config, load_config_file, packaged_default
from sheetstage_tui.errors import ConfigError


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
