"""A private PostgreSQL cluster for the test suite: initdb into a temp dir, pg_ctl on a free port.

``initdb`` and ``postgres`` refuse to run as root, so as root they run as the ``postgres``
system user (Debian's ``postgresql`` package creates it; ``make test`` installs the package
when its binaries are missing). The cluster trusts local connections only (127.0.0.1 and
its own socket directory) and is removed when stopped.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def pg_bindir() -> Path | None:
    """Where initdb / pg_ctl live: ``pg_config --bindir``, else Debian's /usr/lib/postgresql/*/bin."""
    cfg = shutil.which("pg_config")
    if cfg:
        try:
            out = subprocess.run([cfg, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
            if out and (Path(out) / "initdb").is_file():
                return Path(out)
        except (OSError, subprocess.SubprocessError):
            pass
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if (Path(d) / "initdb").is_file():
            return Path(d)
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """``with LocalPostgres() as pg: pg.url`` -> postgresql://postgres@127.0.0.1:PORT/test"""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="spendwatch-pg-"))
        self.data = self.dir / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
                self.user = "postgres"
            except KeyError as exc:
                raise RuntimeError("running as root and there is no 'postgres' system user to run initdb as "
                                   "(install Debian's postgresql package)") from exc
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chmod(self.dir, 0o700)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/test"

    def _run(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / cmd[0]), *cmd[1:]]
        if self.user is not None:
            argv = ["runuser", "-u", self.user, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.dir)

    def start(self) -> LocalPostgres:
        p = self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--no-sync", "--locale=C")
        if p.returncode != 0:
            raise RuntimeError(f"initdb failed: {p.stdout[-800:]}{p.stderr[-800:]}")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        p = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-o", opts, "-w",
                      "-t", "60", "start", timeout=90)
        if p.returncode != 0:
            log = (self.dir / "server.log").read_text(errors="replace") if (self.dir / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {p.stdout[-500:]}{p.stderr[-500:]}{log[-1500:]}")
        deadline = time.monotonic() + 30
        while True:
            p = self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "test")
            if p.returncode == 0:
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"createdb failed: {p.stderr[-800:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
