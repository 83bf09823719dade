"""The command runs on exactly what pyproject.toml declares: nothing the test venv happens to
hold through an extra (click came only with ray) may be imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Modules that only optional extras or test tools bring; the base install has none of them.
UNDECLARED = ["click", "ray", "torch", "diffusers", "transformers", "selenium", "pytest"]


def test_the_cli_runs_without_modules_it_does_not_declare(tmp_path: Path):
    script = ("import sys\n"
              f"for name in {UNDECLARED!r}: sys.modules[name] = None\n"
              "from pipeline.cli import main\n"
              "sys.argv = ['alpha', 'status']\n"
              "main()\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    # No project here: a usage error from the wrapper, not an ImportError traceback.
    assert result.returncode == 2, result.stderr
    assert "alpha.yaml" in result.stderr and "Traceback" not in result.stderr
