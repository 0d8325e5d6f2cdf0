"""Every setting in one typed object, read from the environment and `.env`.

Cloudflare's own variables keep Cloudflare's names (`CLOUDFLARE_API_TOKEN`, ...); the product's
carry the `SEEDREAM_` prefix. `config/.env.example` documents each one.
"""

import json
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from jobs.models import DEFAULT_MODEL, MODELS, model_named
from jobs.rates import RateLimit
from jobs.redaction import install_log_redaction, register_secrets

DEFAULT_API_BASE = "https://api.cloudflare.com"
#: the embedded default: a file in the working folder, so `run` needs nothing configured
DEFAULT_DATABASE_URL = "sqlite:///seedream.db"
DEFAULT_OUTPUT = "./output"
#: Seedream calls take 10-60 s; a read timeout of seconds would fail healthy calls
DEFAULT_API_TIMEOUT_S = 300.0
#: a job's lease; its holder renews it every third of this, so a killed worker's jobs come back
#: about this long after it died (plus the reaper's interval)
DEFAULT_LEASE_S = 60.0
#: how often each worker looks for due retries and expired leases (one at a time, fleet-wide)
DEFAULT_REAPER_INTERVAL_S = 5.0
#: the first retry waits about this long, each further one twice as long, up to the maximum
#: how often the dispatcher tops the broker's window up when nothing wakes it sooner
DEFAULT_DISPATCH_INTERVAL_S = 0.25
DEFAULT_RETRY_BASE_S = 2.0
DEFAULT_RETRY_MAX_S = 300.0
#: Cloudflare's limit for partner models under Unified Billing, per gateway
DEFAULT_RATE_LIMIT = RateLimit(count=200, window_s=60)
#: a 1K or 2K JPEG (100-600 KB) stays in memory, a 4K one to disk; 500 threads hold <= 500 MiB
DEFAULT_SPOOL_MEMORY_BYTES = 1024 * 1024
#: this host only: counters are no secret, but a worker on a bare host should not serve the
#: world; a container publishing the port sets 0.0.0.0 (docker-compose.yml does)
DEFAULT_METRICS_HOST = "127.0.0.1"
#: scheduled manifests come from the working folder by default: the schedule file names them
#: relative to it, and nothing else is needed unless the operator says so
DEFAULT_MANIFEST_ROOTS = (".",)


#: URL schemes of a Redis server (the broker's, when it is Redis, also holds the fleet's limiter)
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


#: secrets this product sends (a header, an HMAC key): stripped, then refused if anything but
#: printable ASCII is left (a NUL or a non-ASCII letter cannot go in a header)
_SECRETS = ("api_token", "webhook_secret")
#: S3's secrets, which boto3 reads from the environment itself (they are not settings), masked
#: all the same
_S3_SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
#: URLs that may carry a password or a key: stripped, refused with a control character in them
_SECRET_URLS = ("broker_url", "limiter_url", "database_url", "webhook_url")
#: the end of a refusal: a secret is never repeated, not even in part
_NOT_SHOWN = "(its value is not shown): set it to the value alone, copied again from its source"


class SettingsError(RuntimeError):
    """The settings cannot be used; the message names the variables and what to do."""


class MissingSetting(SettingsError):
    """A setting the command needs is not set; the message names the variable and what to do."""


