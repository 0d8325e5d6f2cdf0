"""The results table's schema version, kept in the database beside the tables it describes.

Changes to the schema are additive (jobs.migrate), so any version's table can be brought up to the
current shape by the next command that writes. What cannot be known from the columns alone is a
table made by a *newer* version than this one: `doctor` reads the version to tell the three apart
(current; older, to be upgraded; newer, which asks for newer software).
"""

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, Table, inspect, select, update
from sqlalchemy.exc import IntegrityError

#: the shape of the tables jobs.schema makes. Raise it with every change to jobs.schema (a column,
#: an index), so a table of the new shape tells older versions that it is newer than they are
SCHEMA_VERSION = 3

#: apart from jobs.schema's metadata: the version describes those tables, it is not one of them
version_metadata = MetaData()
schema_version_table = Table(
    "schema_version",
    version_metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)
#: the table's one row
_ROW_ID = 1


def recorded_version(conn: Connection) -> int | None:
    """The version the database records; None when it records none (a table made before versions
    were recorded, or no table at all)."""
    if not inspect(conn).has_table(schema_version_table.name):
        return None
    query = select(schema_version_table.c.version).where(schema_version_table.c.id == _ROW_ID)
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else int(found)


def record_schema_version(engine: Engine) -> None:
    """Record SCHEMA_VERSION, once the tables have its shape. A newer version already recorded
    is left as it is: an older program never lowers it (safe from several processes at once)."""
    version_metadata.create_all(engine)
    with engine.begin() as conn:
        current = recorded_version(conn)
        if current is not None:
            if current < SCHEMA_VERSION:
                conn.execute(
                    update(schema_version_table)
                    .where(schema_version_table.c.id == _ROW_ID)
                    .values(version=SCHEMA_VERSION)
                )
            return
    try:
        with engine.begin() as conn:
            conn.execute(schema_version_table.insert().values(id=_ROW_ID, version=SCHEMA_VERSION))
    except IntegrityError:
        pass  # another process recorded it meanwhile: the same version, or a newer one
