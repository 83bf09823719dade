"""`alpha serve`: build a preview, serve it, rebuild on every change, reload open pages.

The preview is built into `.alpha/preview/` (never into site.output), so that previewing
drafts cannot leave them in the folder a deploy publishes.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from ..errors import Failure, UserError
from ..workspace import open_workspace
from .server import Reloader, SiteServer, watch_project

PREVIEW_DIR = "preview"


class Preview:
    """A built preview, its server and its watcher; `start()` returns once the server listens."""

    def __init__(self, project_dir: Path | None, host: str = "127.0.0.1", port: int = 8000,
                 drafts: bool = False, say: Callable[[str], None] | None = None,
                 complain: Callable[[str], None] | None = None, log_requests: bool = False):
        project = open_workspace(project_dir).project
        self.root = project.root
        self.name = project.settings.name
        self.output = project.state_dir / PREVIEW_DIR
        self.drafts = drafts
        self.say = say or (lambda message: None)
        self.complain = complain or self.say
        self.reloader = Reloader()
        self.builds = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        try:
            self.server = SiteServer(self.output, host, port, self.reloader,
                                     log=self.say if log_requests else None,
                                     link_targets=(project.state_dir / "store",))
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                            "pass another --port") from None
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return self.server.url

    def rebuild(self, changed: list[str] | None = None) -> bool:
        from .build import build_site

        with self._lock:
            if changed:
                shown = ", ".join(str(Path(path).relative_to(self.root)) for path in changed[:3])
                self.say(f"changed: {shown}{' …' if len(changed) > 3 else ''}; rebuilding")
            try:
                result = build_site(self.root, drafts=self.drafts, output=self.output)
            except (UserError, Failure) as exc:
                self.complain(str(exc))
                self.reloader.failed(str(exc))
                return False
            except Exception as exc:  # noqa: BLE001 - a bug in one build must not stop the watcher
                from ..crash import describe_unexpected

                message = f"the build failed: {describe_unexpected(exc)}"
                self.complain(message)
                self.reloader.failed(message)
                return False
            self.builds += 1
            for message in result.warnings:
                self.complain(message)
            self.say(f"built {result.pages} pages in {result.seconds:.2f} s (build {result.build_id[:12]})")
            self.reloader.built(result.build_id)
            return True

    def start(self, watch: bool = True) -> "Preview":
        self.rebuild()
        serving = threading.Thread(target=self.server.serve_forever, name="alpha-serve", daemon=True)
        serving.start()
        self._threads.append(serving)
        if watch:
            ready = threading.Event()
            watcher = threading.Thread(target=watch_project, args=(self.root, self.rebuild, self._stop, ready),
                                       name="alpha-watch", daemon=True)
            watcher.start()
            self._threads.append(watcher)
            ready.wait(15.0)
        return self

    def wait(self) -> None:
        """Block until interrupted (Ctrl-C) or stopped."""
        try:
            while not self._stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
