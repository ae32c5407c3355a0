"""Recovery: `resync-staging` rebuilds DEV3 from production and never writes production;
`init --from` restores a workspace from its off-site backup, verified first."""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

import git
import pytest

from services import audit, resync
from services.chain import GENESIS
from services.emulator.seed import PHI_LEAKS, PROD_MODIFIED, STAGED, demo_sheets, seed_demo
from services.emulator.store import EmulatorStore
from services.registry import IdMapper
from services.session import session
from services.workspace import Workspace
from tests.conftest import Demo
from tests.test_deploy import live, typed

SHEETS = {s.number: s for s in demo_sheets()}
MAPPER = IdMapper(SHEETS.values())
DEVELOPER = "developer@practice.example"


def test_production_mapped_to_dev3_ids_and_back_is_byte_identical(tmp_path: Path) -> None:
    """Every demo sheet's production code (many name other sheets' spreadsheets) survives
    production -> DEV3 -> production byte for byte, and DEV3's ids appear where production's
    were."""
    store = EmulatorStore(tmp_path / "emulator.sqlite3")
    try:
        seed_demo(store)
        names_other_ids = 0
        for sheet in SHEETS.values():
            for file in store.content(sheet.prod_script_id)["files"]:
                source = file["source"]
                staged = MAPPER.to_staging(source)
                assert MAPPER.to_production(staged) == source, sheet.key
                assert sheet.prod_spreadsheet_id not in staged
                names_other_ids += staged != source
        assert names_other_ids > 0  # the round trip did map something
    finally:
        store.close()


def test_resync_rebuilds_dev3_from_production_and_writes_nothing_in_production(
    snapshotted: Demo,
) -> None:
    staged, edited, leaked = SHEETS[STAGED[0]], SHEETS[PROD_MODIFIED[0]], SHEETS[PHI_LEAKS[0]]
    store = snapshotted.store()
    before = len(store.request_log())
    store.close()
    seen: list[str] = []
    with session(snapshotted.config, as_user="dana") as opened:  # a developer may resync
        results = resync.resync_staging(
            opened,
            [str(staged.number), str(edited.number), str(leaked.number), "0"],
            lambda plans: seen.extend(p.line for p in plans) or True,
            None,
        )
    outcome = {r.sheet.number: r.outcome for r in results}
    assert outcome == {staged.number: "rebuilt", edited.number: "rebuilt",
                       leaked.number: "rebuilt", 0: "unchanged"}  # fmt: skip
    assert any("files changed" in line for line in seen)
    for sheet in (staged, edited, leaked):  # DEV3 is production in DEV3's ids, exactly
        production = live(snapshotted, sheet.prod_script_id)
        staging = live(snapshotted, sheet.dev3_script_id)
        assert [MAPPER.to_production(f["source"]) for f in staging] == [
            f["source"] for f in production
        ]
    store = snapshotted.store()
    writes = [r for r in store.request_log()[before:] if r["method"] != "GET"]
    store.close()
    production = {i for s in SHEETS.values() for i in (s.prod_script_id, s.prod_spreadsheet_id)}
    rebuilt = {s.dev3_script_id for s in (staged, edited, leaked)}
    assert {r["path"].split("/")[3] for r in writes if "/content" in r["path"]} == rebuilt
    assert not [r for r in writes if any(i in r["path"] for i in production)]

    trail = snapshotted.trail("dana")
    backups = [e for e in trail if e["action"] == "backup"]
    assert {e["hashes"]["env"] for e in backups} == {"staging"}
    tagged = {e["sheets"][0] for e in backups if e["hashes"]["tag"]}
    assert tagged == {staged.number, edited.number}  # DEV3 of 150 held PHI: never in git
    done = [e for e in trail if e["action"] == "resync-staging"]
    assert sorted(e["sheets"][0] for e in done) == sorted([staged.number, edited.number,
                                                           leaked.number])  # fmt: skip
    assert all(e["result"] == "ok" for e in done)
    assert snapshotted.cli("audit", "verify") == 0
    assert snapshotted.cli("rollback-points", "--sheet", str(staged.number)) == 0


