"""Deploys staging -> production, end to end on the demo: review, approval, the seven steps,
backups, rollback and every refusal and fault of the pipeline. Google is the emulator over
real HTTP, git is real; a person's typed `yes` is the one thing a test stands in for (the
approver callback the CLI wires to the terminal)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from services import deploy, rollback, scripttests_job
from services.access import render_roles
from services.emulator.seed import BROKEN_TEST, DEVELOPER, MANAGER, STAGED, demo_sheets
from services.emulator.seed_tests import main_tab
from services.errors import JobFailedError, RefusedError
from services.models import Environment, ScriptFile, Sheet
from services.registry import IdMapper, load_registry
from services.session import Session, session
from services.workspace import current_user
from tests.conftest import Demo

ROOT = Path(__file__).resolve().parents[1]
SHEETS = {s.number: s for s in demo_sheets()}
MAPPER = IdMapper(SHEETS.values())
ME = current_user()
SOMEONE = "someone.else@practice.example"


def yes(proposal: deploy.Proposal) -> bool:
    return True


def no(proposal: deploy.Proposal) -> bool:
    return False


def opened(demo: Demo, as_user: str = "", read_only: bool = False) -> Iterator[Session]:
    return session(demo.config, read_only=read_only, as_user=as_user)


def live(demo: Demo, script_id: str) -> list[dict]:
    store = demo.store()
    try:
        return [
            {k: f[k] for k in ("name", "type", "source")} for f in store.content(script_id)["files"]
        ]
    finally:
        store.close()


def approve(demo: Demo, number: int) -> None:
    with opened(demo) as s:
        deploy.approve(s, str(number), yes)


def request(demo: Demo, number: int, as_user: str = "dana") -> None:
    with opened(demo, as_user) as s:
        deploy.request_review(s, str(number))


def log_rows(demo: Demo, tab: str) -> list[list[str]]:
    store = demo.store()
    try:
        log_id = load_registry(demo.workspace.registry_path).activity_log_spreadsheet_id
        return store.get_values(log_id, f"'{tab}'!A:H").get("values", [])[1:]
    finally:
        store.close()


@pytest.fixture(autouse=True)
def _no_sheets_pacing(snapshotted: Demo) -> None:
    """Validation reads two ranges a sheet; the emulator sets no Sheets quota here."""
    snapshotted.fast_sheets()


@pytest.fixture
def remote(snapshotted: Demo, tmp_path: Path) -> Path:
    """An off-site backup (a local bare repository) in the config."""
    bare = tmp_path / "offsite.git"
    git.Repo.init(bare, bare=True, initial_branch="main").close()
    config = snapshotted.config_path
    config.write_text(config.read_text() + f'\n[git]\nremote = "{bare}"\n')
    return bare


def test_a_staged_sheet_deploys_and_rolls_back_exactly(
    snapshotted: Demo, remote: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = SHEETS[STAGED[0]]
    before = live(snapshotted, sheet.prod_script_id)
    assert snapshotted.cli("deploy", "--sheet", str(sheet.number)) == 5  # not approved yet
    approve(snapshotted, sheet.number)
    capsys.readouterr()

    assert snapshotted.cli("deploy", "--sheet", str(sheet.number)) == 0
    out, err = capsys.readouterr()
    assert "deployed" in out
    for step in ("validate", "diff", "approve", "backup", "deploy", "verify", "log"):
        assert f"{sheet.key} {step}:" in err

    staging = live(snapshotted, sheet.dev3_script_id)
    production = live(snapshotted, sheet.prod_script_id)
    assert [f["name"] for f in production] == [f["name"] for f in staging]
    assert production == [{**f, "source": MAPPER.to_production(f["source"])} for f in staging]

    tags = [t.name for t in snapshotted.workspace.tags("prod-backup-*")]
    assert len(tags) == 1 and tags[0].endswith(f"-sheet-{sheet.key}")
    pushed = git.Repo(remote).git.tag("--list")
    assert tags[0] in pushed.split()
    assert snapshotted.cli("audit", "verify") == 0
    deployments = log_rows(snapshotted, "Deployments")
    assert any(row[3] == "deploy" and row[5] == "ok" for row in deployments)
    with opened(snapshotted) as s:
        assert rollback.rollback_points(s, str(sheet.number))[0].tag == tags[0]

    with opened(snapshotted) as s:
        result = rollback.rollback(s, tags[0], yes)
    assert result.exit_code == 0, result.message
    assert live(snapshotted, sheet.prod_script_id) == before
    assert any(row[3] == "rollback" for row in log_rows(snapshotted, "Rollbacks"))
    assert snapshotted.cli("audit", "verify") == 0


def test_the_deploy_status_follows_request_approval_and_deploy(snapshotted: Demo) -> None:
    from services.state import State

    number = STAGED[1]
    key = f"{number:03d}"
    assert State.load(snapshotted.workspace).data["sheets"][key]["deploy"] == "staged"
    approve(snapshotted, number)
    assert State.load(snapshotted.workspace).data["sheets"][key]["deploy"] == "approved"
    assert snapshotted.cli("deploy", "--sheet", str(number)) == 0
    record = State.load(snapshotted.workspace).data["sheets"][key]
    assert record["deploy"] == "deployed"
    assert record["baseline"] == record["production"]["hash"]
    assert snapshotted.cli("deploy", "--sheet", str(number)) == 2  # nothing left to deploy


# refusals ----------------------------------------------------------------------------------------


def test_a_developer_cannot_deploy(snapshotted: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    approve(snapshotted, STAGED[0])
    assert snapshotted.cli("--as", "dana", "deploy", "--sheet", str(STAGED[0])) == 5
    assert "dana (simulated) with developer" in capsys.readouterr().err


def test_the_requester_cannot_approve_their_own_change(snapshotted: Demo) -> None:
    request(snapshotted, STAGED[2], as_user=ME)  # a practice manager may request, too
    with opened(snapshotted) as s, pytest.raises(RefusedError, match=r"you .* requested"):
        deploy.approve(s, str(STAGED[2]), yes)
    with opened(snapshotted) as s:
        result = deploy.deploy_sheet(s, s.registry.by_number(STAGED[2]), yes)
    assert result.exit_code == 5 and "requested this review" in result.message


@pytest.mark.parametrize("side", ["staging", "production"])
def test_an_approval_goes_stale_when_either_side_moves(snapshotted: Demo, side: str) -> None:
    sheet = SHEETS[STAGED[3]]
    approve(snapshotted, sheet.number)
    if side == "staging":
        snapshotted.edit_script(sheet.dev3_script_id, "\n// later\n", DEVELOPER)
    else:
        snapshotted.edit_script(sheet.prod_script_id, "\n// hotfix\n", SOMEONE)
    before = live(snapshotted, sheet.prod_script_id)
    with opened(snapshotted) as s:
        result = deploy.deploy_sheet(s, sheet, None)
    assert result.exit_code == 5
    assert "stale" in result.message and f"{side} has changed" in result.message
    assert live(snapshotted, sheet.prod_script_id) == before


def test_an_expired_approval_does_not_deploy(snapshotted: Demo) -> None:
    approve(snapshotted, STAGED[0])
    config = snapshotted.config_path
    config.write_text(config.read_text() + "\n[deploy]\napproval_expiry_days = 0.00001\n")
    import time

    time.sleep(1.2)
    assert snapshotted.cli("deploy", "--sheet", str(STAGED[0])) == 5


def test_a_sheet_being_deployed_elsewhere_is_refused(snapshotted: Demo) -> None:
    sheet = SHEETS[STAGED[0]]
    approve(snapshotted, sheet.number)
    with opened(snapshotted) as s, s.workspace.sheet_lock(sheet):
        result = deploy.deploy_sheet(s, sheet, None)
    assert result.exit_code == 5 and "being deployed by another session" in result.message


def test_phi_in_staging_stops_the_deploy_at_validation(snapshotted: Demo) -> None:
    from services.emulator.seed import PHI_LEAKS

    sheet = SHEETS[PHI_LEAKS[0]]
    request(snapshotted, sheet.number)
    before = live(snapshotted, sheet.prod_script_id)
    with opened(snapshotted) as s:
        result = deploy.deploy_sheet(s, sheet, yes)
    assert result.exit_code == 1 and "PHI blocked" in result.message
    assert [o.step for o in result.steps] == [deploy.Step.VALIDATE]
    assert live(snapshotted, sheet.prod_script_id) == before
    assert "Marisol" not in json.dumps(result.as_json())


def test_code_that_does_not_parse_stops_at_validation(snapshotted: Demo) -> None:
    sheet = SHEETS[60]
    snapshotted.edit_script(sheet.dev3_script_id, "\nfunction broken( {\n", DEVELOPER)
    request(snapshotted, sheet.number)
    with opened(snapshotted) as s:
        result = deploy.deploy_sheet(s, sheet, yes)
    assert result.exit_code == 1 and "stopped at validate" in result.message


def test_without_a_terminal_only_an_earlier_approval_deploys(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert snapshotted.cli("deploy", "--sheet", str(STAGED[0])) == 5
    assert "no fresh approval" in capsys.readouterr().err


def test_a_read_only_session_deploys_nothing(snapshotted: Demo) -> None:
    approve(snapshotted, STAGED[0])
    assert snapshotted.cli("--read-only", "deploy", "--sheet", str(STAGED[0])) == 5


def test_a_deployer_whose_google_account_cannot_write_production(snapshotted: Demo) -> None:
    """Roles say practice manager; Google says developer: the second gate stops step 5."""
    workspace = snapshotted.workspace
    accounts = {ME: MANAGER, "dana": DEVELOPER, "pat": DEVELOPER}
    workspace.roles_path.write_text(
        render_roles(ME, accounts, developer=["dana"], practice_manager=["pat"])
    )
    repo = git.Repo(workspace.root)
    repo.index.add(["roles.toml"])
    repo.index.commit("roles: pat joins as practice manager")
    sheet = SHEETS[STAGED[0]]
    approve(snapshotted, sheet.number)
    before = live(snapshotted, sheet.prod_script_id)
    with opened(snapshotted, as_user="pat") as s:
        result = deploy.deploy_sheet(s, sheet, None)
    assert result.exit_code == 1, result.message
    assert "does not have permission" in result.message
    assert live(snapshotted, sheet.prod_script_id) == before


# faults ------------------------------------------------------------------------------------------


def test_google_rejecting_the_code_leaves_production_unchanged(snapshotted: Demo) -> None:
    """V8 refuses a second `let` of one name; a parser that only checks the grammar does not."""
    sheet = SHEETS[70]
    snapshotted.edit_script(sheet.dev3_script_id, "\nlet twice = 1;\nlet twice = 2;\n", DEVELOPER)
    request(snapshotted, sheet.number)
    before = live(snapshotted, sheet.prod_script_id)
    with opened(snapshotted) as s:
        result = deploy.deploy_sheet(s, sheet, yes)
    assert result.exit_code == 1
    assert "Syntax error" in result.message and "production unchanged" in result.message
    assert live(snapshotted, sheet.prod_script_id) == before


def test_a_read_back_that_differs_is_rolled_back_automatically(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = SHEETS[STAGED[0]]
    approve(snapshotted, sheet.number)
    before = live(snapshotted, sheet.prod_script_id)
    snapshotted.set_emulator(f'tampered_scripts = ["{sheet.prod_script_id}"]')
    assert snapshotted.cli("deploy", "--sheet", str(sheet.number)) == 1
    err = capsys.readouterr().err
    assert "rolled back" in err and "ALERT deploy-rolled-back" in err
    snapshotted.set_emulator("")
    assert live(snapshotted, sheet.prod_script_id) == before
    assert snapshotted.cli("audit", "verify") == 0
    assert snapshotted.cli("deploy", "--sheet", str(sheet.number)) == 5  # its approval is used


@dataclass(frozen=True)
class Outcome:
    passed: bool
    summary: str


def test_failing_staging_tests_after_deploy_roll_it_back(snapshotted: Demo) -> None:
    sheet = SHEETS[STAGED[0]]
    approve(snapshotted, sheet.number)
    before = live(snapshotted, sheet.prod_script_id)
    calls: list[Environment] = []

    def tests(s: Session, tested: object, files: object, env: Environment) -> Outcome:
        calls.append(env)
        return Outcome(len(calls) == 1, f"run {len(calls)}")

    with opened(snapshotted) as s:
        result = deploy.deploy_sheet(s, sheet, None, tests=tests)
    assert result.outcome == "rolled-back" and result.exit_code == 1
    # step 1 on DEV3's code, step 6 on what production read back, in production's ids
    assert calls == [Environment.STAGING, Environment.PRODUCTION]
    assert live(snapshotted, sheet.prod_script_id) == before


def test_a_staged_change_that_breaks_a_staging_test_is_stopped_at_step_1(
    snapshotted: Demo,
) -> None:
    sheet = SHEETS[BROKEN_TEST]
    before = live(snapshotted, sheet.prod_script_id)
    with opened(snapshotted) as s:
        with pytest.raises(JobFailedError, match=r"tests/Queue\.gs:\d+: open items"):
            deploy.approve(s, str(sheet.number), yes)
        result = deploy.deploy_sheet(s, sheet, yes)
    assert result.outcome == "stopped" and result.exit_code == 1
    assert [(step.step, step.ok) for step in result.steps] == [(deploy.Step.VALIDATE, False)]
    assert "testRefreshStatusCountsOpenRows at tests/Queue.gs:" in result.steps[0].detail
    assert live(snapshotted, sheet.prod_script_id) == before


def test_a_read_back_failing_its_staging_tests_is_rolled_back(snapshotted: Demo) -> None:
    """The real runner at step 6: the queue's DEV3 rows are emptied between step 1 and the
    read-back (a colleague clearing the tab), so the deployed code's tests fail there."""
    sheet = SHEETS[88]  # staged and tested
    approve(snapshotted, sheet.number)
    before = live(snapshotted, sheet.prod_script_id)

    def tests(s: Session, tested: Sheet, files: Sequence[ScriptFile], env: Environment):  # type: ignore[no-untyped-def]
        if env is Environment.PRODUCTION:
            store = snapshotted.store()
            try:
                tab = main_tab(tested)
                rows = [[""] * 6 for _ in range(8)]
                store.update_values(
                    tested.dev3_spreadsheet_id, [{"range": f"'{tab}'!A2:F9", "values": rows}]
                )
            finally:
                store.close()
        return scripttests_job.staging_tests(s, tested, files, env)

    with opened(snapshotted) as s:
        result = deploy.deploy_sheet(s, sheet, None, tests=tests)
    assert result.outcome == "rolled-back" and result.exit_code == 1
    verify = next(step for step in result.steps if step.step is deploy.Step.VERIFY)
    assert not verify.ok and "has no open rows to count" in verify.detail
    assert live(snapshotted, sheet.prod_script_id) == before


