"""Pacing under a quota: with the emulator limited to Q calls a minute, a full snapshot must
take no more than 1.2 x (calls / Q) minutes and see nearly no 429s (pace, don't bounce).

Prints one JSON line. By default a first snapshot of 40 sheets (80 projects, each read with
getContent alone) at Q = 60: more calls than one minute admits, so the pacer must wait for
the window once (about a minute); `--sheets 235 --quota 100` is a longer run (about five).

    python benchmarks/quota.py [--quota 60] [--sheets 40]
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

from services import jobs
from services.config import load_config_file
from services.models import Environment
from services.session import session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quota", type=int, default=60)
    parser.add_argument("--sheets", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sheetstage-quota-") as folder:
        config_path = Path(folder) / "config.toml"
        config_path.write_text(
            f'backend = "emulator"\nworkspace = "workspace"\n'
            f"[emulator]\nquota_per_minute = {args.quota}\n"
        )
        config = load_config_file(config_path)
        jobs.init_workspace(config, demo=True)
        numbers = [str(n) for n in range(args.sheets)]
        with session(config) as opened:
            gate = opened.backend.emulator.gate  # type: ignore[union-attr]
            before = dict(gate.counts)
            started = time.perf_counter()
            with contextlib.redirect_stderr(io.StringIO()):
                result = jobs.run_snapshot(opened, list(Environment), numbers)
            elapsed = time.perf_counter() - started
            by_api = {
                key.removeprefix("api:"): count - before.get(key, 0)
                for key, count in gate.counts.items()
                if key.startswith("api:") and count > before.get(key, 0)
            }
            calls = sum(by_api.values())
            bounced = gate.counts["429-quota"]
    # each API has its own quota: the floor is the busiest API's minutes
    allowed = 1.2 * max(by_api.values()) / args.quota * 60
    print(
        json.dumps(
            {
                "name": "quota",
                "quota_per_minute": args.quota,
                "projects": sum(result.report.checked.values()),
                "calls": calls,
                "calls_by_api": by_api,
                "elapsed_s": round(elapsed, 2),
                "budget_s": round(allowed, 2),
                "ratio": round(elapsed / allowed, 2),
                "quota_429s": bounced,
                "failed": len(result.report.failures),
                "within_budget": elapsed <= allowed and bounced <= max(1, calls // 100),
            }
        )
    )


if __name__ == "__main__":
    main()
