"""Roles: who someone is (the OS account; `--as` for the emulator's simulated people), what
they may do, and the files a privileged action refuses to trust."""

from __future__ import annotations

import json
import os

import pytest

from services.workspace import current_user
from sheetstage_tui.app import SheetStageApp
from tests.conftest import Demo

ME = current_user()


def test_a_simulated_person_acts_under_their_own_trail_with_a_banner(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert snapshotted.cli("--as", "dana", "snapshot", "--sheet", "3") == 0
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "SIMULATED: dana (emulator only)"
    entries = snapshotted.trail("dana")  # the demo's review requests, then the snapshot
    assert {e["user"] for e in entries} == {"dana"} and entries[-1]["action"] == "snapshot"
    assert os.stat(snapshotted.trail_path("dana")).st_uid == snapshotted.workspace.owner_uid
    assert snapshotted.cli("audit", "verify") == 0
    assert "audit/dana.jsonl: intact" in capsys.readouterr().out

    assert snapshotted.cli("--as", "dana", "acknowledge", "--sheet", "1", "--finding", "x",
                           "--reason", "r") == 5  # fmt: skip
    assert "acknowledge refused: you are dana (simulated) with developer" in capsys.readouterr().err


def test_as_is_refused_for_google_and_for_people_not_in_roles(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert snapshotted.cli("--as", "ghost", "drift") == 2
    assert "--as ghost: not in roles.toml (it lists dana, " in capsys.readouterr().err
    token = snapshotted.root / "token.json"
    token.write_text("{}")
    token.chmod(0o600)
    snapshotted.config_path.write_text(
        f'backend = "google"\nworkspace = "workspace"\n[google]\ntoken_file = "{token}"\n'
    )
    assert snapshotted.cli("--as", "dana", "drift") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert 'simulated people exist only with backend = "emulator"' in err


def test_roles_says_who_has_what_and_which_file_is_not_trusted(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert snapshotted.cli("roles") == 0
    out = capsys.readouterr().out
    assert f"you: {ME}, practice_manager, Google account practice.manager@practice.example" in out
    assert "dana" in out and "developer@practice.example" in out
    assert "trusted files: roles.toml, .git/config, hooks and the config are in order" in out

    path = snapshotted.trail_path()
    path.write_text(path.read_text().replace('"seq":2,', '"seq":7,', 1))
    assert snapshotted.cli("roles") == 0
    out = capsys.readouterr().out
    assert f"grants nothing: audit/{ME}.jsonl: BROKEN at line 2" in out

    git_config = snapshotted.workspace.root / ".git" / "config"
    git_config.chmod(0o664)
    assert snapshotted.cli("roles") == 0
    out = capsys.readouterr().out
    assert f"not trusted: {git_config} can be written by users other than its owner" in out


def test_a_config_others_could_have_written_is_refused_and_so_are_privileged_actions(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    """The config decides where code, alerts and credentials go (git.remote, the webhook,
    api_endpoint): no command uses one that someone else could have written."""
    config = snapshotted.config_path
    config.chmod(0o666)
    capsys.readouterr()
    assert snapshotted.cli("snapshot", "--sheet", "1") == 5
    assert f"refusing the config: {config} can be written by users other than" in (
        capsys.readouterr().err
    )
    config.chmod(0o644)

    hook = snapshotted.workspace.root / ".git" / "hooks" / "post-commit"
    hook.write_text("#!/bin/sh\n")
    hook.chmod(0o775)  # group-writable: someone else could have written it
    assert snapshotted.cli("acknowledge", "--sheet", "1", "--finding", "x", "--reason", "r") == 5
    err = capsys.readouterr().err
    assert "acknowledge refused:" in err and f"chmod go-w {hook}" in err
    assert snapshotted.cli("--as", "svc", "snapshot", "--sheet", "1") == 5  # all it runs counts
    assert snapshotted.cli("snapshot", "--sheet", "1") == 0  # a manager's snapshot runs no hook


async def test_the_tui_banner_says_who_is_simulated(snapshotted: Demo) -> None:
    app = SheetStageApp(snapshotted.config, as_user="dana")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        banner = str(app.banner())
        assert "SIMULATED: dana (emulator only)" in banner and "staging only" in banner


def test_a_new_demo_lists_its_simulated_people(demo: Demo) -> None:
    from services.access import read_roles

    roles = read_roles(demo.workspace)
    assert roles.problem == ""
    assert roles.people == {
        ME: frozenset({"practice_manager"}),
        "dana": frozenset({"developer"}),
        "sam": frozenset({"practice_manager"}),  # the demo's production editor
        "svc": frozenset({"service_account"}),  # the demo's scheduler
    }
    assert json.dumps(roles.accounts) == json.dumps(
        {
            ME: "practice.manager@practice.example",
            "dana": "developer@practice.example",
            "sam": "someone.else@practice.example",
            "svc": "scheduler@practice.example",
        }
    )


async def test_the_tui_says_when_your_own_trail_is_broken(snapshotted: Demo) -> None:
    path = snapshotted.trail_path()
    lines = path.read_text().splitlines()
    record = json.loads(lines[2])
    lines[2] = json.dumps({**record, "detail": "nothing happened"}, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    app = SheetStageApp(snapshotted.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "TRAIL BROKEN: NO AUTHORITY" in str(app.banner())
        assert any("your audit trail is not intact" in n.message for n in app._notifications)
