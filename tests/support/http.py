"""httpx test doubles shared by the client and download tests."""

from collections.abc import Callable

import httpx

Handler = Callable[[httpx.Request], httpx.Response]

#: every way the network can fail a call before an answer arrives
NETWORK_FAILURES = [
    httpx.ConnectTimeout,
    httpx.ReadTimeout,
    httpx.ConnectError,
    httpx.ReadError,
    httpx.RemoteProtocolError,
]


class Recorder:
    """A MockTransport handler that keeps the requests it saw and answers with `respond`."""

    def __init__(self, respond: Handler) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)
