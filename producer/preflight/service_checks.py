"""The services a batch needs besides Cloudflare: its output, the broker, the results table."""

import os
from pathlib import Path

from celery import Celery
from sqlalchemy import inspect, make_url
from sqlalchemy.exc import DBAPIError

from jobs.database import open_engine
from jobs.errors import StorageError
from jobs.redaction import redact
from jobs.schema import batches_table
from jobs.schema_version import SCHEMA_VERSION, recorded_version
from producer.preflight.lines import CheckLine, failed, ok
from worker.broker import BrokerUnreachable, broker_location, check_broker
from worker.storage import StorageLookup
from worker.storage.probe import ProbeFailed, probe_storage

#: the probe is one thread's work
_PROBE_CONNECTIONS = 1
#: what a command that writes does to an older table, said once for every line that needs it
_UPGRADED = "the next command that writes brings it up to date"


def output_problem(location: str) -> str | None:
    """None when a probe object could be written, read back and deleted at `location`; else the
    one line saying where, which step failed, why and what to do."""
    problem = _probe_failure(location)
    return None if problem is None else f"output {problem}"


def output_line(location: str) -> CheckLine:
    problem = _probe_failure(location)
    if problem is not None:
        return failed("output", problem)
    return ok("output", f"{location}: a probe object was written, read back and deleted")


def _probe_failure(location: str) -> str | None:
    try:
        probe_storage(StorageLookup(_PROBE_CONNECTIONS)(location), location)
    except ProbeFailed as exc:
        return str(exc)
    except (StorageError, ValueError) as exc:  # no S3 client (a missing profile), no bucket named
        return f"{location}: {exc}"
    return None


def broker_problem(broker_url: str) -> str | None:
    """None when the broker answers; else worker.broker's one line (no password in it)."""
    with Celery(broker=broker_url) as app:
        try:
            check_broker(app)
        except BrokerUnreachable as exc:
            return f"{exc}: start it, or correct SEEDREAM_BROKER_URL"
    return None


def broker_line(broker_url: str | None) -> CheckLine:
    if broker_url is None:
        return ok(
            "broker",
            "none set: `run` works in one process; `submit`, `worker` and `beat` "
            "need SEEDREAM_BROKER_URL",
        )
    problem = broker_problem(broker_url)
    if problem is not None:
        return failed("broker", problem)
    return ok("broker", f"{broker_location(broker_url)} answers")


def table_line(database_url: str) -> CheckLine:
    """Whether the results table can be opened, and whether its schema is this version's, older
    (upgraded by the next command that writes) or newer (this software is too old for it)."""
    parsed = make_url(database_url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        missing = _missing_sqlite_file(Path(parsed.database or ""))
        if missing is not None:
            return missing
    engine = open_engine(database_url)
    try:
        with engine.connect() as conn:
            present = inspect(conn).has_table(batches_table.name)
            version = recorded_version(conn)
    except DBAPIError as exc:
        why = redact(str(exc.orig).strip().splitlines()[-1].strip()) if exc.orig else str(exc)
        return failed(
            "results table",
            f"cannot open {shown}: {why}; check SEEDREAM_DATABASE_URL and that the database runs",
        )
    finally:
        engine.dispose()
    return _schema_line(shown, present, version)


def _missing_sqlite_file(path: Path) -> CheckLine | None:
    """For a SQLite file that is not there yet: whether the first `run` can make it."""
    if path.is_file():
        return None
    folder = path.absolute().parent
    if not folder.is_dir():
        return failed(
            "results table",
            f"the folder {folder} of SEEDREAM_DATABASE_URL does not "
            "exist: create it, or point SEEDREAM_DATABASE_URL elsewhere",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        return failed(
            "results table",
            f"no permission to create {path.name} in {folder}: "
            "point SEEDREAM_DATABASE_URL at a folder you may write in",
        )
    return ok("results table", f"{path.absolute()} does not exist yet: the first `run` creates it")


def _schema_line(shown: str, present: bool, version: int | None) -> CheckLine:
    if not present:
        return ok(
            "results table", f"{shown} has no results tables yet: the first `run` creates them"
        )
    if version is not None and version > SCHEMA_VERSION:
        return failed(
            "results table",
            f"{shown} has schema version {version}, newer than this seedream-batch knows "
            f"({SCHEMA_VERSION}): upgrade seedream-batch on this machine",
        )
    if version is None or version < SCHEMA_VERSION:
        return ok(
            "results table",
            f"{shown}: schema version {version or 0} is older than {SCHEMA_VERSION}: {_UPGRADED}",
        )
    return ok("results table", f"{shown}: schema version {version}, current")