def run_cli(demo: Demo, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sheetstage_tui.cli", "--config", str(demo.config_path), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("point", ["deploy-backup", "deploy-update", "deploy-verify"])
def test_a_deploy_killed_at_a_step_is_settled_by_the_next_command(
    snapshotted: Demo, point: str
) -> None:
    sheet = SHEETS[STAGED[0]]
    approve(snapshotted, sheet.number)
    before = live(snapshotted, sheet.prod_script_id)
    killed = run_cli(snapshotted, "deploy", "--sheet", str(sheet.number), SHEETSTAGE_CRASH_AT=point)
    assert killed.returncode == -9, killed.stderr

    others = run_cli(snapshotted, "--as", "dana", "drift")  # a developer only sees the report
    assert "INTERRUPTED: deploy" in others.stderr and "finished:" not in others.stderr

    after = run_cli(snapshotted, "drift")
    assert "INTERRUPTED: deploy" in after.stderr and "finished:" in after.stderr, after.stderr
    production = live(snapshotted, sheet.prod_script_id)
    staging = [
        {**f, "source": MAPPER.to_production(f["source"])}
        for f in live(snapshotted, sheet.dev3_script_id)
    ]
    if point == "deploy-verify":  # updateContent went through: verified now, and recorded
        assert production == staging
        assert f"{sheet.key}" in after.stdout or "deployed" in after.stderr
    else:  # never sent: production as it was
        assert production == before
    assert not list((snapshotted.workspace.internal / "deploys").glob("*.json"))
    assert run_cli(snapshotted, "audit", "verify").returncode == 0
    assert "INTERRUPTED" not in run_cli(snapshotted, "drift").stderr


def test_a_journal_its_author_never_wrote_is_reported_not_acted_on(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = snapshotted.workspace.internal / "deploys"
    folder.mkdir(parents=True)
    forged = {
        "id": "deploy-012-x",
        "kind": "deploy",
        "sheet": 12,
        "env": "production",
        "user": ME,
        "steps": [{"step": "backup", "event": f"{ME}:999", "time": "2026-01-01T00:00:00Z"}],
        "backup": {"tag": "prod-backup-x", "commit": "0" * 40, "hash": "0" * 64},
    }
    (folder / "deploy-012-x.json").write_text(json.dumps(forged))
    before = live(snapshotted, SHEETS[12].prod_script_id)
    assert snapshotted.cli("drift") == 0
    err = capsys.readouterr().err
    assert "not in" in err and "not acted on" in err
    assert live(snapshotted, SHEETS[12].prod_script_id) == before


def test_ten_sheets_land_through_injected_faults(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    numbers = [n for n in range(100, 130) if n % 3 == 0][:10]
    for number in numbers:
        snapshotted.edit_script(SHEETS[number].dev3_script_id, f"\n// change {number}\n", DEVELOPER)
    with opened(snapshotted, "dana") as s:
        for number in numbers:
            deploy.request_review(s, str(number))
    with opened(snapshotted) as s:
        for number in numbers:
            deploy.approve(s, str(number), yes)
    snapshotted.set_emulator("fault_rate = 0.1")
    args = [arg for n in numbers for arg in ("--sheet", str(n))]
    code = snapshotted.cli("deploy", *args, "--json")
    document = json.loads(capsys.readouterr().out)
    assert code == 0, document
    assert [s["outcome"] for s in document["sheets"]] == ["deployed"] * 10
    snapshotted.set_emulator("")
    for number in numbers:
        sheet = SHEETS[number]
        staging = live(snapshotted, sheet.dev3_script_id)
        assert live(snapshotted, sheet.prod_script_id) == [
            {**f, "source": MAPPER.to_production(f["source"])} for f in staging
        ]


# the ways back -----------------------------------------------------------------------------------


def test_only_tags_matching_their_creators_trail_are_rollback_points(snapshotted: Demo) -> None:
    workspace = snapshotted.workspace
    workspace.tag("prod-backup-2026-01-01-00-00-00-sheet-012", "who: x\nwhy: y\nhash: z\n", "HEAD")
    with opened(snapshotted) as s:
        assert rollback.rollback_points(s) == []
        result = None
        with pytest.raises(Exception, match="not a rollback point"):
            result = rollback.rollback(s, "prod-backup-2026-01-01-00-00-00-sheet-012", yes)
    assert result is None


@pytest.mark.parametrize("way", ["adopt", "revert", "accept"])
def test_a_production_edit_is_adopted_reverted_or_accepted(snapshotted: Demo, way: str) -> None:
    from services.emulator.seed import PROD_MODIFIED

    number = PROD_MODIFIED[0]
    sheet = SHEETS[number]
    edited = live(snapshotted, sheet.prod_script_id)
    with opened(snapshotted) as s:
        if way == "adopt":
            rollback.adopt(s, str(number))
        elif way == "revert":
            assert rollback.revert(s, str(number), yes).exit_code == 0
        else:
            rollback.accept(s, str(number), "the hotfix stays")
    states = {d["sheet"]: d["state"] for d in drift_json(snapshotted)}
    assert states[number] == {"adopt": "in-sync", "revert": "in-sync", "accept": "ahead"}[way]
    if way == "adopt":
        assert live(snapshotted, sheet.prod_script_id) == edited
        assert any(t.name.startswith("staging-backup-") for t in snapshotted.workspace.tags("*"))
    if way == "revert":
        assert live(snapshotted, sheet.prod_script_id) != edited
    assert snapshotted.cli("--batch") in (0, 1)
    states = {d["sheet"]: d["state"] for d in drift_json(snapshotted)}
    assert states[number] != "prod-modified"
    entries = [e for e in snapshotted.trail() if e["action"] == way]
    assert entries and entries[-1]["hashes"]["baseline"]


def drift_json(demo: Demo) -> list[dict]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert demo.cli("drift", "--json") == 0
    return json.loads(out.getvalue())


def test_editing_state_json_does_not_move_a_baseline(snapshotted: Demo) -> None:
    """Neither one an accept set nor one the first snapshot found: the trails hold them."""
    from services.emulator.seed import PROD_MODIFIED

    accepted, untouched = PROD_MODIFIED[1], PROD_MODIFIED[2]
    with opened(snapshotted) as s:
        rollback.accept(s, str(accepted), "keep it")
    path = snapshotted.workspace.state_path
    data = json.loads(path.read_text())
    data["sheets"][f"{accepted:03d}"]["baseline"] = "f" * 64
    record = data["sheets"][f"{untouched:03d}"]
    record["baseline"] = record["production"]["hash"]  # as if production were never edited
    path.write_text(json.dumps(data))
    snapshotted.cli("--batch")
    states = {d["sheet"]: d["state"] for d in drift_json(snapshotted)}
    assert states[accepted] == "ahead" and states[untouched] == "prod-modified"


def test_production_code_holding_phi_is_never_backed_up_and_stops_the_deploy(
    snapshotted: Demo,
) -> None:
    sheet = SHEETS[STAGED[1]]
    approve(snapshotted, sheet.number)
    snapshotted.edit_script(sheet.prod_script_id, "\n// call back SSN 523-71-4086\n", SOMEONE)
    folder = snapshotted.workspace.folder(sheet, Environment.PRODUCTION)
    on_disk = {p.name: p.read_bytes() for p in folder.iterdir()}
    with opened(snapshotted) as s:
        result = deploy.deploy_sheet(s, sheet, yes)
    assert result.exit_code in (1, 5)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == on_disk
    assert b"523-71" not in b"".join(on_disk.values())
    assert snapshotted.cli("--batch") == 1  # the next job still commits (and alerts the PHI)
    assert not snapshotted.workspace.changed_paths(["state.json", "audit"])


def test_a_backup_point_counts_only_from_someone_who_may_restore_it(snapshotted: Demo) -> None:
    """Dana (a developer) writes a chained backup entry and tags a commit of her own: it is no
    production rollback point."""
    workspace = snapshotted.workspace
    head = workspace.head()
    tag = "prod-backup-2026-11-29-00-00-00-sheet-140"
    digest = "a" * 64
    workspace.tag(tag, f"who: dana\nwhy: mine\nhash: {digest}\n", str(head), user="dana")
    with opened(snapshotted, "dana") as s:
        s.trail().append(
            "backup",
            sheets=[140],
            hashes={"tag": tag, "commit": str(head), "hash": digest, "env": "production"},
        )
    with opened(snapshotted) as s:
        assert rollback.rollback_points(s) == []


def _roles_with(demo: Demo, **people: list[str]) -> None:
    """roles.toml with more people, committed (a privileged action trusts only what is)."""
    workspace = demo.workspace
    accounts = {ME: MANAGER, "dana": DEVELOPER, "svc": "scheduler@practice.example"}
    accounts |= {"pat": DEVELOPER}
    workspace.roles_path.write_text(render_roles(ME, accounts, developer=["dana"], **people))
    repo = git.Repo(workspace.root)
    repo.index.add(["roles.toml"])
    repo.index.commit("roles: more people")


def test_the_service_account_deploys_only_what_was_approved(snapshotted: Demo) -> None:
    _roles_with(snapshotted, service_account=["svc"])
    sheet = SHEETS[STAGED[0]]
    assert snapshotted.cli("--as", "svc", "deploy", "--sheet", str(sheet.number)) == 5
    approve(snapshotted, sheet.number)
    assert snapshotted.cli("--as", "svc", "deploy", "--sheet", str(sheet.number)) == 0
    entries = [e for e in snapshotted.trail("svc") if e["action"] == "deploy"]
    assert entries[-1]["result"] == "ok" and entries[-1]["hashes"]["approval"].startswith(ME)


def test_an_approval_in_a_trail_that_does_not_verify_counts_for_nothing(
    snapshotted: Demo,
) -> None:
    _roles_with(snapshotted, service_account=["svc"])
    sheet = SHEETS[STAGED[0]]
    approve(snapshotted, sheet.number)
    path = snapshotted.trail_path()
    lines = path.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'"init"', b'"inet"')  # an edited first line
    path.write_bytes(b"".join(lines))
    before = live(snapshotted, sheet.prod_script_id)
    with opened(snapshotted, as_user="svc") as s:
        result = deploy.deploy_sheet(s, sheet, None)
    assert result.exit_code == 5
    assert "stands in a trail that does not verify" in result.message
    assert live(snapshotted, sheet.prod_script_id) == before


def typed(demo: Demo, answer: str, *args: str, **env: str) -> tuple[int, str]:
    """The CLI on a terminal (a pseudo-terminal as stdin), answering its question."""
    import pty

    primary, secondary = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "sheetstage_tui.cli", "--config", str(demo.config_path), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(secondary)
    os.write(primary, f"{answer}\n".encode())
    out, err = child.communicate(timeout=300)
    os.close(primary)
    return child.returncode, out + err


@pytest.mark.parametrize("answer", ["yes", "y"])
def test_only_a_typed_yes_approves(snapshotted: Demo, answer: str) -> None:
    number = STAGED[0]
    code, printed = typed(snapshotted, answer, "approve", "--sheet", str(number))
    assert "requested by dana" in printed and "risk summary:" in printed
    assert "Type yes to approve" in printed
    approvals = [e for e in snapshotted.trail() if e["action"] == "approve"]
    if answer == "yes":
        assert code == 0 and len(approvals) == 1
    else:
        assert code == 1 and "not approved" in printed and not approvals


def test_a_journal_replaying_a_settled_deploy_is_not_acted_on(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    """A member copies the ids of a finished deploy into a journal whose facts point
    elsewhere: the trail says it was settled, so the practice manager's command does nothing."""
    sheet = SHEETS[STAGED[0]]
    approve(snapshotted, sheet.number)
    assert snapshotted.cli("deploy", "--sheet", str(sheet.number)) == 0
    backup = next(e for e in reversed(snapshotted.trail()) if e["action"] == "backup")
    op = backup["hashes"]["op"]
    forged = {
        "id": op,
        "kind": "deploy",
        "sheet": sheet.number,
        "user": ME,
        "steps": [{"step": "backup", "event": f"{ME}:{backup['seq']}", "time": backup["time"]}],
        "target": "0" * 64,
        "before": "1" * 64,
    }
    folder = snapshotted.workspace.internal / "deploys"
    (folder / f"{op}.json").write_text(json.dumps(forged))
    deployed = live(snapshotted, sheet.prod_script_id)
    capsys.readouterr()
    assert snapshotted.cli("drift") == 0
    assert "INTERRUPTED" not in capsys.readouterr().err
    assert not (folder / f"{op}.json").exists()  # the trail closed it: the file is garbage
    assert live(snapshotted, sheet.prod_script_id) == deployed


def test_an_inline_allow_counts_only_through_the_approval_that_lists_it(
    snapshotted: Demo,
) -> None:
    """The author's `allow-phi` silences the review finding for validation; the approver, who
    is never the requester, reads it with its reason (masked) before typing yes."""
    sheet = SHEETS[STAGED[0]]
    allowed = "\n// fax (312) 794-2281 sheetstage: allow-phi the clinic's public fax line\n"
    snapshotted.edit_script(sheet.dev3_script_id, allowed, "developer@practice.example")
    request(snapshotted, sheet.number)
    shown: list[str] = []

    def reading(proposal: deploy.Proposal) -> bool:
        shown.extend(deploy.describe_proposal(proposal))
        return True

    with opened(snapshotted) as s:
        deploy.approve(s, str(sheet.number), reading)
    text = "\n".join(shown)
    assert "validation: PHI clean" in text
    assert "inline allow-phi, each counting only through this approval:" in text
    assert "PHONE (***) ***-2281: the clinic's public fax line" in text
    assert "794-2281" not in text.replace("***-2281", "")
