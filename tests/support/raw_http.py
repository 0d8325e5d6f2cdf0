"""A hostile HTTP server on 127.0.0.1 for the download and API tests: it writes whatever bytes a
test scripts, at whatever pace (one header byte every 0.2 s, a decompression bomb), and records
each request's head, so a test can see what the client asked for.

And a network backend that lets a test's connections reach 127.0.0.0/8 only, whatever a test's
resolver says a name is: no test can send traffic elsewhere, even by mistake.
"""

import gzip
import socket
import socketserver
import time
from collections.abc import Callable, Iterable

import httpcore

from tests.support.local_server import LocalServer


class _DaemonTCPServer(socketserver.ThreadingTCPServer):
    """Its connection threads never hold the test process open (a drip outlasting a test)."""

    daemon_threads = True


#: what the server does with one connection, once it read the request's head
Script = Callable[[socket.socket], None]


class RawHttpServer(LocalServer):
    """`with RawHttpServer(script) as server:` listens at `server.url` until the block ends."""

    def __init__(self, script: Script) -> None:
        self.heads: list[bytes] = []
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner.heads.append(_read_head(self.request))
                try:
                    script(self.request)
                except OSError:  # the client hung up, as a client giving up does
                    pass

        super().__init__(Handler, _DaemonTCPServer)
        self.url = self.base_url

    def header(self, name: str) -> list[str]:
        """The value of header `name` in each request received, in order ("" when absent)."""
        return [_fields(head).get(name.lower(), "") for head in self.heads]


def _fields(head: bytes) -> dict[str, str]:
    """A request head's header fields, by lower-case name."""
    pairs = (line.split(":", 1) for line in head.decode("latin-1").split("\r\n")[1:] if ":" in line)
    return {key.strip().lower(): value.strip() for key, value in pairs}


def _read_head(sock: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        piece = sock.recv(4096)
        if not piece:
            break
        head += piece
    return head


def answer(status_line: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """The bytes of a whole HTTP/1.1 answer (Content-Length added unless given)."""
    fields = {"Content-Length": str(len(body)), "Connection": "close", **headers}
    lines = [f"HTTP/1.1 {status_line}", *(f"{name}: {value}" for name, value in fields.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sends(data: bytes) -> Script:
    """A script that sends `data` at once."""
    return lambda sock: sock.sendall(data)


def drips(data: bytes, every_s: float) -> Script:
    """A script that sends `data` one byte every `every_s` seconds, until the client hangs up."""

    def script(sock: socket.socket) -> None:
        for byte in data:
            sock.sendall(bytes([byte]))
            time.sleep(every_s)

    return script


def gzip_bomb(zeros: int, layers: int = 2) -> bytes:
    """`zeros` zero bytes gzipped `layers` times: 64 MiB of zeros twice gzipped is about 1 KB."""
    data = gzip.compress(b"\0" * zeros, compresslevel=9)
    for _ in range(layers - 1):
        data = gzip.compress(data, compresslevel=9)
    return data


class LoopbackOnlyNetwork(httpcore.NetworkBackend):
    """httpcore's network, refusing (with an AssertionError) any address outside 127.0.0.0/8."""

    def __init__(self) -> None:
        self._network = httpcore.SyncBackend()
        self.connected: list[str] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        assert host.startswith("127."), f"a test tried to connect to {host}"
        self.connected.append(host)
        return self._network.connect_tcp(host, port, timeout, local_address, socket_options)

    def sleep(self, seconds: float) -> None:
        self._network.sleep(seconds)
