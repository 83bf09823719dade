"""`alpha build site [--drafts]`: (re)generate the static site into site.output."""

from __future__ import annotations

from pathlib import Path

from ..console import info, warn


def build_site(project_dir: Path | None, drafts: bool = False, portable: bool | None = None) -> int:
    from ..site.build import build_site as build

    result = build(project_dir, drafts=drafts, portable=portable)
    for message in result.warnings:
        warn(message)
    report(result, drafts)
    return 0


def report(result, drafts: bool) -> None:
    hidden = result.hidden
    parts = []
    if hidden["unrendered"]:
        parts.append(f"{len(hidden['unrendered'])} episode{'s' if len(hidden['unrendered']) != 1 else ''} "
                     f"not rendered yet ({', '.join(hidden['unrendered'][:3])}"
                     f"{', …' if len(hidden['unrendered']) > 3 else ''})")
    if hidden["draft"] or hidden["scheduled"]:
        parts.append(f"{len(hidden['draft'])} draft{'s' if len(hidden['draft']) != 1 else ''} and "
                     f"{len(hidden['scheduled'])} scheduled item{'s' if len(hidden['scheduled']) != 1 else ''} "
                     "left out (--drafts shows them)")
    info(f"built {result.pages} pages ({result.episodes} episodes, {result.posts} posts) into "
         f"{result.output} in {result.seconds:.2f} s; build {result.build_id[:12]}"
         + (" [with drafts]" if drafts else ""))
    if parts:
        info("; ".join(parts))
