"""A stand-in for Cloudflare on 127.0.0.1 whose answer a test writes: to make the provider say
what the emulator never does (echo a secret in an error, hand out a signed image URL)."""

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.local_server import LocalServer

#: the status and JSON body of the answer to every call
Answer = tuple[int, dict[str, Any]]


class StubProvider(LocalServer):
    """`with StubProvider(lambda: (400, {...})) as api:` answers every POST at `api.base_url`
    (CLOUDFLARE_API_BASE) with what `answer` returns."""

    def __init__(self, answer: Callable[[], Answer]) -> None:
        self._answer = answer
        super().__init__(self._handler())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        answer = self._answer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, body = answer()
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
