"""README's tour, run as a script: every line of its code block, as written, in a fresh project.

The real `alpha` executable of this environment runs each line in bash. Two liberties, both
about the machine rather than the tour: `alpha serve` gets a free port (8000 may be taken on
a shared machine) and is stopped with Ctrl-C once it answers, and the demo renders on the
`none` backend to keep the test short (tests/stages cover the preview model).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ALPHA_BIN = Path(sys.executable).parent

# The documented exit codes that are not 0: `--check` says "stale" with 1 on a fresh project.
EXPECTED_EXIT = {"alpha status --json --check": 1}


def tour_lines() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text.split("## A tour", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split(" #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_serve(command: str, root: Path, env: dict) -> int:
    port = free_port()
    server = subprocess.Popen(["bash", "-c", f"exec {command} --port {port}"], cwd=root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    assert response.status == 200 and b"<html" in response.read().lower()
                    break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "alpha serve never answered"
                time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    return 0 if server.returncode in (0, 130) else server.returncode


def test_readme_tour_runs_as_written(tmp_path):
    env = {"PATH": f"{ALPHA_BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    subprocess.run([str(ALPHA_BIN / "alpha"), "init", str(tmp_path / "show")], env=env, check=True,
                   capture_output=True)
    root = tmp_path / "show"
    config = root / "alpha.yaml"
    config.write_text(config.read_text().replace("backend: preview", "backend: none"))

    lines = tour_lines()
    assert lines[0] == "alpha status" and "alpha render ep02 --force" in lines
    for line in lines:
        command = line.replace("DIR", str(tmp_path / "another"))
        if line.startswith("alpha serve"):
            code = run_serve(command, root, env)
        else:
            done = subprocess.run(["bash", "-c", command], cwd=root, env=env, capture_output=True,
                                  text=True, timeout=600)
            code = done.returncode
            assert "Traceback" not in done.stderr, f"{line}:\n{done.stderr}"
        assert code == EXPECTED_EXIT.get(line, 0), f"`{line}` exited {code}"

    lock = json.loads((root / "alpha.lock").read_text())["episodes"]
    assert set(lock) == {"ep01-hello", "ep02-the-seam", "ep03-rain"}
    assert lock["ep02-the-seam"]["version"] == 1  # the forced re-render made the same bytes
    assert (root / "proofs/ep02-the-seam/frame@3.2s.png").is_file()
    build_id = json.loads((root / "site/build.json").read_text())["build_id"]
    live = root / ".alpha/www/current"
    assert json.loads((live / "build.json").read_text())["build_id"] == build_id
    assert (tmp_path / "another/alpha.yaml").is_file()
