"""Entry point inside LatentSync's process: ``python -m pipeline.stages.lipsync.runner ARGS.json``.

Reads the args file alpha wrote, installs the hooks (:mod:`.hooks`), then runs LatentSync's
``scripts/inference.py`` as ``python -m scripts.inference <flags>`` would — its own argparse
parser reads the flags, its ``__main__`` block loads the config and calls ``main(config, args)``
— and finally writes the track (track.npz) and the telemetry sidecar. Exit status 0 only when the encoder finished.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from typing import List, Optional

from . import ARGS_VERSION, EXIT_NO_FRAMES
from . import hooks
from .state import RunnerState


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m pipeline.stages.lipsync.runner ARGS.json", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as handle:
        args = json.load(handle)
    if args.get("version") != ARGS_VERSION:
        print(f"error: args file version {args.get('version')!r}, this runner reads {ARGS_VERSION}",
              file=sys.stderr)
        return 2
    run = RunnerState(args)
    targets = hooks.install(run)
    print(f"alpha runner (pid {os.getpid()}): patched {', '.join(targets)}", flush=True)
    sys.argv = ["scripts/inference.py", *args["argv"]]
    try:
        runpy.run_module("scripts.inference", run_name="__main__", alter_sys=True)
    except hooks.LatentSyncDone:
        pass
    except BaseException:
        run.abort()
        raise
    else:
        run.abort()
        print("error: LatentSync returned without handing its frames to write_video", file=sys.stderr)
        return EXIT_NO_FRAMES
    track = run.write_track()
    if track:
        print(f"alpha runner: track written to {track}", flush=True)
    run.write_telemetry(args["telemetry"])
    print(f"alpha runner: telemetry written to {args['telemetry']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