class InvalidSettings(SettingsError):
    """Settings that do not validate; the message names each variable and its problem, never a
    value (it could be a secret)."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


def _seconds(old_name: str) -> AliasChoices:
    """A duration's variable, named for its unit like every other (`SEEDREAM_API_TIMEOUT_SECONDS`),
    then the name it had before (`SEEDREAM_API_TIMEOUT`), still read so no deployment breaks.
    The first name found wins: with both set, the new one."""
    return AliasChoices(f"{old_name}_SECONDS", old_name)


class Settings(BaseSettings):
    """What the producer, the workers and the CLI are configured with."""

    model_config = SettingsConfigDict(
        env_prefix="SEEDREAM_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        # `.env.example` lists every setting, most left empty: empty means "the default"
        env_ignore_empty=True,
    )

    api_token: SecretStr | None = Field(default=None, validation_alias=_env("CLOUDFLARE_API_TOKEN"))
    account_id: str | None = Field(default=None, validation_alias=_env("CLOUDFLARE_ACCOUNT_ID"))
    api_base: str = Field(default=DEFAULT_API_BASE, validation_alias=_env("CLOUDFLARE_API_BASE"))
    #: AI Gateway ids, comma-separated; each call goes through the one free soonest, each with
    #: its own rate limit (10 gateways, 10 times the rate). Empty = the account's default gateway.
    gateway_ids: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        validation_alias=AliasChoices("CLOUDFLARE_GATEWAY_IDS", "CLOUDFLARE_GATEWAY_ID"),
    )

    #: the model a batch calls when `run`/`submit` name none (`--model`); one of jobs.models.MODELS
    model: str = DEFAULT_MODEL
    #: unset = embedded mode (in-process broker and worker threads)
    broker_url: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    #: where images go when a command names no `--out`: a folder or s3://bucket/prefix
    output: str = DEFAULT_OUTPUT

    api_connect_timeout_seconds: float = Field(
        default=10.0, validation_alias=_seconds("SEEDREAM_API_CONNECT_TIMEOUT")
    )
    api_timeout_seconds: float = Field(
        default=DEFAULT_API_TIMEOUT_S, validation_alias=_seconds("SEEDREAM_API_TIMEOUT")
    )
    #: one deadline for a whole image download, however slowly the host sends
    fetch_timeout_seconds: float = Field(
        default=60.0, validation_alias=_seconds("SEEDREAM_FETCH_TIMEOUT")
    )
    #: downloads may connect to loopback, private, link-local and other non-public addresses
    #: (by default only to public ones, and to those of the API base's own kind)
    fetch_allow_private: bool = False
    #: the most bytes accepted for one generated image (a 4K JPEG is a few MB)
    max_image_bytes: int = 50 * 1024 * 1024
    #: worker threads per process (the work is waiting on HTTP, not CPU)
    concurrency: int = 16
    #: attempts per job for transient errors before it is failed
    max_attempts: int = Field(default=5, ge=1)
    lease_seconds: float = Field(default=DEFAULT_LEASE_S, gt=0)
    reaper_interval_seconds: float = Field(default=DEFAULT_REAPER_INTERVAL_S, gt=0)
    #: how often the dispatcher sends due jobs from the table (submit and resume wake it sooner)
    dispatch_interval_seconds: float = Field(default=DEFAULT_DISPATCH_INTERVAL_S, gt=0)
    #: the messages the broker holds beyond those running; unset = twice the fleet's free
    #: threads, at least the calls the rate limit allows in two intervals (worker.dispatcher)
    dispatch_window: int | None = Field(default=None, ge=1)
    retry_base_seconds: float = Field(default=DEFAULT_RETRY_BASE_S, ge=0)
    retry_max_seconds: float = Field(default=DEFAULT_RETRY_MAX_S, ge=0)
    #: USD per image of SEEDREAM_MODEL (the setting's meaning before there were several models);
    #: unset = SEEDREAM_PRICES' or the model's own estimate (`price_for`)
    price_per_image: float | None = Field(default=None, ge=0)
    #: USD per image by model name, as a JSON object: `{"bytedance/seedream-4.5": 0.04}`
    prices: Annotated[dict[str, Annotated[float, Field(ge=0)]], NoDecode] = Field(
        default_factory=dict
    )
    #: an image up to this size waits for its upload in memory, a larger one in a temp file, so
    #: a worker's image memory stays under concurrency x this whatever the images weigh
    spool_memory_bytes: int = Field(default=DEFAULT_SPOOL_MEMORY_BYTES, gt=0)

    #: calls per window the whole fleet may send through each gateway (`none` = unlimited);
    #: set it on every worker alike
    rate_limit: RateLimit | None = Field(default=DEFAULT_RATE_LIMIT)
    #: calls that may go at once after an idle spell; the steady rate is lowered to make room
    #: for them, so no window ever holds more than the limit
    rate_burst: int = Field(default=1, ge=1)
    #: the most calls in flight across the whole fleet; unset = as many as there are threads
    max_in_flight: int | None = Field(default=None, ge=1)
    #: a killed worker's in-flight slots come back after this long (live ones are renewed)
    in_flight_lease_seconds: float = Field(default=30.0, gt=0)
    #: the Redis holding the fleet's limiter; unset = the broker's, when it is Redis
    limiter_url: str | None = None

    #: the port a worker serves Prometheus metrics on (`/metrics`); unset = no metrics server
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    #: the address the metrics server binds
    metrics_host: str = DEFAULT_METRICS_HOST
    #: folders and/or s3://bucket/prefix a scheduled batch's manifest may come from (a message
    #: on the broker names it, so a worker checks it; producer.location_roots)
    manifest_roots: Annotated[tuple[str, ...], NoDecode] = Field(default=DEFAULT_MANIFEST_ROOTS)
    #: further places a scheduled batch may write to; `output` is always allowed
    output_roots: Annotated[tuple[str, ...], NoDecode] = ()
    #: the recurring batches `seedream-batch beat` starts (relative to the working folder)
    schedules_file: Path = Path("config/schedules.yaml")
    #: where `beat` keeps when each schedule last fired, so a restart neither repeats nor skips
    beat_state_file: Path = Path("seedream-beat.db")
    #: where batch events (completed, paused) are POSTed; unset = no notifications
    webhook_url: str | None = None
    #: signs every notification (HMAC-SHA256 of the body); never logged or sent
    webhook_secret: SecretStr | None = None

    def require_api_credentials(self) -> tuple[str, SecretStr]:
        """The account id and token, or a one-line error naming the variable to set."""
        if self.api_token is None or not self.api_token.get_secret_value():
            raise MissingSetting(
                "CLOUDFLARE_API_TOKEN is not set: create an API token with the AI Gateway "
                "permission and export it (or put it in .env)"
            )
        if not self.account_id:
            raise MissingSetting(
                "CLOUDFLARE_ACCOUNT_ID is not set: export your Cloudflare account id "
                "(dashboard > Workers AI > account id)"
            )
        return self.account_id, self.api_token

    @field_validator(*_SECRETS, *_SECRET_URLS, mode="before")
    @classmethod
    def _clean_secret(cls, value: Any, info: ValidationInfo) -> Any:
        """A secret from a file or a Kubernetes secret often ends in a newline: stripped, it
        works. What is left must be printable (ASCII, for what goes in a header)."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str):
            return value
        stripped = value.strip()
        if any(not char.isprintable() for char in stripped):
            raise ValueError(f"holds a control character (a NUL, a line break, ...) {_NOT_SHOWN}")
        if info.field_name in _SECRETS and not stripped.isascii():
            raise ValueError(f"holds a non-ASCII character {_NOT_SHOWN}")
        return stripped

    def secret_values(self) -> list[str]:
        """Every secret the settings hold: the text to mask wherever something is recorded."""
        held = (self.api_token, self.webhook_secret)
        values = [secret.get_secret_value() for secret in held if secret is not None]
        values += [os.environ.get(name, "") for name in _S3_SECRETS]
        urls = [self.broker_url, self.limiter_url, self.database_url]
        values += [urlsplit(url).password or "" for url in urls if url]
        # the whole URL: a webhook's key may be its path (https://hooks.example/T0/B0/key)
        values.append(self.webhook_url or "")
        return [value for value in values if value]

    def price_for(self, model: str) -> float:
        """USD per image of `model`, as a batch records it when made: SEEDREAM_PRICES' price for
        it, else SEEDREAM_PRICE_PER_IMAGE when `model` is SEEDREAM_MODEL, else the adapter's
        estimate. Provider spend only: Unified Billing adds its fee on credit purchases."""
        if model in self.prices:
            return self.prices[model]
        if self.price_per_image is not None and model == self.model:
            return self.price_per_image
        return model_named(model).default_price_per_image

    @field_validator("model")
    @classmethod
    def _supported_model(cls, model: str) -> str:
        model_named(model)  # UnknownModel (a ValueError) lists the supported names
        return model

    @field_validator("prices", mode="before")
    @classmethod
    def _prices_from_json(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            prices = json.loads(value)
        except ValueError:
            prices = None
        if not isinstance(prices, dict):
            raise ValueError(
                "is not a JSON object of model name to USD per image, such as "
                '{"bytedance/seedream-4.5": 0.04}'
            )
        return prices

    @field_validator("prices")
    @classmethod
    def _prices_of_supported_models(cls, prices: dict[str, float]) -> dict[str, float]:
        unknown = [name for name in prices if name not in MODELS]
        if unknown:
            raise ValueError(
                f"{', '.join(map(repr, unknown))}: not a model this version supports; name "
                f"prices of {', '.join(MODELS)}"
            )
        return prices

    @field_validator("gateway_ids", "manifest_roots", "output_roots", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _parse_rate_limit(cls, value: Any) -> Any:
        return RateLimit.parse(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_price_per_model(self) -> Self:
        named = self.prices.get(self.model)
        if self.price_per_image is not None and named is not None and named != self.price_per_image:
            raise ValueError(
                f"SEEDREAM_PRICE_PER_IMAGE={self.price_per_image:g} and SEEDREAM_PRICES "
                f"({named:g}) price {self.model} differently: set one of them"
            )
        return self

    @model_validator(mode="after")
    def _burst_fits_the_limit(self) -> Self:
        if self.rate_limit is not None and self.rate_burst > self.rate_limit.count:
            raise ValueError(
                f"SEEDREAM_RATE_BURST={self.rate_burst} is more than the "
                f"{self.rate_limit.count} calls SEEDREAM_RATE_LIMIT allows in a window"
            )
        return self

    def fleet_calls_per_second(self) -> float:
        """The calls per second the fleet's rate limit allows over all its gateways (infinite
        without a limit)."""
        if self.rate_limit is None:
            return math.inf
        return self.rate_limit.per_second(len(self.gateway_ids))

    @property
    def embedded(self) -> bool:
        """True when no broker is configured: `run` does everything in one process."""
        return not self.broker_url

    def fleet_limiter_url(self) -> str | None:
        """The Redis holding the fleet-wide limiter; None = an in-process one (embedded mode).

        A fleet on a non-Redis broker must name one: per-process limiters would each allow the
        whole rate and together overshoot it.
        """
        if self.limiter_url:
            return self.limiter_url
        if self.broker_url is None:
            return None
        if self.broker_url.startswith(REDIS_SCHEMES):
            return self.broker_url
        raise MissingSetting(
            "SEEDREAM_LIMITER_URL is not set and the broker is not Redis: set it to a redis:// "
            "URL every worker can reach, so the whole fleet shares one rate limit"
        )

    def database_path(self) -> Path | None:
        """The SQLite file behind `database_url`, when it is one."""
        prefix = "sqlite:///"
        return (
            Path(self.database_url[len(prefix) :]) if self.database_url.startswith(prefix) else None
        )


def env_name(field: str) -> str:
    """The environment variable that sets `field` (its first name, when it has several)."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"{Settings.model_config['env_prefix']}{field}".upper()


def settings_problems(error: ValidationError) -> str:
    """Every problem after the variable it is about, all in one line, and no value: pydantic's
    own text quotes every input it was given, secrets included."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False):
        message = problem["msg"].removeprefix("Value error, ")
        where = str(problem["loc"][0]) if problem["loc"] else ""
        if where in Settings.model_fields:
            where = env_name(where)
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once; from then on their secrets are masked in whatever the
    process records or logs. Settings that do not validate raise InvalidSettings."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise InvalidSettings(f"invalid settings: {settings_problems(exc)}") from None
    register_secrets(settings.secret_values())
    install_log_redaction()
    return settings
