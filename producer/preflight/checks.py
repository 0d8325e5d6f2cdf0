"""Which checks `doctor` makes, in which order, and the cheap ones `run` and `submit` make first.

`run` and `submit` check what would otherwise fail only once a batch is recorded: the token (one
call to Cloudflare's verification endpoint, nothing billed) and the output (a probe object written
and deleted); the broker they check already. `doctor` checks everything and says what the
settings mean for the run.
"""

from collections.abc import Iterator
from pathlib import Path

from config.settings import Settings, SettingsError
from jobs.models import ModelAdapter
from jobs.wording import counted
from producer.job_count import count_jobs
from producer.manifest import ManifestError, ManifestReader, RejectedRow
from producer.preflight.cloudflare_checks import account_and_gateway_lines, token_line
from producer.preflight.lines import CheckLine, failed, ok, warning
from producer.preflight.service_checks import (
    broker_line,
    output_line,
    output_problem,
    table_line,
)
from worker.cloudflare_account import AccountApiUnreachable, CloudflareAccount


def preflight_problems(settings: Settings, output: str) -> list[str]:
    """What stops a batch before it is recorded, one line each: a token Cloudflare refuses (when
    this process holds one: `submit` may leave it to the workers) and an output that cannot be
    written. Empty when the batch may go."""
    problems: list[str] = []
    if settings.api_token is not None and settings.account_id:
        token = _token(settings)
        if token.failed:
            problems.append(token.text)
    problem = output_problem(output)
    if problem is not None:
        problems.append(problem)
    return problems


def _token(settings: Settings) -> CheckLine:
    try:
        with CloudflareAccount(settings) as account:
            return token_line(account)
    except AccountApiUnreachable as exc:
        return failed("token", f"not verified: {exc}")


def doctor_lines(settings: Settings, output: str) -> Iterator[CheckLine]:
    """Every check's line, as each is made (a slow one shows where it is)."""
    yield from _cloudflare_lines(settings)
    try:
        settings.fleet_limiter_url()
    except SettingsError as exc:
        yield failed("limiter", str(exc))
    yield broker_line(settings.broker_url)
    yield table_line(settings.database_url)
    yield output_line(output)


def _cloudflare_lines(settings: Settings) -> Iterator[CheckLine]:
    try:
        account = CloudflareAccount(settings)
    except SettingsError as exc:
        yield failed("credentials", str(exc))
        return
    with account:
        try:
            token = token_line(account)
            yield token
            if token.failed:
                yield warning("account", "not checked: the token is refused")
                return
            yield from account_and_gateway_lines(account, settings.gateway_ids)
        except AccountApiUnreachable as exc:
            yield failed("cloudflare", f"{exc}: check CLOUDFLARE_API_BASE and the network")


def manifest_jobs(manifest: Path, model: ModelAdapter) -> tuple[int | None, int | None, CheckLine]:
    """The manifest's valid rows for `model` and the most images their calls may return (None
    when it cannot be read), and its line."""
    try:
        with ManifestReader(manifest, model=model) as reader:
            count = count_jobs(reader, _ignore)
    except ManifestError as exc:
        return None, None, failed("manifest", str(exc))
    text = f"{manifest}: {counted(count.jobs, 'valid row')}"
    if count.rejected:
        bad = f"{text}, {counted(count.rejected, 'bad row')} (`run --rejects FILE` writes them out)"
        return count.jobs, count.images, warning("manifest", bad)
    return count.jobs, count.images, ok("manifest", text)


def _ignore(row: RejectedRow) -> None:
    """doctor counts bad rows; `run` reports them."""
