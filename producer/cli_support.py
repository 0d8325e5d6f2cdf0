"""What every `seedream-batch` command shares: reading the settings, failing in one clear line,
finding a batch, and getting its jobs to workers (the fleet's queue, or threads right here)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from config.settings import Settings, SettingsError, get_settings
from jobs.database import NoResultsTable, open_existing_engine
from jobs.dispatch import Wake
from jobs.models import MODELS, UnknownModel, model_named
from jobs.records import DEFAULT_WEIGHT, Share
from jobs.results import Batch, ResultsTable
from jobs.variants import MAX_VARIANTS
from jobs.wording import clauses
from producer.exit_codes import ExitCode

#: progress and messages for people; stdout is for what a script reads (a batch name, JSON).
#: Lines are never cut to 80 columns in a pipe or a log: the terminal, if any, wraps them.
err = Console(stderr=True, soft_wrap=True)
#: a listing's width when it is not printed on a terminal
LISTING_WIDTH = 200


def listing_console() -> Console:
    """Standard output for a table: the terminal's width, or on a pipe or in a file a wide one,
    so that names are never cut to fit 80 columns."""
    console = Console()
    return console if console.is_terminal else Console(width=LISTING_WIDTH)


def fail(message: str, code: int = ExitCode.refused) -> typer.Exit:
    """Print `error: message` on stderr and return the exit to raise.

    The message is escaped: it may quote a manifest, and a header cell "[/b]" is not markup (rich
    raised MarkupError on it and swallowed "[bold]"). It is not wrapped: one line, whatever
    the width, so a log or a script reads it whole.
    """
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def command_settings(*, need_credentials: bool, need_broker: bool = False) -> Settings:
    """The settings, or a one-line error naming what is wrong or what the command lacks (the
    variables, never their values)."""
    try:
        settings = get_settings()
        if need_credentials:  # the commands that call the API, through the fleet's limiter
            settings.require_api_credentials()
            settings.fleet_limiter_url()
    except SettingsError as exc:
        raise fail(str(exc)) from None
    if need_broker and settings.embedded:
        raise fail(
            "SEEDREAM_BROKER_URL is not set: `submit`, `worker` and `beat` need a shared broker "
            "(e.g. redis://127.0.0.1:6379/0); use `seedream-batch run` to do it all in one process"
        )
    return settings


def existing_table(settings: Settings) -> ResultsTable:
    """The results table for a command that acts on batches already recorded (status, export,
    schedules, resume, retry, cancel), or a one-line error when there is none at
    SEEDREAM_DATABASE_URL: such a command never creates one. An existing table still gets the
    columns a newer version added."""
    try:
        engine = open_existing_engine(settings.database_url)
    except NoResultsTable as exc:
        advice = "run this from the folder you ran `run` in, or set SEEDREAM_DATABASE_URL"
        raise fail(clauses(str(exc), advice)) from None
    table = ResultsTable(engine)
    table.create_schema()
    return table


def existing_batch(table: ResultsTable, name: str) -> Batch:
    found = table.get_batch(name)
    if found is None:
        raise fail(f"no batch named {name!r}; `seedream-batch status` lists them")
    return found


@dataclass(frozen=True)
class JobSender:
    """Who sends a command's jobs, and the check to make before recording anything for them."""

    #: tells the dispatcher that sends the fleet's (or this process's) jobs that there are more
    wake: Wake
    #: raises worker.broker.BrokerUnreachable when the fleet's broker does not answer (with
    #: worker threads right here, there is nothing to reach)
    check: Callable[[], None]


@contextmanager
def job_sender(settings: Settings, concurrency: int | None = None) -> Iterator[JobSender]:
    """Who runs the jobs: the fleet, whose dispatcher sends them from the table, when a broker
    is configured; otherwise worker threads and a dispatcher in this process, which run until
    the block ends (wait for the batch inside it)."""
    from worker.app import app as celery_app
    from worker.broker import check_broker
    from worker.embedded import EmbeddedWorker
    from worker.fleet_coordination import dispatcher_waker

    wake = dispatcher_waker(settings)
    if not settings.embedded:
        yield JobSender(wake, lambda: check_broker(celery_app))
        return
    serve_scheduled_fires()
    with EmbeddedWorker(celery_app, concurrency or settings.concurrency):
        yield JobSender(wake, _nothing_to_reach)


def serve_scheduled_fires() -> None:
    """Let this process's workers make the batches of scheduled fires: the worker's task runs
    the producer's starter, installed here because only the CLI sees both sides (the
    worker.scheduled docstring says why)."""
    from producer.scheduled_run import start_scheduled_batch
    from worker.scheduled import install_batch_starter

    install_batch_starter(start_scheduled_batch)


def _nothing_to_reach() -> None:
    """The in-process broker is always there."""


def _known_model(name: str | None) -> str | None:
    """The --model given, if this version supports it; a usage error listing those it does."""
    if name is not None:
        try:
            model_named(name)
        except UnknownModel as exc:
            raise typer.BadParameter(str(exc)) from None
    return name


ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        callback=_known_model,
        help=f"The batch's model, one of {', '.join(MODELS)} (default SEEDREAM_MODEL); a batch "
        "has one model.",
    ),
]


def _positive_weight(weight: float | None) -> float | None:
    """A weight of 0 would never be served: a usage error saying what is allowed."""
    if weight is not None and not weight > 0:
        raise typer.BadParameter(f"{weight:g} is not a weight: give a number above 0, e.g. 2")
    return weight


WeightOption = Annotated[
    float | None,
    typer.Option(
        "--weight",
        callback=_positive_weight,
        help="The batch's share of the fleet against the other batches that run: weight 2 gets "
        "twice the calls of weight 1 while both have jobs waiting (default 1).",
    ),
]
MaxInFlightOption = Annotated[
    int | None,
    typer.Option(
        "--max-in-flight",
        min=1,
        help="The most of the batch's jobs sent to workers or running at once (default: no "
        "cap), so its slow calls cannot hold every worker thread.",
    ),
]

StrictOption = Annotated[
    bool, typer.Option("--strict", help="Refuse the manifest if any row is bad.")
]
RejectsOption = Annotated[
    Path | None,
    typer.Option(
        "--rejects",
        help="Write bad rows here, in the manifest's format (a campaign's: its data file's).",
    ),
]
VariantsOption = Annotated[
    int | None,
    typer.Option(
        "--variants",
        min=1,
        max=MAX_VARIANTS,
        help="Images of every row, each a call of its own, keyed {id}/1 ... {id}/N (default 1; a "
        "row's own `variants` column wins).",
    ),
]


def share_option(weight: float | None, max_in_flight: int | None) -> Share | None:
    """The share --weight and --max-in-flight ask for; None when neither was given (a new batch
    then gets an equal share, a resumed one keeps its own)."""
    if weight is None and max_in_flight is None:
        return None
    return Share(DEFAULT_WEIGHT if weight is None else weight, max_in_flight)
