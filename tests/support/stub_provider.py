"""A stand-in for Cloudflare on 127.0.0.1 whose answer a test writes: to make the provider say
what the emulator never does (echo a secret in an error, hand out a signed image URL).

It verifies any token (`GET .../tokens/verify`), as `run` and `submit` ask before recording a
batch: what a test writes is the answer to the calls."""

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.local_server import LocalServer

#: the status and JSON body of the answer to every call
Answer = tuple[int, dict[str, Any]]
#: the answer to a token verification: any token is valid and active
VERIFIED: Answer = (200, {"success": True, "errors": [], "result": {"status": "active"}})
NOT_FOUND: Answer = (404, {"success": False, "errors": [{"code": 7003, "message": "No route"}]})


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
                self._send(*answer())

            def do_GET(self) -> None:
                self._send(*(VERIFIED if self.path.endswith("/tokens/verify") else NOT_FOUND))

            def _send(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
