"""The preview server: static files with Range requests, symlinks followed, live reload.

`SiteServer` serves one folder (the built site) on 127.0.0.1. It follows the site's symlinks
into the store, answers `Range: bytes=...` with 206 (Safari refuses video from servers that do
not), serves `404.html` for missing paths, and, when given a `Reloader`, adds a small script to
every HTML page that listens on `/__alpha/events` (server-sent events) and reloads the page
when a new build is in place. The built files themselves never contain that script.

`watch_project()` rebuilds on changes to alpha.yaml, episodes/, posts/, templates/ and
alpha.lock (a finished render), with watchfiles.
"""

from __future__ import annotations

import email.utils
import html
import mimetypes
import os
import posixpath
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

EVENTS_PATH = "/__alpha/events"
_CHUNK = 1 << 16
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
TYPES = {
    ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".json": "application/json",
    ".xml": "application/xml; charset=utf-8", ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".webp": "image/webp", ".mp4": "video/mp4", ".m4a": "audio/mp4", ".webm": "video/webm",
    ".vtt": "text/vtt; charset=utf-8", ".wav": "audio/wav", ".ico": "image/x-icon",
}

RELOAD_SCRIPT = """<script>
(function () {
  if (!window.EventSource) return;
  var meta = document.querySelector('meta[name="alpha-build"]');
  var shown = meta ? meta.getAttribute("content") : "";
  var source = new EventSource("%s");
  source.addEventListener("build", function (event) {
    if (event.data && event.data !== shown) location.reload();
  });
  source.addEventListener("failed", function (event) {
    var box = document.getElementById("alpha-build-error") || document.createElement("pre");
    box.id = "alpha-build-error";
    box.setAttribute("role", "alert");
    box.style.cssText = "position:fixed;left:0;right:0;bottom:0;margin:0;max-height:40vh;overflow:auto;" +
      "padding:1rem;background:#7f1d1d;color:#fff;font:13px/1.4 monospace;z-index:9999;white-space:pre-wrap";
    box.textContent = "alpha build failed (the page shows the last good build):\\n" + event.data;
    document.body.appendChild(box);
  });
  source.addEventListener("ok", function () {
    var box = document.getElementById("alpha-build-error");
    if (box) box.remove();
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
</script>
""" % EVENTS_PATH


