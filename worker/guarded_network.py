"""The network under the worker's HTTP clients: addresses vetted at connect time, one deadline per
request.

httpx takes a host name and connects wherever it resolves. Checking the URL first and connecting
later leaves a gap a hostile DNS server fills (rebinding: public for the check, 127.0.0.1 for the
connect). So the check is made where the connection is: this httpcore network backend resolves
the host itself (with an injectable resolver), has every address vetted by the policy, and
connects to a vetted IP; TLS still names the original host (httpcore passes it for SNI and the
certificate check). Every new connection is vetted, so each redirect hop is too.

httpx's timeouts bound each network wait, not the whole request: a server that drips one byte of
its headers every second never trips a 5 s read timeout. `deadline(seconds)` sets one deadline
for the requests made inside it (in this thread), and every connect, read and write of a guarded
stream waits at most until then, so a request ends at its deadline whatever the server does.
(Resolving a name is not bounded by it: the system resolver cannot be interrupted.)
"""

import contextvars
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from jobs.errors import ProviderTimeout
from worker.address_policy import AddressPolicy, Resolver, system_resolver

#: how long an idle connection is kept for reuse: under the 5 s after which uvicorn, Node and
#: Apache close one. At 5 s (httpx's default) a request sent just as the server closes the
#: connection fails unsent ("Server disconnected"), costing a job an attempt for nothing.
IDLE_CONNECTION_S = 4.0

#: when the requests of the current thread must be over (time.monotonic()); None = no deadline
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "seedream_request_deadline", default=None
)


@contextmanager
def deadline(seconds: float, expired: str) -> Iterator[None]:
    """Requests made through a guarded client inside this block end within `seconds` in total;
    a ProviderTimeout raised once that time passed is raised again as one saying `expired`."""
    until = time.monotonic() + seconds
    token = _deadline.set(until)
    try:
        yield
    except ProviderTimeout:
        if time.monotonic() >= until:
            raise ProviderTimeout(expired) from None
        raise
    finally:
        _deadline.reset(token)


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    """`timeout`, shortened to what is left before the deadline; `expired` raised once it passed."""
    until = _deadline.get()
    if until is None:
        return timeout
    left = until - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _GuardedStream(httpcore.NetworkStream):
    """A connection whose every wait ends at the deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _GuardedStream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Connects only to addresses `policy` allows (any, when None), within the deadline."""

    def __init__(
        self,
        policy: AddressPolicy | None = None,
        resolver: Resolver = system_resolver,
        network: httpcore.NetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._network = network or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._vetted(host, port)
        for index, address in enumerate(addresses):
            try:
                stream = self._network.connect_tcp(
                    address,
                    port,
                    _bounded(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                if index == len(addresses) - 1:
                    raise
                continue
            return _GuardedStream(stream)
        raise httpcore.ConnectError(f"{host} resolves to no address")

    def sleep(self, seconds: float) -> None:
        self._network.sleep(seconds)

    def _vetted(self, host: str, port: int) -> list[str]:
        """Every address of `host`; RefusedAddress when the policy refuses any one of them (a
        name that mixes public and internal addresses is not to be trusted with either)."""
        try:
            addresses = list(self._resolver(host, port))
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from None
        if self._policy is not None:
            for address in addresses:
                self._policy.check(host, address)
        return addresses


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport on a GuardedBackend."""

    def __init__(self, backend: GuardedBackend, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        # httpx 0.28 has no public way to give its transport a network backend (encode/httpx
        # PR 3749 adds one); the pool is built as HTTPTransport builds it, with the backend
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


def guarded_client(
    connections: int,
    policy: AddressPolicy | None = None,
    resolver: Resolver = system_resolver,
    network: httpcore.NetworkBackend | None = None,
) -> httpx.Client:
    """An httpx.Client that connects only where `policy` allows and honours `deadline`, with
    up to `connections` open at once and kept for reuse.

    It follows no redirects itself (the caller vets each hop) and ignores proxy variables: a
    proxy would resolve the host itself, past the policy.
    """
    backend = GuardedBackend(policy, resolver, network)
    limits = httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=IDLE_CONNECTION_S,
    )
    return httpx.Client(
        transport=_GuardedTransport(backend, limits), follow_redirects=False, trust_env=False
    )
