"""Which of an episode's stale stages a render would take from the run cache instead of running.

A stage is stale when its key differs from the lock's record; it still costs nothing when an
earlier render (one the quality gate stopped, or one with the same settings before) left its
outputs in the store. Only keys and stat-cached hashes are compared: nothing runs.
"""

from __future__ import annotations

from typing import Any

from ..store import RunCache
from .hashing import HashCache
from .plan import EpisodePlan, key_digest


def cached_stages(plan: EpisodePlan, recorded: dict[str, Any], runs: RunCache, hashes: HashCache) -> set[str]:
    """Names of the plan's stale stages whose run is in the cache with its outputs intact.

    `recorded` is the lock entry's "stages" (empty for a new episode). The walk stops at the
    first stage that must really run: every stage after it depends on outputs not made yet.
    """
    produced: dict[str, str] = {}  # "<stage>.<output>" -> content hash
    cached: set[str] = set()
    for stage_plan in plan.stages:
        name = stage_plan.stage.name
        if stage_plan.run:
            upstream = {key: digest for key, digest in produced.items()
                        if key.split(".", 1)[0] in stage_plan.stage.upstream}
            hit = runs.get(key_digest(name, stage_plan.key, upstream))
            if hit is None or any(hashes.hash_if_exists(value["path"]) != value["hash"]
                                  for value in hit["outputs"].values()):
                break
            cached.add(name)
            outputs = hit["outputs"]
        else:
            outputs = (recorded.get(name) or {}).get("outputs") or {}
        for output, value in outputs.items():
            produced[f"{name}.{output}"] = value["hash"]
    return cached
