"""A TCP proxy on loopback that can be taken down and brought back: "the S3 server is down".

Stopping moto itself would lose its objects (it keeps them in memory), and a stopped process
only refuses new connections. Putting this proxy between the workers and the server makes an
outage what a client sees of a real one: new connections refused, open ones reset (RST, not a
polite FIN), until the proxy listens again on the same port. The server keeps its objects.

It runs an asyncio loop in a daemon thread, so a test drives it with plain method calls.
"""

import asyncio
import socket
import struct
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self

from tests.support.processes import free_port

_CHUNK = 64 * 1024
#: SO_LINGER on, timeout 0: close() sends RST and drops anything unsent
_RESET = struct.pack("ii", 1, 0)


class TcpProxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`target_port`. Up after `start()` (or `with`)."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        #: connections accepted since start, for tests of the proxy itself
        self.accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        self._thread.start()
        self.up()

    def up(self) -> None:
        """Listen again, on the same port."""
        self._call(self._listen())

    def down(self) -> None:
        """Stop listening and reset every open connection, both sides, at once."""
        self._call(self._shut())

    def close(self) -> None:
        self.down()
        self._call(self._settled())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, step: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(step, self._loop).result(10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, "127.0.0.1", self.port, reuse_address=True, backlog=256
            )

    async def _shut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()  # the listening socket only: open connections are ours to reset
        doomed, self._open = self._open, set()
        for writer in doomed:
            _reset(writer)

    async def _settled(self) -> None:
        """Wait for every connection's task to end, as each does once `down` reset its sockets.

        Stopping the loop first would leave them pending in a closed loop: the garbage collector
        then destroys them, and asyncio logs each as an error in whatever test runs at the time.
        """
        # a connection accepted just before `down` closed the listener gets its task on a later
        # turn of the loop: let the loop turn, and wait again until no task is left
        await asyncio.sleep(0)
        while others := asyncio.all_tasks() - {asyncio.current_task()}:
            await asyncio.gather(*others, return_exceptions=True)
            await asyncio.sleep(0)

    async def _serve(self, client_in: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            server_in, server = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            _reset(client)
            return
        if self._server is None:  # went down while this one was connecting
            _reset(client)
            _reset(server)
            return
        self._open.update((client, server))
        try:
            await asyncio.gather(_pipe(client_in, server), _pipe(server_in, client))
        finally:
            # however the pipes ended: a transport left open is destroyed by the garbage
            # collector later, and its ResourceWarning fails whatever test runs then
            self._open.difference_update((client, server))
            client.close()
            server.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until either side ends; then end the other (a reset side stays reset)."""
    try:
        while data := await source.read(_CHUNK):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except OSError:
        sink.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        except OSError:
            pass
    writer.transport.abort()
