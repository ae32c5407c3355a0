"""Deploys against the emulator at 250 ms a call (DESIGN.md "Budgets"): one deploy with all
seven steps (its approval given beforehand, so excluded), one rollback (the typed `yes`
answered at once), and ten sheets deployed in one command.

Prints one JSON line. The baseline, measured in the same process against the same emulator:
the Google calls no deploy can do without (both projects read, one updateContent, one
read-back, the sheet's DEV3 data and production reference) made one after another. Ten
sheets are held to ten such floors plus the Sheets read-quota floor of the reads the command
makes (60 a minute, counted as Google counts them: the reads beyond one minute's quota wait).

    python benchmarks/deploy.py [--latency-ms 250]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services import deploy, rollback
from services.config import load_config_file
from services.emulator.seed import DEVELOPER, STAGED, demo_sheets
from services.emulator.store import EmulatorStore
from services.session import session
from sheetstage_tui.cli import main as cli

BUDGETS_S = {"deploy": 5.0, "rollback": 5.0, "ten": 30.0}
SHEETS_READS_PER_MINUTE = 60


def write_config(root: Path, latency_ms: int) -> Path:
    path = root / "config.toml"
    path.write_text(
        'backend = "emulator"\nworkspace = "workspace"\n'
        f"[emulator]\nlatency_ms = {latency_ms}\n"
        "[client]\nbackoff_initial_s = 0.05\nbackoff_cap_s = 0.5\n"
    )
    path.chmod(0o644)
    return path


def quiet(*args: str) -> int:
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        return cli(list(args))


def prepare(root: Path, numbers: list[int]) -> Path:
    """The demo, snapshotted; each sheet changed in DEV3, its review requested by the
    simulated developer and approved by the practice manager (at no latency: not measured)."""
    config = write_config(root, 0)
    fast = config.read_text().replace("[client]\n", "[client]\nsheets_requests_per_minute = 6000\n")
    config.write_text(fast)
    assert quiet("--config", str(config), "init", "--demo") == 0
    quiet("--config", str(config), "--batch")
    sheets = {s.number: s for s in demo_sheets()}
    store = EmulatorStore(root / ".sheetstage-emulator" / "emulator.sqlite3")
    for number in numbers:
        if number in STAGED:
            continue
        files = store.content(sheets[number].dev3_script_id)["files"]
        files[1]["source"] += f"\n// change {number}\n"
        store.update_content(sheets[number].dev3_script_id, files, DEVELOPER)
    store.close()
    loaded = load_config_file(config)
    for number in numbers:
        if number not in STAGED:
            with session(loaded, as_user="dana") as opened:
                deploy.request_review(opened, str(number))
        with session(loaded) as opened:
            deploy.approve(opened, str(number), lambda proposal: True)
    return config


def floor_one(config: Path, number: int) -> float:
    """The calls one deploy cannot do without, made one after another."""
    sheet = {s.number: s for s in demo_sheets()}[number]
    with session(load_config_file(config)) as opened:
        client = opened.client
        started = time.perf_counter()
        client.get_content(sheet.dev3_script_id)
        production = client.get_content(sheet.prod_script_id)
        client.update_content(sheet.prod_script_id, production["files"])
        client.get_content(sheet.prod_script_id)
        for spreadsheet in (sheet.dev3_spreadsheet_id, sheet.prod_spreadsheet_id):
            client.batch_get_values(spreadsheet, list(sheet.reference_ranges or ["Sheet1!A1"]))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, default=250)
    args = parser.parse_args()
    single = STAGED[0]
    ten = [n for n in range(100, 140) if n not in (119,)][:10]
    with tempfile.TemporaryDirectory(prefix="sheetstage-deploy-") as folder:
        root = Path(folder)
        config = prepare(root, [single, *ten])
        write_config(root, args.latency_ms)
        loaded = load_config_file(config)

        with session(loaded) as opened:
            started = time.perf_counter()
            [one] = deploy.deploy(opened, [str(single)], None)
            deploy_s = time.perf_counter() - started
        assert one.outcome == "deployed", one.message
        baseline_s = floor_one(config, single)

        with session(loaded) as opened:
            started = time.perf_counter()
            back = rollback.rollback(opened, one.backup_tag, lambda proposal: True)
            rollback_s = time.perf_counter() - started
        assert back.exit_code == 0, back.message

        with session(loaded) as opened:
            reads = sum(2 for n in ten if opened.registry.by_number(n).reference_ranges) + 1
            started = time.perf_counter()
            results = deploy.deploy(opened, [str(n) for n in ten], None)
            ten_s = time.perf_counter() - started
        assert [r.outcome for r in results] == ["deployed"] * 10, [r.message for r in results]
    quota_floor_s = max(0, reads - SHEETS_READS_PER_MINUTE) * 60 / SHEETS_READS_PER_MINUTE
    ten_floor_s = 10 * baseline_s + quota_floor_s
    print(
        json.dumps(
            {
                "name": "deploy",
                "latency_ms": args.latency_ms,
                "one_deploy_s": round(deploy_s, 2),
                "one_deploy_floor_s": round(baseline_s, 2),
                "one_deploy_ratio": round(deploy_s / baseline_s, 2),
                "rollback_s": round(rollback_s, 2),
                "ten_sheets_s": round(ten_s, 2),
                "ten_sheets_sheets_reads": reads,
                "ten_sheets_quota_floor_s": round(quota_floor_s, 2),
                "ten_sheets_floor_s": round(ten_floor_s, 2),
                "ten_sheets_ratio": round(ten_s / ten_floor_s, 2),
                "budgets_s": BUDGETS_S,
                "within_budget": deploy_s < BUDGETS_S["deploy"]
                and rollback_s < BUDGETS_S["rollback"]
                and ten_s < BUDGETS_S["ten"]
                and ten_s <= 1.2 * ten_floor_s,
            }
        )
    )


if __name__ == "__main__":
    main()
