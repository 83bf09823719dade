"""Real servers for the deploy tests, on loopback: nginx serving PATH/current, and sshd."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
SSHD = "/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None


def missing(*names: str) -> list[str]:
    found = {"nginx": NGINX, "sshd": SSHD}
    return [n for n in names if not (found[n] if n in found else shutil.which(n))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}): {log.read_text() if log.exists() else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"server did not listen on {port} in {timeout} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


NGINX_CONF = """\
worker_processes 1;
pid {work}/nginx.pid;
{user}
events {{ worker_connections 128; }}
http {{
    access_log {work}/access.log;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    types {{ text/html html; application/json json; application/atom+xml xml; video/mp4 mp4;
            text/css css; image/jpeg jpg; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        # The document root is the `current` symlink itself: nginx opens root + URI on every
        # request, so the kernel resolves `current` anew each time, and the switch needs no reload.
        root {root};
        disable_symlinks off;   # follow current -> releases/<id> and media -> ../../store/...
        open_file_cache off;    # (the default) no cached lookups across the switch
        index index.html;
    }}
}}
"""


class Nginx:
    def __init__(self, root: Path, work: Path):
        self.root, self.work = root, work
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        (work / "tmp").mkdir(parents=True, exist_ok=True)
        self.conf = work / "nginx.conf"
        # Master as root drops workers to `nobody`, who cannot enter pytest's 0700 temp dirs.
        user = "user root root;" if os.geteuid() == 0 else ""
        self.conf.write_text(NGINX_CONF.format(work=work, port=self.port, root=root, user=user))
        self.log = work / "error.log"
        self.process = subprocess.Popen([NGINX, "-p", str(work), "-c", str(self.conf), "-e", str(self.log),
                                         "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, self.process, self.log)
        except BaseException:
            stop(self.process)
            raise

    def stop(self) -> None:
        stop(self.process)


SSHD_CONF = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {work}/host_key
PidFile {work}/sshd.pid
AuthorizedKeysFile {work}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
MaxStartups 50:30:100
MaxSessions 50
LogLevel ERROR
"""

SSH_CONFIG = """\
Host *
    IdentityFile {work}/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile {work}/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    LogLevel ERROR
"""


class Sshd:
    """sshd on 127.0.0.1 with a generated host key; the client side is an ssh_config
    (`ssh -F`, via ALPHA_SSH_CONFIG) with a generated identity and a pinned host key."""

    def __init__(self, work: Path):
        self.work = work
        self.port = free_port()
        self.user = getpass.getuser()
        for key in ("host_key", "id_ed25519"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / key)], check=True)
        shutil.copy(work / "id_ed25519.pub", work / "authorized_keys")
        host_key = " ".join((work / "host_key.pub").read_text().split()[:2])
        (work / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_key}\n")
        (work / "sshd_config").write_text(SSHD_CONF.format(port=self.port, work=work))
        self.config = work / "ssh_config"
        self.config.write_text(SSH_CONFIG.format(work=work))
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        self.log = work / "sshd.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(work / "sshd_config")],
                                            stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port, self.process, self.log)
        except BaseException:
            stop(self.process)
            raise

    def stop(self) -> None:
        stop(self.process)
