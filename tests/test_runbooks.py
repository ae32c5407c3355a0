"""README's recovery runbooks, each run on the demo as its commands are written, each ending
with `audit verify` intact and `health` reporting the demo's two planted sharing mistakes and
nothing the runbook broke."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import git
import pytest

from services.emulator.seed import STAGED, demo_sheets
from services.registry import IdMapper
from tests.conftest import Demo
from tests.test_deploy import live, typed

ROOT = Path(__file__).resolve().parents[1]
SHEETS = {s.number: s for s in demo_sheets()}
MAPPER = IdMapper(SHEETS.values())
DEVELOPER = "developer@practice.example"
PLANTED = [
    "sheet 057 DEV3 spreadsheet: shared with temp.contractor@outside-agency.example",
    "sheet 093 production spreadsheet: anyone with the link",
]


def readme_block(title: str) -> list[list[str]]:
    """The commands of the README runbook that starts with `title` (its first sh block),
    each as arguments after `sheetstage`, comments dropped; `a && b` is two commands."""
    text = (ROOT / "README.md").read_text()
    start = text.index(f"**{title}")
    block = re.search(r"```sh\n(.*?)```", text[start:], re.S)
    assert block is not None
    commands = []
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        for part in filter(None, (p.strip() for p in line.split("&&"))):
            commands.append(part.split())
    return commands


def ends_healthy(demo: Demo, capsys: pytest.CaptureFixture[str], config: Path | None = None):
    where = ["--config", str(config)] if config else []
    capsys.readouterr()
    assert demo.cli(*where, "audit", "verify") == 0, capsys.readouterr()
    capsys.readouterr()
    assert demo.cli(*where, "health", "--json") == 1
    report = json.loads(capsys.readouterr().out)
    problems = [c["detail"] for c in report["checks"] if not c["ok"]]
    assert len(problems) == len(PLANTED), problems
    for detail, planted in zip(sorted(problems), PLANTED, strict=True):
        assert detail.startswith(planted), problems


def test_the_workspace_corrupted_comes_back_from_its_backup(
    snapshotted: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = tmp_path / "backup.git"
    git.Repo.init(bare, bare=True, initial_branch="main").close()
    demo = snapshotted.fast_sheets()  # `reference refresh` reads each sheet's patients
    demo.config_path.write_text(demo.config_path.read_text() + f'\n[git]\nremote = "{bare}"\n')
    demo.edit_script(SHEETS[9].dev3_script_id, "\n// work of the day\n", DEVELOPER)
    assert demo.cli("--batch") == 0  # pushed to the backup
    key = tmp_path / "admin-copy.key"  # the administrator's copy
    shutil.copy(demo.workspace.internal / "hmac.key", key)
    (demo.workspace.root / ".git" / "index").write_bytes(b"garbage")  # the disk went bad

    commands = readme_block("The staging repository")
    assert commands[0][:1] == ["mv"] and commands[1][:2] == ["sheetstage", "init"]
    demo.workspace.root.rename(demo.root / "workspace.damaged")
    init = commands[1][1:]
    init[init.index("--from") + 1] = str(bare)
    init[init.index("--key") + 1] = str(key)
    capsys.readouterr()
    assert demo.cli(*init) == 0, capsys.readouterr().err
    for command in commands[2:]:
        assert command[0] == "sheetstage"
        if command[1:] == ["health"]:
            break
        assert demo.cli(*command[1:]) == 0, (command, capsys.readouterr().err)
    ends_healthy(demo, capsys)
    remote_head = git.Repo(bare).commit("main").hexsha
    assert remote_head == demo.workspace.repo.head.commit.hexsha


def test_a_bad_deployment_is_rolled_back_fixed_and_deployed_again(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = snapshotted.fast_sheets()
    sheet = SHEETS[STAGED[0]]
    good = live(demo, sheet.prod_script_id)
    code, printed = typed(demo, "yes", "approve", "--sheet", str(sheet.number))
    assert code == 0, printed
    assert demo.cli("deploy", "--sheet", str(sheet.number)) == 0  # approved and fresh
    assert live(demo, sheet.prod_script_id) != good  # the bad deployment

    commands = readme_block("A bad deployment")
    assert [c[1] for c in commands] == [
        "rollback-points", "rollback", "snapshot", "drift", "snapshot", "validate",
        "request-review", "approve", "deploy",
    ]  # fmt: skip
    capsys.readouterr()
    assert demo.cli(*commands[0][1:], "--json") == 0
    points = json.loads(capsys.readouterr().out)["points"]
    tag = next(p["tag"] for p in points if p["env"] == "production")
    code, printed = typed(demo, "yes", "rollback", tag)
    assert code == 0, printed
    assert live(demo, sheet.prod_script_id) == good  # production restored
    assert demo.cli(*commands[2][1:]) == 0
    capsys.readouterr()
    assert demo.cli("drift", "--json") == 0
    drift = {d["sheet"]: d["state"] for d in json.loads(capsys.readouterr().out)}
    assert drift[sheet.number] == "ahead"  # staging still holds the change

    demo.edit_script(sheet.dev3_script_id, "\n// fixed\n", DEVELOPER)  # the fix, in DEV3
    for command in commands[4:6]:
        assert demo.cli(*command[1:]) == 0, command
    assert demo.cli("--as", "dana", *commands[6][1:]) == 0  # the developer asks
    code, printed = typed(demo, "yes", *commands[7][1:])
    assert code == 0, printed
    assert demo.cli(*commands[8][1:]) == 0
    fixed = live(demo, sheet.prod_script_id)
    assert any("// fixed" in f["source"] for f in fixed)
    ends_healthy(demo, capsys)


def test_total_staging_loss_is_rebuilt_from_production(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = snapshotted.fast_sheets()
    lost = [1, 2, 3, 40, 100, 234]
    store = demo.store()
    try:
        for number in lost:  # DEV3 overwritten: only the manifest is left
            files = store.content(SHEETS[number].dev3_script_id)["files"]
            store.update_content(SHEETS[number].dev3_script_id, files[:1], DEVELOPER)
    finally:
        store.close()

    commands = readme_block("Staging is lost entirely")
    assert [c[1] for c in commands] == ["resync-staging", "generate-test-data", "--batch",
                                        "health"]  # fmt: skip
    code, printed = typed(demo, "yes", *commands[0][1:])
    assert code == 0, printed
    assert "Type yes to rebuild them" in printed
    for number in lost:
        production = live(demo, SHEETS[number].prod_script_id)
        staging = live(demo, SHEETS[number].dev3_script_id)
        assert [MAPPER.to_production(f["source"]) for f in staging] == [
            f["source"] for f in production
        ]
    assert demo.cli(*commands[1][1:]) == 0
    assert demo.cli(*commands[2][1:]) == 0
    capsys.readouterr()
    assert demo.cli("drift", "--json") == 0
    states = {d["state"] for d in json.loads(capsys.readouterr().out)}
    assert states <= {"in-sync", "prod-modified"}  # nothing ahead or diverged: staging = prod
    ends_healthy(demo, capsys)
