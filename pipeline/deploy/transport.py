"""The two kinds of target: a directory on this machine, and one on a host reached over ssh.

Both hold the same layout (see `release.py`) and do the same steps; files always move with
rsync (`--link-dest` for unchanged small files), and each step that changes what is live is a
single rename: `releases/.partial-<id>` -> `releases/<id>`, then a fresh symlink renamed over
`current` (`os.replace` here, `mv -T` over ssh; never `ln -sfn`, which unlinks first).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import getpass
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterator

from ..atomic import atomic_write_text
from ..errors import Failure
from ..project.schema import DeployTarget
from .release import PARTIAL, TRASH, Release, TargetState, build_state
from .proc import spawn

LOCK_NAME = ".deploy.lock"
SSH_CONFIG_ENV = "ALPHA_SSH_CONFIG"   # an ssh_config passed as `ssh -F` (tests, CI)


def holder_text() -> str:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a uid without a passwd entry (containers)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()} since {now}"


class Target(ABC):
    """Where releases go. Every method that writes is called only while `lock()` is held."""

    def __init__(self, name: str, settings: DeployTarget):
        self.name = name
        self.settings = settings

    @abstractmethod
    def describe(self) -> str: ...

    @abstractmethod
    def lock(self) -> contextlib.AbstractContextManager[None]: ...

    @abstractmethod
    def state(self) -> TargetState: ...

    @abstractmethod
    def prepare(self, state: TargetState) -> None:
        """Create the layout; remove what killed deploys left (partial releases, temporaries)."""

    @abstractmethod
    def rsync_prefix(self) -> list[str]: ...

    @abstractmethod
    def rsync_dest(self, relative: str) -> str: ...

    @abstractmethod
    def write_manifest(self, release: Release) -> None: ...

    @abstractmethod
    def finalize(self, release_id: str) -> None:
        """Rename the finished `.partial-<id>` to `<id>`."""

    @abstractmethod
    def switch(self, release_id: str) -> None:
        """Point `current` at `releases/<id>` by renaming a fresh symlink over it."""

    @abstractmethod
    def remove_releases(self, ids: list[str]) -> None: ...

    @abstractmethod
    def remove_objects(self, objects: list[str]) -> None: ...


# --- a directory on this machine ---------------------------------------------------------------


class LocalTarget(Target):
    def __init__(self, name: str, settings: DeployTarget, path: Path):
        super().__init__(name, settings)
        self.path = path

    def describe(self) -> str:
        return str(self.path)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        # flock belongs to the open file: the kernel drops it when the holder dies, however.
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                raise Failure(f"another deploy to {self.name} is running ({holder}); "
                              "run again when it has finished") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, (holder_text() + "\n").encode(), 0)
            yield
        finally:
            os.close(fd)

    def state(self) -> TargetState:
        if not self.path.is_dir():
            return TargetState()
        current = self.path / "current"
        link = os.readlink(current) if current.is_symlink() else None
        releases = self.path / "releases"
        dirs = [e.name for e in os.scandir(releases) if e.is_dir(follow_symlinks=False)] \
            if releases.is_dir() else []
        manifests: dict[str, str | None] = {}
        if (self.path / "manifests").is_dir():
            for entry in os.scandir(self.path / "manifests"):
                if entry.name.endswith(".json") and not entry.name.startswith("."):
                    with contextlib.suppress(OSError):
                        manifests[entry.name[:-5]] = Path(entry.path).read_text()
        objects = set()
        store = self.path / "store"
        if store.is_dir():
            for folder, _, files in os.walk(store):
                relative = Path(folder).relative_to(store)
                objects.update((relative / f).as_posix() for f in files if not f.startswith("."))
        return build_state(link, dirs, manifests, objects)

    def prepare(self, state: TargetState) -> None:
        for folder in ("releases", "manifests", "store"):
            (self.path / folder).mkdir(parents=True, exist_ok=True)
        for name in state.leftovers:
            _remove_tree(self.path / "releases" / name)
        for name in state.orphans:
            with contextlib.suppress(FileNotFoundError):
                (self.path / "manifests" / f"{name}.json").unlink()
        for pattern, folder in ((".current.tmp.*", self.path), (".*", self.path / "manifests")):
            for leftover in folder.glob(pattern):
                if leftover.is_symlink() or leftover.is_file():
                    leftover.unlink()
        for folder, _, files in os.walk(self.path / "store"):
            for name in files:
                if name.startswith("."):  # an rsync temporary from a killed upload
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(folder, name))

    def rsync_prefix(self) -> list[str]:
        return ["rsync"]

    def rsync_dest(self, relative: str) -> str:
        return f"{self.path / relative}/"

    def write_manifest(self, release: Release) -> None:
        atomic_write_text(self.path / "manifests" / f"{release.id}.json", release.to_json())

    def finalize(self, release_id: str) -> None:
        releases = self.path / "releases"
        os.rename(releases / f"{PARTIAL}{release_id}", releases / release_id)

    def switch(self, release_id: str) -> None:
        temp = self.path / f".current.tmp.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        os.symlink(f"releases/{release_id}", temp)
        try:
            os.replace(temp, self.path / "current")
        except OSError as exc:
            temp.unlink()
            raise Failure(f"cannot switch {self.path / 'current'}: {exc} "
                          "(it must be a symlink, or absent)") from None

    def remove_releases(self, ids: list[str]) -> None:
        releases = self.path / "releases"
        for release_id in ids:
            trash = releases / f"{TRASH}{release_id}"
            with contextlib.suppress(FileNotFoundError):
                os.rename(releases / release_id, trash)
            with contextlib.suppress(FileNotFoundError):
                (self.path / "manifests" / f"{release_id}.json").unlink()
            _remove_tree(trash)

    def remove_objects(self, objects: list[str]) -> None:
        store = self.path / "store"
        for name in objects:
            with contextlib.suppress(FileNotFoundError):
                (store / name).unlink()
        for folder in {(store / name).parent for name in objects}:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty


def _remove_tree(path: Path) -> None:
    # An rsync killed with its deploy may still be exiting; what stays is removed next time.
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)


# --- a directory on a host, over ssh -----------------------------------------------------------


class RemoteTarget(Target):
    """Over the system `ssh`, with the user's ssh config, agent and keys; nothing secret here.

    The lock is an ssh session running `flock` on PATH/.deploy.lock for the whole deploy: it
    ends when this process ends (its stdin closes; the session is also the ssh ControlMaster
    that every other ssh and rsync call of the deploy reuses), so a dead deploy never leaves
    the target locked. Remote commands are POSIX sh plus GNU `mv -T`, `flock` and `rsync`.
    """

    def __init__(self, name: str, settings: DeployTarget):
        super().__init__(name, settings)
        self.host = settings.host or ""
        # `~/x` means x in the remote home, where ssh commands and rsync paths start anyway.
        self.path = settings.path[2:] if settings.path.startswith("~/") else settings.path
        self._control: Path | None = None
        self._lock_session: subprocess.Popen | None = None

    def describe(self) -> str:
        who = f"{self.settings.user}@" if self.settings.user else ""
        port = f":{self.settings.port}" if self.settings.port else ""
        return f"{who}{self.host}{port}:{self.path}"

    def ssh_args(self, master: bool = False) -> list[str]:
        args = ["ssh"]
        config = os.environ.get(SSH_CONFIG_ENV)
        if config:
            args += ["-F", config]
        if self.settings.port:
            args += ["-p", str(self.settings.port)]
        if self.settings.user:
            args += ["-l", self.settings.user]
        args += ["-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
        if not sys.stdin.isatty():
            args += ["-o", "BatchMode=yes"]
        if self._control is not None:
            args += ["-o", f"ControlPath={self._control}",
                     "-o", "ControlMaster=yes" if master else "ControlMaster=no",
                     "-o", "ControlPersist=no"]
        return args

    def _script(self, body: str) -> str:
        return f"P={shlex.quote(self.path)}\n{body}"

    def _check_lock(self) -> None:
        """Never write without the lock: if its session died (network), stop before the next step."""
        if self._lock_session is not None and self._lock_session.poll() is not None:
            raise Failure(f"lost the lock on {self.describe()} (the ssh session ended); "
                          "`current` is unchanged unless the switch was reported; run the deploy again")

    def _sh(self, body: str, what: str, input: str | None = None) -> str:
        self._check_lock()
        argv = [*self.ssh_args(), "--", self.host, "sh -c " + shlex.quote(self._script(body))]
        process = spawn(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
        try:
            out, err = process.communicate(input, timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise Failure(f"{what} on {self.host}: timed out") from None
        if process.returncode != 0:
            raise Failure(f"{what} on {self.host} failed (exit {process.returncode}): "
                          f"{err.strip()[-2000:] or 'no message'}")
        return out

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        control_dir = Path(tempfile.mkdtemp(prefix="alpha-ssh-", dir="/tmp" if Path("/tmp").is_dir() else None))
        self._control = control_dir / "cm"
        body = (
            'mkdir -p -- "$P" && cd -- "$P" || exit 1\n'
            f'flock -n -E 75 {LOCK_NAME} sh -c \'printf "%s\\n" "$1" > {LOCK_NAME}; echo @locked; '
            'exec cat >/dev/null\' lock "$H"\n'
            f'code=$?; if [ $code = 75 ]; then echo @busy; cat {LOCK_NAME}; fi; exit $code\n'
        )
        script = f"H={shlex.quote(holder_text())}\n" + self._script(body)
        argv = [*self.ssh_args(master=True), "--", self.host, "sh -c " + shlex.quote(script)]
        errors = tempfile.TemporaryFile()
        try:
            process = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
        except BaseException:
            errors.close()
            shutil.rmtree(control_dir, ignore_errors=True)
            raise
        try:
            first = _readline(process, timeout=60)
            if first is None:
                process.kill()
                raise Failure(f"cannot lock {self.describe()}: no answer from ssh in 60 s")
            if first != "@locked":
                process.stdin.close()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                rest = process.stdout.read().decode(errors="replace").strip()
                if first == "@busy":
                    raise Failure(f"another deploy to {self.name} is running ({rest or 'unknown'}); "
                                  "run again when it has finished")
                errors.seek(0)
                message = errors.read().decode(errors="replace").strip()
                raise Failure(f"cannot lock {self.describe()}: "
                              f"{message[-2000:] or first or 'ssh failed'}")
            self._lock_session = process
            yield
        finally:
            self._control = None
            self._lock_session = None
            if process.poll() is None:
                with contextlib.suppress(OSError):
                    process.stdin.close()  # EOF: the remote `cat` ends, flock lets go
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            errors.close()
            shutil.rmtree(control_dir, ignore_errors=True)

    def state(self) -> TargetState:
        out = self._sh(r"""
