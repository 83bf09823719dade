"""`alpha doctor --cluster`: the local doctor's checks, run on every host of a Ray cluster.

Each live node gets one tiny task pinned to it (`NodeAffinitySchedulingStrategy`, not soft),
which runs the same checks as `alpha doctor` with that host's own settings. On top come what
only a cluster needs: the same Ray and Python versions as the controller's (Ray refuses a
Python that differs even in its patch level), and, when an episode uses LatentSync, hosts that
offer the `latentsync` resource and GPUs.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any

from ..doctor import FAIL, INFO, OK, Check
from ..project.model import Project
from .backend import LATENTSYNC_RESOURCE, Connection

REPORT_TIMEOUT_S = 300


@dataclass
class HostReport:
    name: str
    checks: list[Check]


def check_cluster(address: str, project: Project | None) -> list[HostReport]:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from .worker import host_report

    connection = Connection(address)
    ray = connection.ray
    try:
        nodes = [node for node in ray.nodes() if node["Alive"]]
        pending = [(node, host_report.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
            node["NodeID"], soft=False)).remote(project)) for node in nodes]
        reports = []
        for node, ref in pending:
            reports.append(_host(node, ref, ray, project))
        reports.append(_cluster_wide(nodes, project))
        return reports
    finally:
        connection.close()


def _host(node: dict[str, Any], ref, ray, project: Project | None) -> HostReport:
    node_id = node["NodeID"]
    try:
        found = ray.get(ref, timeout=REPORT_TIMEOUT_S)
    except Exception as exc:  # the host could not run even a tiny task: say so, per host
        cause = getattr(exc, "cause", None) or exc
        return HostReport(f"node {node_id[:12]}", [Check("Ray task", FAIL, f"{type(cause).__name__}: {cause}")])
    name = f"{found['name'] or found['hostname']} (node {node_id[:12]})"
    checks = [Check(**check) for check in found["checks"]]
    checks.insert(0, _same("Ray version", found["ray"], ray.__version__))
    checks.insert(1, _same("Python version", found["python"], platform.python_version()))
    resources = node["Resources"]
    detail = (f"{resources.get('GPU', 0):g} GPU(s), {resources.get('CPU', 0):g} CPU(s), "
              f"latentsync resource: {resources.get(LATENTSYNC_RESOURCE, 0):g}; host file: "
              f"{found['host_file'] or 'none (defaults)'}")
    checks.insert(2, Check("Ray resources", INFO, detail, required=False))
    return HostReport(name, checks)


def _same(what: str, there: str, here: str) -> Check:
    if there == here:
        return Check(what, OK, f"{there}, as on this controller")
    return Check(what, FAIL, f"{there} here, {here} on the controller: every host must run the same",
                 "install the same Python and alpha-pipeline[ray] versions on every host")


def _cluster_wide(nodes: list[dict[str, Any]], project: Project | None) -> HostReport:
    needs_latentsync = project is not None and any(
        e.settings.lipsync.backend == "latentsync" for e in project.episodes.values())
    offering = [n for n in nodes if n["Resources"].get(LATENTSYNC_RESOURCE, 0) >= 1 and n["Resources"].get("GPU", 0) >= 1]
    status = OK if offering else (FAIL if needs_latentsync else INFO)
    detail = f"{len(nodes)} live node(s); {len(offering)} offer a GPU and the {LATENTSYNC_RESOURCE} resource"
    fix = (f"on each GPU host: ray start --address=HEAD:PORT --num-gpus=N "
           f"--resources='{{\"{LATENTSYNC_RESOURCE}\": 1}}'") if not offering else ""
    return HostReport("the cluster", [Check("LatentSync hosts", status, detail, fix, required=needs_latentsync)])
