"""Rendering pages in forked worker processes, where that pays.

The renderer and the job list are left in a module global before the fork, so that workers
inherit them instead of receiving them pickled; only the chunk bounds and the results travel.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import Any, Callable

PARALLEL_MIN_PAGES = 400
_CHUNK = 64
_SHARED: tuple | None = None  # (render one job, jobs), inherited by forked workers


def worker_count(pages: int) -> int:
    """Worker processes for `pages` pages: forked, so only where fork is safe and cheap (POSIX,
    no other thread running: `alpha serve` renders in one process) and the site is big enough.
    ALPHA_SITE_WORKERS overrides (1 turns it off)."""
    wanted = os.environ.get("ALPHA_SITE_WORKERS")
    if wanted is not None:
        count = max(1, int(wanted)) if wanted.isdigit() else 1
    else:
        # On two cores the pickling and the fork eat the gain (measured): four and up only.
        cpus = os.cpu_count() or 1
        count = min(cpus, 8) if cpus >= 4 and pages >= PARALLEL_MIN_PAGES else 1
    if count > 1 and ("fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1):
        return 1
    return count


def render_all(render: Callable[[Any], Any], jobs: list) -> list:
    """`render(job)` for every job, in order; in workers when `worker_count` says so."""
    workers = worker_count(len(jobs))
    if workers <= 1:
        return [render(job) for job in jobs]
    global _SHARED
    _SHARED = (render, jobs)
    try:
        chunks = [(start, min(start + _CHUNK, len(jobs))) for start in range(0, len(jobs), _CHUNK)]
        results: list = []
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for part in pool.imap(_render_chunk, chunks):
                results.extend(part)
        return results
    finally:
        _SHARED = None


def _render_chunk(bounds: tuple[int, int]) -> list:
    render, jobs = _SHARED
    return [render(job) for job in jobs[bounds[0]:bounds[1]]]
