"""A webhook receiver on 127.0.0.1 for the notification tests: it records every POST, checks its
signature as a real receiver would, and can fail the first requests about each batch with a 500."""

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.local_server import LocalServer


@dataclass(frozen=True)
class Received:
    """One POST as it arrived."""

    event: str
    #: the `X-Seedream-Delivery` header
    delivery: str
    signature_ok: bool
    body: dict[str, Any]
    answered: int


class WebhookReceiver(LocalServer):
    """`with WebhookReceiver(secret, fail_first=1) as hook:` listens at `hook.url`, and answers
    the first request about each batch with a 500."""

    def __init__(self, secret: str, *, fail_first: int = 0) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.received: list[Received] = []
        self._lock = threading.Lock()
        super().__init__(self._handler())
        self.url = f"{self.base_url}/hook"

    def about(self, batch: str) -> list[Received]:
        """The requests about one batch (a shared database holds other tests' batches too)."""
        with self._lock:
            return [r for r in self.received if r.body["batch"]["batch"] == batch]

    def delivered(self, batch: str) -> list[Received]:
        """The requests about the batch answered 200 (the retries' failed tries left out)."""
        return [r for r in self.about(batch) if r.answered == 200]

    def wait_for(self, batch: str, timeout: float) -> list[Received]:
        """The deliveries about the batch, once there is one (or the time is up)."""
        deadline = time.monotonic() + timeout
        while not self.delivered(batch) and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.delivered(batch)

    def _record(self, headers: Any, raw: bytes) -> int:
        expected = "sha256=" + hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()
        signature_ok = hmac.compare_digest(expected, headers.get("X-Seedream-Signature", ""))
        body = json.loads(raw)
        with self._lock:
            earlier = sum(r.body["batch"]["batch"] == body["batch"]["batch"] for r in self.received)
            answered = 500 if earlier < self.fail_first else 200
            self.received.append(
                Received(
                    headers.get("X-Seedream-Event", ""),
                    headers.get("X-Seedream-Delivery", ""),
                    signature_ok,
                    body,
                    answered,
                )
            )
        return answered

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(receiver._record(self.headers, raw))
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
