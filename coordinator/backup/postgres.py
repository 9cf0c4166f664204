"""PostgreSQL: ``pg_dump`` on an exported snapshot, streamed; ``pg_restore`` in one transaction.

The connection reaches the tools through the environment (``PGHOST``, ``PGPORT``, ``PGUSER``,
``PGPASSWORD``, ``PGDATABASE``): a password on a command line is visible to every user of the
machine in the process list.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from coordinator.backup import BackupFailed
from coordinator.backup import contents as database_contents
from coordinator.backup.contents import Contents

#: Bytes of the dump read at a time: one chunk of the sealed file.
CHUNK_BYTES = 4 << 20

#: How long the restore waits for a table another session uses before it gives up.
LOCK_TIMEOUT = "10s"

#: Connection settings a ``postgresql://`` URL may carry in its query, and their variables.
_QUERY_VARIABLES = {
    "host": "PGHOST",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
}


def tool(name: str, configured: str) -> str:
    """The program to run: as configured, else the newest in Debian's versioned folders
    (``/usr/bin/pg_dump`` there is a wrapper that may pick an older one), else on the PATH."""
    if configured:
        return configured
    found = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    if found:
        return max(found, key=_major_version)
    on_path = shutil.which(name)
    if on_path is None:
        setting = "COORDINATOR_PG_DUMP" if name == "pg_dump" else "COORDINATOR_PG_RESTORE"
        raise BackupFailed(
            f"{name} was not found: install PostgreSQL's client programs (the same major "
            f"version as the server or newer) or set {setting}."
        )
    return on_path


def _major_version(path: str) -> tuple[int, ...]:
    folder = Path(path).parent.parent.name  # /usr/lib/postgresql/<version>/bin/<name>
    try:
        return tuple(int(part) for part in folder.split("."))
    except ValueError:
        return (0,)


def environment(url: URL) -> dict[str, str]:
    """The tools' environment: the app's own (libpq reads the same ``PG*`` variables the app's
    driver does, and ``HOME`` for ``~/.pgpass``), with the URL's connection settings over it."""
    chosen = {
        "PGHOST": url.host,
        "PGPORT": None if url.port is None else str(url.port),
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    for key, variable in _QUERY_VARIABLES.items():
        value = url.query.get(key)
        if isinstance(value, tuple):
            value = value[-1] if value else None
        if value and not chosen.get(variable):
            chosen[variable] = value
    return {**os.environ, **{name: value for name, value in chosen.items() if value}}


@contextmanager
def snapshot(engine: Engine) -> Iterator[tuple[str, Contents]]:
    """A read-only REPEATABLE READ transaction whose snapshot is exported for ``pg_dump
    --snapshot``, and the contents counted in it: the dump and the counts see the same
    database. The transaction stays open (so the snapshot stays valid) until the block ends."""
    with engine.connect() as connection:
        reading = connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        with reading.begin():
            exported = str(reading.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
            contents = database_contents.read(
                lambda sql: reading.exec_driver_sql(sql).all(), "postgresql"
            )
            yield exported, contents


def current(engine: Engine) -> Contents:
    with engine.connect() as connection:
        return database_contents.read(
            lambda sql: connection.exec_driver_sql(sql).all(), "postgresql"
        )


def dump(program: str, url: URL, exported: str, write: Callable[[bytes], None]) -> None:
    """Run ``pg_dump`` (custom format, uncompressed: the sealed file compresses each chunk) on
    the exported snapshot and hand its output to ``write`` as it comes, never to a file."""
    command = [
        program,
        "--format=custom",
        "--compress=0",
        f"--snapshot={exported}",
        "--no-password",
    ]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(  # noqa: S603 (fixed arguments, no shell)
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
            env=environment(url),
        )  # fmt: skip
        output = cast("IO[bytes]", process.stdout)  # a pipe: stdout=PIPE
        try:
            while block := output.read(CHUNK_BYTES):
                write(block)
            code = process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            output.close()
        if code != 0:
            errors.seek(0)
            raise BackupFailed(f"pg_dump failed (exit {code}): {_first_error(errors.read())}")


def restore(program: str, url: URL, dump_file: Path) -> None:
    """Run ``pg_restore`` into the configured database in a single transaction: the tables of
    the backup are dropped if there and created anew, and on any error nothing changes."""
    command = [
        program,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        "--no-password",
        f"--dbname={url.database}",
        str(dump_file),
    ]
    env = environment(url)
    # Tables in use (an app still running) make it fail soon, rather than wait for their locks
    # while every request queues behind it.
    env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c lock_timeout={LOCK_TIMEOUT}".strip()
    finished = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
        command, stdin=subprocess.DEVNULL, capture_output=True, env=env, check=False
    )
    if finished.returncode != 0:
        raise BackupFailed(
            f"pg_restore failed (exit {finished.returncode}): {_first_error(finished.stderr)}; "
            "its transaction was rolled back, so the database is as it was."
        )


def _first_error(output: bytes) -> str:
    """The tool's first error line: the cause, without the SQL or row it was working on."""
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines()]
    errors = [line for line in lines if "error" in line.lower()] or lines or ["no message"]
    return errors[0]
