"""A test's own look at a results table, by URL, that leaves no connection behind."""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy


@contextmanager
def connected(database_url: str) -> Iterator[sqlalchemy.Connection]:
    """A connection to the database at `database_url`, for the block; closed with its engine.

    `create_engine(url).connect()` as a one-off is a leak: closing the connection returns it to
    the engine's pool, where PostgreSQL's session stays open until the garbage collector deletes
    it (psycopg's ResourceWarning, an error in this suite). Disposing the engine closes it.
    """
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()
