"""A client over an httpx connection pool that it may own: made here, it is closed here; passed
in, it is the caller's. The Cloudflare clients (`worker.cloudflare`, `worker.cloudflare_account`)
share this, and are context managers through it."""

from types import TracebackType
from typing import Self

import httpx


class OwnsItsPool:
    """`close()` and `with` for a client holding `_http`, which it closes when `_owns_http`."""

    _http: httpx.Client
    _owns_http: bool

    def close(self) -> None:
        """Close the connection pool if this client made it (a pool passed in is the caller's)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
