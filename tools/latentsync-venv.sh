#!/usr/bin/env bash
# Build (or reuse) LatentSync's own Python environment for the real-code test lane and print
# the path of its python. The venv lives in .venv-latentsync-real/ (gitignored) and is reused
# only while it was built from the same requirement list and script (a hash kept inside it);
# anything else rebuilds it from scratch, so nothing depends on a stale cache (CI builds fresh).
#   usage: tools/latentsync-venv.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv-latentsync-real}
requirements=tools/latentsync-real-requirements.txt
key=$(cat "$requirements" "$0" | sha256sum | cut -d' ' -f1)
stamp="$venv/.alpha-requirements.sha256"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && "$venv/bin/python" -c "import torch, diffusers" 2>/dev/null; then
    echo "$PWD/$venv/bin/python"
    exit 0
fi
rm -rf "$venv"
# torch 2.13.0's CPU build exists for CPython 3.11 only; LatentSync's code runs on it unchanged.
python3.11 -m venv "$venv"
pip=("$venv/bin/pip" install --quiet --disable-pip-version-check)
# torch first and pinned: the CPU build from local disk; an unpinned torch pulls a CUDA build.
"${pip[@]}" torch==2.13.0 >&2
"${pip[@]}" -r "$requirements" >&2
echo "$key" > "$stamp"
echo "$PWD/$venv/bin/python"
