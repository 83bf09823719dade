"""Test hooks: pause or kill a deploy at named points, to prove it survives being killed anywhere.

`ALPHA_DEPLOY_TEST_HOOK="point=action[,action...];point2=..."`, where a point is one of
`locked`, `store`, `tree`, `html` (after each upload pass), `manifest`, `finalized`, `switched`,
`pruned`, `collected`, or `store:N` / `tree:N` / `html:N` (after the Nth file of a pass), and
an action is `kill` (SIGKILL this process), `sleep:SECONDS`, `touch:FILE` (create FILE) or
`wait:FILE` (wait up to 60 s for FILE to exist). Unset in normal use: then every call is a no-op.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

ENV = "ALPHA_DEPLOY_TEST_HOOK"


class Hooks:
    def __init__(self, spec: str | None = None):
        spec = os.environ.get(ENV, "") if spec is None else spec
        self.actions: dict[str, list[str]] = {}
        for item in filter(None, (part.strip() for part in spec.split(";"))):
            point, _, actions = item.partition("=")
            self.actions[point.strip()] = [a.strip() for a in actions.split(",") if a.strip()]

    def __bool__(self) -> bool:
        return bool(self.actions)

    def at(self, point: str, count: int | None = None) -> None:
        key = point if count is None else f"{point}:{count}"
        for action in self.actions.get(key, ()):
            verb, _, argument = action.partition(":")
            if verb == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif verb == "sleep":
                time.sleep(float(argument))
            elif verb == "touch":
                Path(argument).touch()
            elif verb == "wait":
                deadline = time.monotonic() + 60
                while not Path(argument).exists() and time.monotonic() < deadline:
                    time.sleep(0.01)
