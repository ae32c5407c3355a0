"""`sheetstage emulator --port P` serves the emulator until interrupted."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

from tests.conftest import Demo


def test_standalone_emulator_serves_googles_error_json_and_stops_on_ctrl_c(demo: Demo) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sheetstage_tui.cli",
            "--config",
            str(demo.config_path),
            "emulator",
            "--port",
            "0",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        match = re.search(r"serving on (http://127\.0\.0\.1:\d+/)", first)
        assert match, first
        assert "token_uri" in process.stderr.readline()
        try:
            urllib.request.urlopen(match.group(1) + "v1/projects/x", timeout=5)
        except urllib.error.HTTPError as error:
            assert error.code == 401
            assert json.loads(error.read())["error"]["status"] == "UNAUTHENTICATED"
        token = json.loads((demo.root / ".sheetstage-emulator" / "token.json").read_text())
        assert token["refresh_token"]
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
