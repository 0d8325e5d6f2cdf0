"""Opening the results database: SQLite (WAL) for one host, PostgreSQL for a fleet."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import OperationalError

from jobs.schema import batches_table

#: how long a SQLite writer waits for the lock before failing; many worker threads share one file
SQLITE_BUSY_TIMEOUT_S = 60
#: connections per process, whatever its thread count: each write takes milliseconds, so a few
#: connections serve hundreds of threads, and a fleet stays under PostgreSQL's default limit (100)
#: (measured: 500 threads of one worker claim 500 jobs in ~2 s through 16 connections)
POOL_SIZE = 8
POOL_OVERFLOW = 8
#: how long a thread waits for a free connection. When hundreds of calls return at once, every
#: thread queues to record its result (500 threads: ~10 s on 2 cores); SQLAlchemy's default 30 s
#: leaves little margin, and a thread that gave up would leave its job under lease until the
#: reaper takes it back.
POOL_TIMEOUT_S = 300
_POOL = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW, "pool_timeout": POOL_TIMEOUT_S}


def utcnow() -> datetime:
    """The time every row is stamped with: aware, UTC, so hosts in other zones agree."""
    return datetime.now(UTC)


def open_engine(url: str) -> Engine:
    """An engine for `url`, tuned for many worker threads writing small rows."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            **_POOL,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # the table's reads are short and planned for their indexes; PostgreSQL's JIT compiles a
    # plan once its estimated cost is high, which spent 1.1-1.6 s of a 2 s count over a
    # million-job batch compiling it (bench/growth.py)
    return create_engine(url, pool_pre_ping=True, connect_args={"options": "-c jit=off"}, **_POOL)


class NoResultsTable(RuntimeError):
    """The URL names no results table: no SQLite file there, a database without the tables, or
    one that cannot be opened. The message shows the URL without its password."""


def open_existing_engine(url: str) -> Engine:
    """An engine for a results table that must exist already, for the commands that only read
    it: connecting to a SQLite path creates an empty file, so a command run from the wrong
    folder would make a database and then report that it is empty."""
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    path = parsed.database or ""
    in_memory = path in ("", ":memory:")
    if parsed.get_backend_name() == "sqlite" and not in_memory and not Path(path).is_file():
        where = Path(path).absolute()
        raise NoResultsTable(f"no results table at {shown}: there is no file {where}")
    engine = open_engine(url)
    try:
        found = inspect(engine).has_table(batches_table.name)
    except OperationalError as exc:  # no such database, refused, wrong password
        engine.dispose()
        why = str(exc.orig).strip().splitlines()[-1].strip()
        if parsed.password:
            why = why.replace(str(parsed.password), "***")
        raise NoResultsTable(f"cannot open the results table at {shown}: {why}") from None
    if not found:
        engine.dispose()
        raise NoResultsTable(f"no results table at {shown}: the database has no results tables")
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers (status) run beside the writer; NORMAL sync is safe under WAL."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
