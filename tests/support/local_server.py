"""An HTTP server on 127.0.0.1 (a free port) serving from a thread while a `with` block runs: what
the tests' stand-ins for other parties (a webhook receiver, a provider) are built on."""

import socketserver
import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Self


class LocalServer:
    """`with LocalServer(Handler) as server:` serves at `server.base_url` until the block ends.

    `server` is the socketserver class: HTTP by default, a plain threading TCP server for a
    stand-in that writes its own bytes.
    """

    def __init__(
        self,
        handler: type[socketserver.BaseRequestHandler],
        server: type[socketserver.TCPServer] = ThreadingHTTPServer,
    ) -> None:
        self._server = server(("127.0.0.1", 0), handler)
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
