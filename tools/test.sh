#!/usr/bin/env bash
# Set up .venv with everything the tests use, then run them (extra arguments go to pytest).
# Also runs the restore engine's tests on what LatentSync's own environment has
# (Python 3.10, numpy 1.26, opencv 4.9), since that code runs inside LatentSync's process.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
pip=(.venv/bin/pip install --quiet --disable-pip-version-check)
# torch first and pinned: the CPU build; an unpinned torch would pull a multi-GB CUDA build.
"${pip[@]}" torch==2.13.0
# ray: the cluster lane (tests/cluster) starts a real Ray cluster.
"${pip[@]}" -e '.[flux,test,ray]'
# The page checkers of tests/site/test_site_standards.py, from the npm registry, pinned: the
# Nu Html Checker (run with the machine's Java) and axe-core (injected into Chromium).
if command -v npm >/dev/null; then
    npm install --prefix .tools --no-audit --no-fund --silent vnu-jar@26.9.27 axe-core@4.14.1
else
    echo "npm not found: the Nu Html Checker and axe-core tests will be skipped" >&2
fi

# LatentSync's own environment for tests/latentsync_real (the real code on CPU).
ALPHA_LATENTSYNC_PYTHON=$(bash tools/latentsync-venv.sh)
export ALPHA_LATENTSYNC_PYTHON

status=0
.venv/bin/pytest "$@" || status=$?

py310=""
for candidate in "$(command -v pyenv >/dev/null && pyenv root)"/versions/3.10*/bin/python3.10 python3.10; do
    if "$candidate" -V >/dev/null 2>&1; then py310=$candidate; fi
done
if [ -n "$py310" ]; then
    "$py310" -m venv .venv-latentsync
    .venv-latentsync/bin/pip install --quiet --disable-pip-version-check \
        numpy==1.26.4 opencv-python-headless==4.9.0.80 scipy==1.11.4 pytest
    # --confcutdir: these tests need only the island and their own fixtures, not the CLI's
    # dependencies that tests/conftest.py brings in.
    .venv-latentsync/bin/python -m pytest --confcutdir=tests/restore -q -p no:cacheprovider \
        tests/restore || status=$?
else
    echo "python3.10 not found: skipped the restore tests on LatentSync's Python/numpy/opencv" >&2
fi
exit $status
