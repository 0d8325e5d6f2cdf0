"""Bringing a results database made by an earlier version up to the current shape.

Changes to the schema are additive (new nullable columns, or columns with a server default, and
new indexes), so bringing a table up to date is adding what it lacks: a user's `seedream.db`
from last month keeps its batches and can be resumed. Nothing is ever dropped or rewritten.
"""

from sqlalchemy import Engine, MetaData, inspect
from sqlalchemy.schema import CreateColumn


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """Add every column and index `metadata` has that the database's tables lack; return what was
    added as `table.column` (safe to run from several processes: a column one of them added
    meanwhile is not added twice)."""
    added: list[str] = []
    existing = inspect(engine)
    for table in metadata.sorted_tables:
        if not existing.has_table(table.name):
            continue
        present = {column["name"] for column in existing.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            ddl = CreateColumn(column).compile(dialect=engine.dialect)
            with engine.begin() as conn:
                if column.name not in {c["name"] for c in inspect(conn).get_columns(table.name)}:
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl}")
                    added.append(f"{table.name}.{column.name}")
        for index in table.indexes:
            index.create(engine, checkfirst=True)
    return added
