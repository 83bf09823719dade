"""Entry point inside LatentSync's process.

``python -m pipeline.stages.lipsync.runner --serve``
    The warm worker: render every episode requested on stdin with models loaded once
    (:mod:`.serve`).
``python -m pipeline.stages.lipsync.runner ARGS.json``
    One episode, the same way, in a process of its own.

Exit status 0 only when every requested episode's encoders finished.
"""

from __future__ import annotations

import json
import sys
from typing import List, Optional

from .serve import BadArgs, read_args, serve


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--serve"]:
        return serve(sys.stdin)
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m pipeline.stages.lipsync.runner (--serve | ARGS.json)", file=sys.stderr)
        return 2
    try:
        read_args(argv[0])
    except (OSError, ValueError, BadArgs) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return serve([json.dumps({"args": argv[0]})])


if __name__ == "__main__":
    sys.exit(main())
