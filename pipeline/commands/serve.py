"""`alpha serve [--port N] [--drafts]`: preview the site on 127.0.0.1 with live reload."""

from __future__ import annotations

from pathlib import Path

from ..console import error, info


def serve(project_dir: Path | None, port: int = 8000, drafts: bool = False, host: str = "127.0.0.1") -> int:
    from ..site.preview import Preview

    preview = Preview(project_dir, host=host, port=port, drafts=drafts, say=info, complain=error)
    preview.start()
    info(f"serving {preview.name} at {preview.url}" + (" with drafts" if drafts else "")
         + "; rebuilding on changes to alpha.yaml, episodes/, posts/, templates/ and alpha.lock "
           "(Ctrl-C stops)")
    try:
        preview.wait()
    finally:
        preview.stop()
    return 0