class Reloader:
    """The state live reload reports: the current build id, or the last build's error."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.generation = 0
        self.build_id = ""
        self.error: str | None = None
        self.closed = False

    def built(self, build_id: str) -> None:
        with self._condition:
            self.build_id, self.error = build_id, None
            self.generation += 1
            self._condition.notify_all()

    def failed(self, message: str) -> None:
        with self._condition:
            self.error = message
            self.generation += 1
            self._condition.notify_all()

    def close(self) -> None:
        with self._condition:
            self.closed = True
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        with self._condition:
            if self.generation == seen and not self.closed:
                self._condition.wait(timeout)
            return self.generation


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 8000,
                 reloader: Reloader | None = None, log: Callable[[str], None] | None = None,
                 link_targets: tuple[Path, ...] = ()):
        self.root = Path(root)
        # Where the site's symlinks may lead (the store): a link out of these is never followed.
        self.link_targets = tuple(Path(folder) for folder in link_targets)
        self.reloader = reloader
        self.log = log
        super().__init__((host, port), SiteHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def shutdown(self) -> None:
        if self.reloader is not None:
            self.reloader.close()
        super().shutdown()


class SiteHandler(BaseHTTPRequestHandler):
    server: SiteServer
    server_version = "alpha-serve"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's naming)
        self._respond(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(head=True)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if self.server.log is not None:
            self.server.log(format % args)

    # --- routing -------------------------------------------------------------------------

    def _respond(self, head: bool) -> None:
        try:
            if not _local_host(self.headers.get("Host")):
                # A page elsewhere that rebinds its own name to 127.0.0.1 sends its name here.
                self._send_page(HTTPStatus.MISDIRECTED_REQUEST,
                                error_page("this preview answers only to localhost and 127.0.0.1"), head)
                return
            path = unquote(urlsplit(self.path).path)
            if path == EVENTS_PATH and self.server.reloader is not None:
                self._events()
                return
            reloader = self.server.reloader
            if reloader is not None and reloader.error and not os.path.isdir(self.server.root):
                self._error_page(reloader.error, head)
                return
            target = self._translate(path)
            if target is None:
                self._not_found(head)
                return
            if os.path.isdir(target):
                if not path.endswith("/"):
                    self._redirect(urlsplit(self.path).path + "/")
                    return
                target = os.path.join(target, "index.html")
                if not os.path.isfile(target):
                    self._not_found(head)
                    return
            if not os.path.isfile(target) or not self._allowed(target):
                self._not_found(head)  # a dangling link, or one that leads out of the site
                return
            self._file(target, head)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    def _translate(self, path: str) -> str | None:
        """The file for a URL path, or None when it leaves the site folder."""
        normal = posixpath.normpath(path)
        parts = [part for part in normal.split("/") if part and part not in (".", "..")]
        if any(part.startswith(".") and part != ".well-known" for part in parts) or "\0" in normal:
            return None
        return os.path.join(self.server.root, *parts)

    def _allowed(self, target: str) -> bool:
        """Whether `target`, its symlinks followed, stays in the site folder or the store."""
        real = os.path.realpath(target)
        for folder in (self.server.root, *self.server.link_targets):
            base = os.path.realpath(folder)
            if real == base or real.startswith(base.rstrip(os.sep) + os.sep):
                return True
        return False

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _not_found(self, head: bool) -> None:
        page = os.path.join(self.server.root, "404.html")
        if os.path.isfile(page):
            with open(page, "rb") as stream:
                body = self._with_reload(stream.read())
        else:
            body = b"<!doctype html><title>Not found</title><h1>Not found</h1>"
        self._send_page(HTTPStatus.NOT_FOUND, body, head)

    def _error_page(self, message: str, head: bool) -> None:
        self._send_page(HTTPStatus.SERVICE_UNAVAILABLE, self._with_reload(error_page(message) + b"</body>"), head)

    def _send_page(self, status: HTTPStatus, body: bytes, head: bool) -> None:
        """An uncached HTML response (the preview's own pages: 404, build errors)."""
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    # --- files ---------------------------------------------------------------------------

    def _file(self, target: str, head: bool) -> None:
        ext = os.path.splitext(target)[1].lower()
        kind = TYPES.get(ext) or mimetypes.guess_type(target)[0] or "application/octet-stream"
        if ext == ".html":
            with open(target, "rb") as stream:
                body = self._with_reload(stream.read())
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return
        with open(target, "rb") as stream:
            stat = os.fstat(stream.fileno())
            size = stat.st_size
            etag = f'"{stat.st_ino:x}-{stat.st_size:x}-{stat.st_mtime_ns:x}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            start, end = 0, size - 1
            status = HTTPStatus.OK
            wanted = self.headers.get("Range")
            if wanted and self._range_applies(etag, stat.st_mtime):
                parsed = parse_range(wanted, size)
                if parsed == "unsatisfiable":
                    self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if parsed is not None:
                    start, end = parsed
                    status = HTTPStatus.PARTIAL_CONTENT
            length = max(0, end - start + 1)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
            if status == HTTPStatus.PARTIAL_CONTENT:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            # Content-addressed media never change; everything else is revalidated.
            immutable = "/media/" in self.path or "/assets/" in self.path
            self.send_header("Cache-Control", "public, max-age=31536000, immutable" if immutable else "no-cache")
            self.end_headers()
            if head or not length:
                return
            stream.seek(start)
            remaining = length
            while remaining:
                chunk = stream.read(min(_CHUNK, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)

    def _range_applies(self, etag: str, mtime: float) -> bool:
        condition = self.headers.get("If-Range")
        if not condition:
            return True
        if condition.startswith(('"', 'W/')):
            return condition == etag
        parsed = email.utils.parsedate_to_datetime(condition) if condition else None
        return parsed is not None and int(parsed.timestamp()) >= int(mtime)

    def _with_reload(self, body: bytes) -> bytes:
        if self.server.reloader is None:
            return body
        script = RELOAD_SCRIPT.encode()
        index = body.rfind(b"</body>")
        return body[:index] + script + body[index:] if index >= 0 else body + script

    # --- live reload ---------------------------------------------------------------------

    def _events(self) -> None:
        reloader = self.server.reloader
        assert reloader is not None
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        seen = -1
        try:
            self.wfile.write(b"retry: 1000\n\n")
            while not reloader.closed:
                generation = reloader.wait(seen, timeout=15.0)
                if generation == seen:
                    self.wfile.write(b": ping\n\n")  # notices a closed tab
                else:
                    seen = generation
                    if reloader.error is not None:
                        self.wfile.write(_event("failed", reloader.error))
                    else:
                        self.wfile.write(_event("ok", "") + _event("build", reloader.build_id))
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass


def _event(name: str, data: str) -> bytes:
    lines = "".join(f"data: {line}\n" for line in (data.split("\n") if data else [""]))
    return f"event: {name}\n{lines}\n".encode("utf-8")


def _local_host(header: str | None) -> bool:
    """Whether a Host header names this machine's loopback (any port); no header is HTTP/1.0."""
    if header is None:
        return True
    name = header.strip().lower()
    if name.startswith("["):
        name = name[: name.find("]") + 1]
    else:
        name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    return name in ("localhost", "127.0.0.1", "[::1]")


def parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """One byte range of a file of `size` bytes: (first, last) inclusive; "unsatisfiable";
    or None to ignore the header (a malformed or multi-range request gets the whole file)."""
    match = _RANGE.match(header.strip().replace(" ", ""))
    if not match:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0:
            return "unsatisfiable"
        return max(0, size - count), size - 1
    start = int(first)
    if start >= size:
        return "unsatisfiable"
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None
    return start, end


# --- watching ----------------------------------------------------------------------------------


WATCHED_FILES = ("alpha.yaml", "alpha.lock")
WATCHED_FOLDERS = ("episodes", "posts", "templates")


def relevant(root: Path, path: str) -> bool:
    """Whether a change to `path` should rebuild the site."""
    try:
        relative = Path(path).relative_to(root)
    except ValueError:
        return False
    parts = relative.parts
    if not parts:
        return False
    name = parts[-1]
    if name.startswith(".") or name.endswith(("~", ".swp", ".swx", ".tmp")) or name.startswith("#"):
        return False
    if len(parts) == 1:
        return name in WATCHED_FILES
    return parts[0] in WATCHED_FOLDERS


def watch_project(root: Path, on_change: Callable[[list[str]], None], stop: threading.Event,
                  ready: threading.Event | None = None) -> None:
    """Call `on_change(paths)` after each burst of relevant changes, until `stop` is set.

    One watcher (watchfiles) on the project folder itself (not recursive: alpha.yaml and
    alpha.lock) and one on episodes/, posts/ and templates/ (recursive), so that the store,
    the media and the built sites, however big, are never watched. `ready` is set once both
    watch.
    """
    import watchfiles

    ready = ready or threading.Event()
    folders = [root / name for name in WATCHED_FOLDERS if (root / name).is_dir()]
    jobs = [([root], False)] + ([(folders, True)] if folders else [])
    started = [threading.Event() for _ in jobs]

    def run(paths: list[Path], recursive: bool, watching: threading.Event) -> None:
        for changes in watchfiles.watch(*paths, watch_filter=lambda _change, path: relevant(root, path),
                                        stop_event=stop, debounce=300, step=50, recursive=recursive,
                                        raise_interrupt=False, yield_on_timeout=True, rust_timeout=200):
            watching.set()
            if changes:
                on_change(sorted({path for _change, path in changes}))
        watching.set()

    threads = [threading.Thread(target=run, args=(*job, event), daemon=True, name="alpha-watch")
               for job, event in zip(jobs, started)]
    for thread in threads:
        thread.start()
    for event in started:
        event.wait(10.0)
    ready.set()
    for thread in threads:
        thread.join()


def error_page(message: str) -> bytes:
    return ("<!doctype html><meta charset=utf-8><title>Build failed</title>"
            f"<body><h1>The site did not build</h1><pre>{html.escape(message)}</pre>").encode()

