"""A real PostgreSQL server for the tests: Debian's ``postgresql`` (installed by
``scripts/system_packages.sh``), a cluster made by ``initdb`` in a temporary folder, started on
a free loopback port and stopped at the end. As root, it runs as Debian's ``postgres`` user
(PostgreSQL refuses to run as root)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), None)
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
needs_postgres = pytest.mark.skipif(
    BIN is None or (AS_POSTGRES and shutil.which("runuser") is None),
    reason="Debian's postgresql is not installed (scripts/system_packages.sh installs it)")


class PostgresServer:
    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.data = root / "data"
        self.user = "facetrack"

    def _run(self, *command: str) -> None:
        subprocess.run([*AS_POSTGRES, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresServer:
        self.root.mkdir(parents=True, exist_ok=True)
        if AS_POSTGRES:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(f"{BIN}/initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        self.resume()
        return self

    def resume(self) -> None:
        """Start the server (again, after ``stop``) on its data and port."""
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(f"{BIN}/pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options,
                  "-w", "-t", "60", "start")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self, mode: str = "immediate") -> None:
        """Stop: ``immediate`` at once, as a crash would (with this test server's ``synchronous_commit=off``, the
        last commits may be lost); ``fast`` as a restart does, every commit kept. Every connection is broken."""
        self._run(f"{BIN}/pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
