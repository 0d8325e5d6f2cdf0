"""How many rows of a table PostgreSQL reads, from its own statistics: what a piece of code costs
the database, measured without depending on the shape of any statement or plan.

PostgreSQL counts, per table, the rows its sequential scans read and, per index, the entries its
index scans return. A backend keeps its counts to itself until it flushes them; every connection
of the engine is made to flush as it goes back to the pool, so the counts are complete as soon as
the code under measurement has returned its connections.

A test table has thousands of rows, not millions, and PostgreSQL would rather scan a few pages
whole than use an index; so the engine's connections are also told to plan as they would at
scale, where no sequential or bitmap scan of the table is ever the cheap choice.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

_READS = (
    "SELECT (SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables WHERE relname = %(t)s)"
    " + (SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE relname = %(t)s)"
)


@contextmanager
def rows_read(engine: Engine, table: str) -> Iterator[Callable[[], int]]:
    """Within the block, a function that gives the rows of `table` read since the block began
    through `engine` (sequential scans' rows plus index scans' entries)."""
    event.listen(engine, "checkout", _plan_as_at_scale)
    event.listen(engine, "checkin", _flush_counts)
    try:
        # what the pool's idle connections read before the block is counted before it starts
        idle = [engine.connect() for _ in range(engine.pool.checkedin())]  # type: ignore[attr-defined]
        for conn in idle:
            conn.close()
        # an index scan also counts the entries of rows' dead versions, which earlier updates
        # left and vacuum removes: only what the block itself reads is counted; and the planner
        # gets the statistics autovacuum would have given it
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
        before = _read_so_far(engine, table)
        yield lambda: _read_so_far(engine, table) - before
    finally:
        event.remove(engine, "checkin", _flush_counts)
        event.remove(engine, "checkout", _plan_as_at_scale)
        engine.dispose()  # its connections would keep planning as at scale


def _read_so_far(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
        return int(conn.exec_driver_sql(_READS, {"t": table}).scalar_one())


def _plan_as_at_scale(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
    dbapi_connection.commit()


def _flush_counts(dbapi_connection: Any, _record: Any) -> None:
    """Make the backend publish its counts now: it does when it next goes idle, which the
    rollback makes it do before answering."""
    if dbapi_connection is None:
        return
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    dbapi_connection.rollback()