cd -- "$P" 2>/dev/null || { echo @absent; exit 0; }
[ -L current ] && printf '@current %s\n' "$(readlink current)"
for d in releases/* releases/.[!.]*; do
  if [ -d "$d" ] && [ ! -L "$d" ]; then printf '@dir %s\n' "${d#releases/}"; fi
done
for m in manifests/*.json; do
  if [ -f "$m" ]; then n=${m#manifests/}; printf '@manifest %s\n' "${n%.json}"; cat -- "$m"; echo; fi
done
if [ -d store ]; then (cd store && find . -type f ! -name '.*' | sed 's|^\./|@object |'); fi
echo @end
""", "reading the target")
        lines = out.splitlines()
        if lines[:1] == ["@absent"]:
            return TargetState()
        if "@end" not in lines:
            raise Failure(f"reading {self.describe()}: incomplete answer")
        link = None
        dirs: list[str] = []
        manifests: dict[str, str | None] = {}
        objects: set[str] = set()
        open_manifest: str | None = None
        for line in lines:
            if line.startswith("@"):
                open_manifest = None
                marker, _, value = line.partition(" ")
                if marker == "@current":
                    link = value
                elif marker == "@dir":
                    dirs.append(value)
                elif marker == "@manifest":
                    open_manifest = value
                    manifests[value] = ""
                elif marker == "@object":
                    objects.add(value)
            elif open_manifest is not None:
                manifests[open_manifest] += line
        return build_state(link, dirs, manifests, objects)

    def prepare(self, state: TargetState) -> None:
        orphans = " ".join(shlex.quote(f"manifests/{n}.json") for n in state.orphans)
        self._sh(f"""
cd -- "$P" && mkdir -p releases manifests store || exit 1
for d in releases/{PARTIAL}* releases/{TRASH}*; do [ -d "$d" ] && rm -rf -- "$d" 2>/dev/null; done
rm -f -- .current.tmp.* manifests/.*.tmp {orphans}
find store -type f -name '.*' -exec rm -f {{}} + 2>/dev/null
exit 0
""", "preparing the target")

    def rsync_prefix(self) -> list[str]:
        self._check_lock()
        return ["rsync", "-e", shlex.join(self.ssh_args())]

    def rsync_dest(self, relative: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host   # an IPv6 literal
        return f"{host}:{self.path.rstrip('/')}/{relative}/"

    def write_manifest(self, release: Release) -> None:
        name = shlex.quote(f"manifests/{release.id}.json")
        temp = shlex.quote(f"manifests/.{release.id}.json.tmp")
        self._sh(f'cd -- "$P" && cat > {temp} && mv -f -- {temp} {name}', "writing the manifest",
                 input=release.to_json())

    def finalize(self, release_id: str) -> None:
        self._sh(f'cd -- "$P" && mv -T -- releases/{shlex.quote(PARTIAL + release_id)} '
                 f'releases/{shlex.quote(release_id)}', "finishing the release")

    def switch(self, release_id: str) -> None:
        self._sh(f'cd -- "$P" && ln -s -- releases/{shlex.quote(release_id)} .current.tmp.$$ '
                 '&& mv -T -- .current.tmp.$$ current', "switching current")

    def remove_releases(self, ids: list[str]) -> None:
        if not ids:
            return
        commands = "\n".join(
            f"mv -T -- releases/{shlex.quote(i)} releases/{shlex.quote(TRASH + i)} 2>/dev/null; "
            f"rm -f -- manifests/{shlex.quote(i + '.json')}; rm -rf -- releases/{shlex.quote(TRASH + i)}"
            for i in ids)
        self._sh(f'cd -- "$P" || exit 1\n{commands}\nexit 0', "removing old releases")

    def remove_objects(self, objects: list[str]) -> None:
        if not objects:
            return
        self._sh('cd -- "$P/store" || exit 1\n'
                 'while IFS= read -r o; do rm -f -- "$o"; done\n'
                 'find . -mindepth 1 -type d -empty -exec rmdir {} + 2>/dev/null\nexit 0',
                 "collecting store objects", input="".join(f"{o}\n" for o in objects))


def _readline(process: subprocess.Popen, timeout: float) -> str | None:
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0].decode(errors="replace").strip() if result else None
