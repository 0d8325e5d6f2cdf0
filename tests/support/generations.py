"""What the tests expect a call to return, and the model they call."""

from jobs.models import DEFAULT_MODEL, model_named
from worker.responses import Generation, ProviderImage

#: the model the client and pipeline tests call
SEEDREAM_40 = model_named(DEFAULT_MODEL)


def from_url(url: str, *, log_id: str | None = None) -> Generation:
    """A call that returned one image as a URL."""
    return Generation((ProviderImage(url=url),), log_id=log_id)


def from_bytes(data: bytes) -> Generation:
    """A call that returned one image inline."""
    return Generation((ProviderImage(data=data),))
