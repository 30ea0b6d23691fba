"""A throwaway PostgreSQL cluster for the tests: ``initdb`` and ``pg_ctl`` in a temporary folder.

It listens on 127.0.0.1 at a free port and on a Unix socket inside that folder, with ``fsync=off`` (the
tests check logic, not disks), and is stopped by its postmaster's PID at the end. ``initdb`` refuses to run
as root, so as root the server runs as an unprivileged user (``postgres`` if it exists, else ``nobody``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

START_HINT = (
    "no PostgreSQL server binaries (initdb, pg_ctl) found on PATH or in /usr/lib/postgresql/*/bin: "
    "install them with 'apt-get install -y postgresql' (Debian/Ubuntu), or point CASTBOT_TEST_DATABASE_URL "
    "at a server whose user may create databases"
)


def find_bin_dir() -> Path | None:
    """Return the folder holding ``initdb`` and ``pg_ctl``: PATH first, then Debian's versioned folders."""
    found = shutil.which("initdb")
    if found is not None:
        folder = Path(os.path.realpath(found)).parent
        if (folder / "pg_ctl").exists():
            return folder
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_as() -> list[str]:
    """Return the command prefix that runs the server as an unprivileged user (nothing if not root)."""
    if os.geteuid() != 0:
        return []
    user = "postgres"
    try:
        import pwd  # noqa: PLC0415 - POSIX only, and only as root

        pwd.getpwnam(user)
    except KeyError:
        user = "nobody"
    return ["runuser", "-u", user, "--"]


@dataclass
class Cluster:
    """A running cluster: its folder, port and superuser; ``url(db)`` gives a connection URL."""

    root: Path
    port: int
    user: str
    pid: int

    def url(self, database: str = "postgres") -> str:
        """Return a ``postgresql://`` URL to ``database`` over TCP on 127.0.0.1."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the postmaster by its PID (fast shutdown), wait for it, and remove the folder."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGINT)
        for _ in range(300):  # 30 s at most
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(self.pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(bin_dir: Path, *, durable: bool = False) -> Cluster:
    """Create and start a cluster in a new temporary folder (``durable``: with PostgreSQL's default fsync and
    synchronous commit, for measurements; the tests run without them).

    Raises:
        RuntimeError: ``initdb`` or the server failed (the message holds the server's log).
    """
    root = Path(tempfile.mkdtemp(prefix="castbot-pg-"))
    prefix = _run_as()
    data, log = root / "data", root / "server.log"
    if prefix:  # the unprivileged user must own the folder
        user = prefix[2]
        shutil.chown(root, user=user)
    user = "castbot_test"
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c max_connections=200"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    started = subprocess.run(
        [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
        capture_output=True,
        timeout=90,
        check=False,
    )
    if started.returncode != 0:
        text = log.read_text(errors="replace") if log.exists() else started.stderr.decode(errors="replace")
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {text[-2000:]}")
    pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    return Cluster(root, port, user, pid)


def _exit_cleanly(signum: int, frame: object) -> None:
    del signum, frame
    raise SystemExit(0)


def main() -> int:
    """``python -m castbot_hikari.testing.pgcluster``: a throwaway local PostgreSQL for development, until Ctrl-C.

    Prints ``CASTBOT_DATABASE_URL=...`` (a database named ``castbot``), then waits; Ctrl-C or SIGTERM stops the
    server and deletes its folder.
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        sys.stderr.write(f"{START_HINT}\n")
        return 2
    cluster = start_cluster(bin_dir)
    try:
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", cluster.user, "castbot"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        sys.stdout.write(f"CASTBOT_DATABASE_URL={cluster.url('castbot')}\n")
        sys.stdout.write("a throwaway PostgreSQL is running (its data goes when it stops): Ctrl-C stops it\n")
        sys.stdout.flush()
        signal.signal(signal.SIGTERM, _exit_cleanly)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