def test_production_held_back_by_the_gate_is_named_masked_and_not_copied(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = SHEETS[8]
    snapshotted.edit_script(sheet.prod_script_id, "\n// caller ssn 523-71-4086\n", DEVELOPER)
    dev3_before = live(snapshotted, sheet.dev3_script_id)
    capsys.readouterr()
    assert snapshotted.cli("resync-staging", "--sheet", "8") == 1
    printed = capsys.readouterr()
    assert "held-back: sheet 008" in printed.err and "523-71-4086" not in printed.err + printed.out
    assert live(snapshotted, sheet.dev3_script_id) == dev3_before


def test_resync_without_a_terminal_is_refused_and_a_no_changes_nothing(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = SHEETS[STAGED[0]]
    dev3_before = live(snapshotted, sheet.dev3_script_id)
    assert snapshotted.cli("resync-staging", "--sheet", str(sheet.number)) == 5
    assert "needs a typed `yes` on a terminal" in capsys.readouterr().err
    code, printed = typed(snapshotted, "y", "resync-staging", "--sheet", str(sheet.number))
    assert code == 1 and "not confirmed" in printed and "Type yes to rebuild" in printed
    assert live(snapshotted, sheet.dev3_script_id) == dev3_before
    assert not [e for e in snapshotted.trail() if e["action"].startswith("resync")]


def test_a_resync_killed_before_dev3_changed_is_settled_and_run_again(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = SHEETS[STAGED[1]]
    args = ("resync-staging", "--sheet", str(sheet.number))
    code, printed = typed(snapshotted, "yes", *args, SHEETSTAGE_CRASH_AT="staging-update")
    assert code == -9, printed  # killed after the backup, before DEV3's updateContent
    capsys.readouterr()
    assert snapshotted.cli("drift") == 0  # a practice manager's next command settles it
    err = capsys.readouterr().err
    assert "INTERRUPTED: resync-staging" in err and "it was not rebuilt: run resync-staging" in err
    assert not list((snapshotted.workspace.internal / "deploys").glob("*.json"))
    code, printed = typed(snapshotted, "yes", *args)
    assert code == 0, printed
    production = live(snapshotted, sheet.prod_script_id)
    staging = live(snapshotted, sheet.dev3_script_id)
    assert [MAPPER.to_production(f["source"]) for f in staging] == [f["source"] for f in production]
    assert snapshotted.cli("audit", "verify") == 0


# init --from ----------------------------------------------------------------------------------


@pytest.fixture
def backed_up(snapshotted: Demo, tmp_path: Path) -> tuple[Demo, Path]:
    """The demo with an off-site backup that holds its history (pushed by a batch)."""
    bare = tmp_path / "offsite.git"
    git.Repo.init(bare, bare=True, initial_branch="main").close()
    config = snapshotted.config_path
    config.write_text(config.read_text() + f'\n[git]\nremote = "{bare}"\n')
    snapshotted.edit_script(SHEETS[9].dev3_script_id, "\n// a change to push\n", DEVELOPER)
    assert snapshotted.cli("--batch") in (0, 1)
    return snapshotted, bare


def restored_config(demo: Demo) -> Path:
    """The same demo config, with the workspace at a new folder (the old one is lost)."""
    path = demo.root / "restored.toml"
    text = demo.config_path.read_text().replace('workspace = "workspace"', 'workspace = "again"')
    path.write_text(text)
    return path


def add_trails_by_hand(bare: Path, clone: Path, people: list[str]) -> None:
    """Trails of other people, committed to the backup by hand (chains intact)."""
    work = git.Repo.clone_from(str(bare), clone, branch="main")
    for person in people:
        line = audit.render_line(1, GENESIS, person, "request-review", [3], detail="by hand")
        (clone / "audit" / f"{person}.jsonl").write_bytes(line + b"\n")
        work.index.add([f"audit/{person}.jsonl"])
    work.index.commit("trails of two more people")
    work.remote().push("main").raise_if_error()


def test_a_workspace_comes_back_from_its_backup_verified_with_its_key(
    backed_up: tuple[Demo, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run as root: a trail goes back to the account it names; one of a person with no
    account here is history only, and said so."""
    demo, bare = backed_up
    add_trails_by_hand(bare, tmp_path / "by-hand", ["nobody", "ghost"])
    key = demo.workspace.internal / "hmac.key"
    config = restored_config(demo)
    capsys.readouterr()
    code = demo.cli("--config", str(config), "init", "--from", str(bare), "--key", str(key))
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "restored from the administrator's copy" in printed.out
    assert "audit/dana.jsonl: intact" in printed.out
    assert "the emulator answers" in printed.out
    assert "audit/ghost.jsonl: ghost has no account here, so it is history only" in printed.err
    assert "nobody" not in printed.err
    again = Workspace(demo.root / "again")
    assert (again.internal / "hmac.key").read_bytes() == key.read_bytes()
    assert os.stat(again.internal / "hmac.key").st_mode & 0o777 == 0o640
    assert (again.root / ".git" / "hooks" / "pre-commit").is_file()
    assert os.stat(again.audit_dir).st_mode & 0o7777 == 0o3775
    if os.geteuid() == 0:
        assert os.stat(again.trail_path("nobody")).st_uid == pwd.getpwnam("nobody").pw_uid
    assert os.stat(again.trail_path("ghost")).st_uid == os.geteuid()
    capsys.readouterr()
    assert demo.cli("--config", str(config), "audit", "verify") == 1  # ghost's grants nothing
    printed = capsys.readouterr().out
    nobody = "intact" if os.geteuid() == 0 else "NOT TRUSTED"
    assert f"audit/nobody.jsonl: {nobody}" in printed and "audit/dana.jsonl: intact" in printed
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert f"audit/ghost.jsonl: NOT TRUSTED: owned by {me}, but ghost is no account here" in printed
    assert demo.cli("--config", str(config), "drift") == 0


def test_a_new_key_reports_the_acknowledgements_to_renew(
    backed_up: tuple[Demo, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    demo, bare = backed_up
    demo.fast_sheets()
    demo.edit_script(SHEETS[47].dev3_script_id, "\n// vendor hotline (773) 268-4411\n", DEVELOPER)
    assert demo.cli("snapshot", "--sheet", "47") in (0, 1)
    capsys.readouterr()
    assert demo.cli("validate", "--sheet", "47", "--json") == 1
    finding = next(
        f
        for f in json.loads(capsys.readouterr().out)["sheets"][0]["findings"]
        if f["type"] == "PHONE"
    )
    assert demo.cli("acknowledge", "--sheet", "47", "--finding", finding["id"], "--reason",
                    "the vendor's public hotline") == 0  # fmt: skip
    assert demo.cli("--batch") in (0, 1)  # pushed
    config = restored_config(demo)
    capsys.readouterr()
    assert demo.cli("--config", str(config), "init", "--from", str(bare)) == 0
    printed = capsys.readouterr()
    assert "a new HMAC key was made" in printed.out
    assert "1 acknowledgement need renewing" in printed.err
    assert finding["id"] in printed.err and "acknowledge its finding again" in printed.err
    new_key = (demo.root / "again" / ".sheetstage" / "hmac.key").read_bytes()
    assert new_key != (demo.workspace.internal / "hmac.key").read_bytes()


@pytest.mark.parametrize("meddling", ["trail line", "symbolic link"])
def test_a_meddled_backup_is_refused_and_nothing_is_left(
    backed_up: tuple[Demo, Path], tmp_path: Path, meddling: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Someone with write access to the backup rewrites a trail line, or makes roles.toml a
    link for root to follow (chmod), in a new commit."""
    demo, bare = backed_up
    work = git.Repo.clone_from(str(bare), tmp_path / "meddle", branch="main")
    tree = Path(work.working_tree_dir)
    if meddling == "trail line":
        trail = tree / "audit" / "dana.jsonl"
        lines = trail.read_bytes().splitlines(keepends=True)
        lines[0] = lines[0].replace(b'"dana"', b'"dana" ', 1)
        trail.write_bytes(b"".join(lines))
        changed, says = "audit/dana.jsonl", "does not verify: audit/dana.jsonl"
    else:
        secret = tmp_path / "secret"
        secret.write_text("x")
        secret.chmod(0o600)
        (tree / "roles.toml").unlink()
        (tree / "roles.toml").symlink_to(secret)
        changed, says = "roles.toml", "holds a symbolic link (roles.toml)"
    work.index.add([changed])
    work.index.commit("tidy")
    work.remote().push("main").raise_if_error()
    config = restored_config(demo)
    capsys.readouterr()
    assert demo.cli("--config", str(config), "init", "--from", str(bare)) == 1
    err = capsys.readouterr().err
    assert says in err and "nothing was restored" in err
    if meddling == "symbolic link":
        assert secret.stat().st_mode & 0o777 == 0o600
    assert not (demo.root / "again").exists()
    assert not [p for p in demo.root.iterdir() if p.name.startswith(".again.restore-")]


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--key", "KEY"], "is not a sheetstage key"),
        (["--demo"], "--from restores a workspace; --demo makes a new one"),
    ],
)
def test_bad_restore_input_is_one_line_and_leaves_nothing(
    backed_up: tuple[Demo, Path],
    arguments: list[str],
    says: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo, bare = backed_up
    bad_key = demo.root / "not-a-key"
    bad_key.write_text("hello\n")
    arguments = [str(bad_key) if a == "KEY" else a for a in arguments]
    config = restored_config(demo)
    capsys.readouterr()
    assert demo.cli("--config", str(config), "init", "--from", str(bare), *arguments) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0]
    assert not (demo.root / "again").exists()


def test_a_backup_git_cannot_clone_is_named_with_gits_reason(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    config = restored_config(demo)
    missing = demo.root / "no-such-backup.git"
    before = sorted(p.name for p in demo.root.iterdir())
    capsys.readouterr()
    assert demo.cli("--config", str(config), "init", "--from", str(missing)) == 2
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sheet")]
    assert len(said) == 1 and said[0].startswith(f"sheetstage: cannot clone {missing} (fatal: ")
    assert "give the off-site backup's URL or path" in said[0]
    assert sorted(p.name for p in demo.root.iterdir()) == before  # no clone left half-made
