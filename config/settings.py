"""Every setting in one typed object, read from the environment and `.env`.

Cloudflare's own variables keep Cloudflare's names (`CLOUDFLARE_API_TOKEN`, ...); the product's
carry the `SEEDREAM_` prefix. `config/.env.example` documents each one.
"""

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs.spec import DEFAULT_MODEL

DEFAULT_API_BASE = "https://api.cloudflare.com"
#: the embedded default: a file in the working folder, so `run` needs nothing configured
DEFAULT_DATABASE_URL = "sqlite:///seedream.db"
DEFAULT_OUTPUT = "./output"
#: Seedream calls take 10-60 s; a read timeout of seconds would fail healthy calls
DEFAULT_API_TIMEOUT_S = 300.0
#: a job's lease outlives the longest call, the image fetch and the upload together
DEFAULT_LEASE_S = 600.0
#: Cloudflare's price for one Seedream 4.0 image
DEFAULT_PRICE_PER_IMAGE = 0.03
#: a 1K or 2K JPEG (100-600 KB) stays in memory, a 4K one to disk; 500 threads hold <= 500 MiB
DEFAULT_SPOOL_MEMORY_BYTES = 1024 * 1024


class MissingSetting(RuntimeError):
    """A setting the command needs is not set; the message names the variable and what to do."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    """What the producer, the workers and the CLI are configured with."""

    model_config = SettingsConfigDict(
        env_prefix="SEEDREAM_", env_file=".env", extra="ignore", populate_by_name=True
    )

    api_token: SecretStr | None = Field(default=None, validation_alias=_env("CLOUDFLARE_API_TOKEN"))
    account_id: str | None = Field(default=None, validation_alias=_env("CLOUDFLARE_ACCOUNT_ID"))
    api_base: str = Field(default=DEFAULT_API_BASE, validation_alias=_env("CLOUDFLARE_API_BASE"))
    #: AI Gateway id sent as `cf-aig-gateway-id`; unset = the account's default gateway
    gateway_id: str | None = Field(default=None, validation_alias=_env("CLOUDFLARE_GATEWAY_ID"))

    model: str = DEFAULT_MODEL
    #: unset = embedded mode (in-process broker and worker threads)
    broker_url: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    #: where images go when a command names no `--out`: a folder or s3://bucket/prefix
    output: str = DEFAULT_OUTPUT

    api_connect_timeout: float = 10.0
    api_timeout: float = DEFAULT_API_TIMEOUT_S
    fetch_timeout: float = 60.0
    #: the most bytes accepted for one generated image (a 4K JPEG is a few MB)
    max_image_bytes: int = 50 * 1024 * 1024
    #: worker threads per process (the work is waiting on HTTP, not CPU)
    concurrency: int = 16
    #: attempts per job for transient errors before it is failed
    max_attempts: int = 5
    lease_seconds: float = DEFAULT_LEASE_S
    price_per_image: float = DEFAULT_PRICE_PER_IMAGE
    #: an image up to this size waits for its upload in memory, a larger one in a temp file, so
    #: a worker's image memory stays under concurrency x this whatever the images weigh
    spool_memory_bytes: int = Field(default=DEFAULT_SPOOL_MEMORY_BYTES, gt=0)

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

    @property
    def embedded(self) -> bool:
        """True when no broker is configured: `run` does everything in one process."""
        return not self.broker_url

    def database_path(self) -> Path | None:
        """The SQLite file behind `database_url`, when it is one."""
        prefix = "sqlite:///"
        return (
            Path(self.database_url[len(prefix) :]) if self.database_url.startswith(prefix) else None
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
