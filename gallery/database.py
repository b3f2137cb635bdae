"""Where a gallery lives: a SQLite file (the embedded default) or PostgreSQL (shared by workers).

One protocol, ``Database``, and its two implementations. The gallery's modules write their SQL
once, in the dialect both engines understand (``?`` parameters, ``RETURNING id``,
``ON CONFLICT``); ``PostgresDatabase`` translates what differs (``%s`` parameters,
``string_agg``, its column types in the schema). Both give every change one transaction
(``transaction()``), and both turn "the database cannot take a change now" (locked, disk full,
server gone) into ``GalleryUnavailable``, so callers handle one error whatever the engine.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from tracker.errors import TrackerError

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SCHEMA_LOCK = 0x66616365  # PostgreSQL advisory lock: one worker creates the schema at a time
LOCK_WAIT_MS = 5000  # PostgreSQL: how long a change waits for another writer's lock (SQLite's busy_timeout)
STATEMENT_MS = 600_000  # PostgreSQL: no statement longer (a VACUUM FULL of a large gallery included)
CHANNEL = "facetrack_gallery"  # PostgreSQL NOTIFY channel: the gallery changed


class GalleryError(TrackerError):
    """The gallery is unusable, or a name is unknown or taken."""


class GalleryUnavailable(TrackerError):
    """The gallery cannot take a change now (locked by another writer, disk full, server gone); nothing was
    changed."""


def storable_id(number: int) -> bool:
    """Whether ``number`` fits an id column (64-bit in both engines): one that does not names no row."""
    return -2**63 <= number < 2**63


def is_url(location: Path | str) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def redact(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url)


class Database(Protocol):
    """One connection to the gallery's database."""

    location: str  # the file, or the URL without its password: what messages name

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; the result has ``fetchone()``, ``fetchall()`` and ``rowcount``."""

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        """Run one ``INSERT`` and return the new row's ``id``."""

    def transaction(self) -> Any:
        """A context manager: the statements inside commit together or not at all."""

    def create(self, schema: str) -> None:
        """Create the tables of ``schema`` (SQLite's types) that do not exist yet."""

    def compact(self) -> None:
        """Rewrite the storage so deleted rows are gone from it, not only unlinked."""

    def problem(self) -> str | None:
        """What is damaged, or None."""

    def serialize(self, key: int) -> None:
        """Inside a transaction: wait until no other transaction holds ``key``, then hold it until this one ends
        (for read-then-write changes that two writers must not interleave)."""

    def notify(self) -> None:
        """Inside a change's transaction: wake the other processes watching this gallery when it commits."""

    def wait_for_change(self, timeout: float) -> None:
        """Return when another process changed the gallery, or after ``timeout`` seconds (the caller then reads
        the change log)."""

    def close(self) -> None: ...


def database_errors() -> tuple[type[Exception], ...]:
    """Both drivers' errors: what a background writer catches, besides ``GalleryUnavailable``, to go on."""
    import psycopg  # loaded on first use: a SQLite gallery never needs the driver

    return sqlite3.Error, psycopg.Error


def connect(location: Path | str) -> Database:
    """The database at ``location``: a ``postgresql://`` URL, or a SQLite file path."""
    return PostgresDatabase(str(location)) if is_url(location) else SqliteDatabase(Path(location))


class SqliteDatabase:
    """A SQLite file: deleted data overwritten (``secure_delete``), a 5 s wait for another writer."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.location = str(path)
        try:
            if read_only:
                self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # faces are personal data: a new gallery is its user's only
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # (SQLite's journals follow)
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.Error as error:
            raise GalleryError(f"{path}: cannot open ({error})") from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        return self._db.execute(sql + " RETURNING id", params).fetchone()[0]

    @contextmanager
    def transaction(self) -> Iterator[SqliteDatabase]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise GalleryUnavailable(f"{self.location}: {error}; nothing was changed") from None
        try:
            yield self
            self._db.execute("COMMIT")
        except BaseException as error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if isinstance(error, sqlite3.OperationalError):
                raise GalleryUnavailable(f"{self.location}: {error}; nothing was changed") from None
            raise

    def create(self, schema: str) -> None:
        for statement in schema.strip().split(";"):
            if statement.strip():
                self._db.execute(statement)

    def compact(self) -> None:
        try:
            self._db.execute("VACUUM")
        except sqlite3.OperationalError as error:
            raise GalleryUnavailable(f"{self.location}: the erased data is overwritten, but the file could not be "
                                     f"compacted ({error}); once there is space, `facetrack gallery erase` (no "
                                     "name) compacts it") from None

    def problem(self) -> str | None:
        check = self._db.execute("PRAGMA integrity_check").fetchall()
        return None if check == [("ok",)] else f"damaged file (SQLite integrity check: {check[0][0]})"

    def serialize(self, key: int) -> None:
        pass  # BEGIN IMMEDIATE already holds the file's one write lock

    def notify(self) -> None:
        pass  # a file cannot wake anyone: its watchers read the change log every ``timeout``

    def wait_for_change(self, timeout: float) -> None:
        time.sleep(timeout)

    def close(self) -> None:
        self._db.close()


class PostgresDatabase:
    """A PostgreSQL database (psycopg 3), shared by every worker; the schema is created on first use."""

    def __init__(self, url: str) -> None:
        import psycopg  # only a PostgreSQL gallery needs the driver loaded

        self._psycopg = psycopg
        self.url = url
        self.location = redact(url)
        self._listener: Any = None  # a second connection, for LISTEN, made by the first wait_for_change
        try:
            # a writer waits at most 5 s for another's lock, as on SQLite; no statement runs for ever
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=5,
                                       options=f"-c lock_timeout={LOCK_WAIT_MS} -c statement_timeout={STATEMENT_MS}")
        except psycopg.Error as error:
            raise GalleryUnavailable(f"{self.location}: cannot connect ({str(error).strip()})") from None

    @staticmethod
    def translate(sql: str) -> str:
        """SQLite's spelling of a statement in PostgreSQL's."""
        sql = re.sub(r"GROUP_CONCAT\(DISTINCT ([\w.]+)\)", r"string_agg(DISTINCT \1, ',')", sql)
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self._db.execute(self.translate(sql), params)
        except self._psycopg.OperationalError as error:
            raise GalleryUnavailable(f"{self.location}: {str(error).strip()}; nothing was changed") from None

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            with self._db.cursor() as cursor:
                cursor.executemany(self.translate(sql), rows)

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        return self.execute(sql + " RETURNING id", params).fetchone()[0]

    @contextmanager
    def transaction(self) -> Iterator[PostgresDatabase]:
        try:
            with self._db.transaction():
                yield self
        except self._psycopg.OperationalError as error:
            raise GalleryUnavailable(f"{self.location}: {str(error).strip()}; nothing was changed") from None

    def create(self, schema: str) -> None:
        schema = schema.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER PRIMARY KEY")  # identities never reuse
        schema = schema.replace("INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        schema = re.sub(r"\bINTEGER\b", "BIGINT", schema)
        schema = re.sub(r"\bBLOB\b", "BYTEA", schema)
        schema = re.sub(r"\bREAL\b", "DOUBLE PRECISION", schema)
        self.serialize(SCHEMA_LOCK)  # inside the caller's transaction
        for statement in schema.strip().split(";"):
            if statement.strip():
                self.execute(statement)

    def compact(self) -> None:
        tables = [r[0] for r in self.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
        for table in tables:  # VACUUM FULL writes each table anew: the old files, deleted rows and all, go
            self.execute(f'VACUUM FULL "{table}"')

    def problem(self) -> str | None:
        return None  # PostgreSQL checks its own pages (and an export is always a SQLite file)

    def serialize(self, key: int) -> None:
        self.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    def notify(self) -> None:
        self.execute(f"NOTIFY {CHANNEL}")  # delivered when the transaction commits, never before

    def wait_for_change(self, timeout: float) -> None:
        if self._listener is None:
            self._listener = self._psycopg.connect(self.url, autocommit=True, connect_timeout=5)
            self._listener.execute(f"LISTEN {CHANNEL}")
        try:
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                break
        except self._psycopg.OperationalError as error:
            self._listener.close()
            self._listener = None
            raise GalleryUnavailable(f"{self.location}: {str(error).strip()}") from None

    def close(self) -> None:
        self._db.close()
        if self._listener is not None:
            self._listener.close()
