"""Webhook notifications: a POST when a batch completes or pauses, sent once fleet-wide.

The body is JSON: `{"event": "batch.completed", "delivery_id": "...", "sent_at": "...",
"batch": {...}}`, the batch being what `status BATCH --json` prints. Headers: `X-Seedream-Event`
(the event), `X-Seedream-Delivery` (the delivery id) and, when SEEDREAM_WEBHOOK_SECRET is set,
`X-Seedream-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed with the secret>`.
`sent_at` and `delivery_id` are inside the signed body, so a receiver can refuse old replays and
drop duplicates without trusting an unsigned header: every try of one delivery sends the same
bytes, with the same id; another delivery, even of the same event, has another id.

Once: the event is claimed in the table before it is sent (jobs.notices), so of all the reapers
and embedded commands that see it, one sends it. The claim comes first, so a process that dies
between claim and send loses that notification (at most once, never twice); a send that fails
on the network or with a 5xx/429 is tried again with exponential backoff (jobs.backoff, without
jitter: one sender has no fleet to spread out), WEBHOOK_TRIES times.
Sending runs on threads of its own: a slow receiver never holds up a reaper's turn or a job.
"""

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import SecretStr

from config.settings import Settings
from jobs.backoff import exponential_backoff
from jobs.batch_summary import BatchSummary
from jobs.notices import BatchEvent
from jobs.results import ResultsTable

log = logging.getLogger(__name__)

#: tries per notification: waits of 2, 4, 8 and 16 s between them, about a minute in all with
#: the timeouts of a receiver that does not answer
WEBHOOK_TRIES = 5
WEBHOOK_FIRST_WAIT_S = 2.0
WEBHOOK_TIMEOUT_S = 10.0
#: a batch made longer ago than this is history: turning webhooks on does not announce it
NEWS_LOOKBACK = timedelta(days=7)
#: notifications sent at once by one process
SENDING_THREADS = 2


@dataclass(frozen=True)
class Delivery:
    """One notification, sent as is on every try: its id, what it is about, its exact body."""

    id: str
    event: BatchEvent
    batch_id: str
    body: bytes


def signature(body: bytes, secret: str) -> str:
    """`sha256=<hex>`: the HMAC-SHA256 of the body, keyed with the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook:
    """POSTs signed events to one URL, trying again on network errors, 5xx and 429."""

    def __init__(
        self,
        url: str,
        secret: SecretStr | None,
        *,
        first_wait_s: float = WEBHOOK_FIRST_WAIT_S,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url
        self._transport = transport
        self._secret = secret
        self._first_wait_s = first_wait_s
        self._sleep = sleep

    def delivery(self, event: BatchEvent, batch_id: str, batch: dict[str, object]) -> Delivery:
        """A new delivery of the event, with an id of its own."""
        delivery_id = str(uuid.uuid4())
        sent_at = datetime.now(UTC).isoformat(timespec="seconds")
        body = {
            "event": event.value,
            "delivery_id": delivery_id,
            "sent_at": sent_at,
            "batch": batch,
        }
        return Delivery(delivery_id, event, batch_id, json.dumps(body).encode())

    def send(self, delivery: Delivery) -> bool:
        """POST the delivery, the same bytes on every try; True once the receiver answered 2xx."""
        event, batch_id, body = delivery.event, delivery.batch_id, delivery.body
        headers = {
            "Content-Type": "application/json",
            "X-Seedream-Event": event.value,
            "X-Seedream-Delivery": delivery.id,
        }
        if self._secret is not None:
            headers["X-Seedream-Signature"] = signature(body, self._secret.get_secret_value())
        with httpx.Client(timeout=WEBHOOK_TIMEOUT_S, transport=self._transport) as client:
            for attempt in range(1, WEBHOOK_TRIES + 1):
                outcome = self._post(client, body, headers)
                log.info("webhook %s for batch %s, try %d: %s", event, batch_id, attempt, outcome)
                if isinstance(outcome, int) and 200 <= outcome < 300:
                    return True
                if isinstance(outcome, int) and outcome < 500 and outcome != 429:
                    return False  # the receiver refuses it: the same body would be refused again
                if attempt < WEBHOOK_TRIES:
                    self._sleep(exponential_backoff(attempt, base_s=self._first_wait_s))
        log.warning("webhook %s for batch %s: not delivered after %d tries",
                    event, batch_id, WEBHOOK_TRIES)  # fmt: skip
        return False

    def _post(self, client: httpx.Client, body: bytes, headers: dict[str, str]) -> int | str:
        """The status code, or the kind of network error (never the URL: it may hold a token)."""
        try:
            return client.post(self._url, content=body, headers=headers).status_code
        except httpx.TransportError as exc:
            return type(exc).__name__


class BatchNotifier:
    """Finds batches with news, claims each event in the table, and sends it."""

    def __init__(self, table: ResultsTable, webhook: Webhook) -> None:
        self._table = table
        self._webhook = webhook
        self._senders = ThreadPoolExecutor(SENDING_THREADS, thread_name_prefix="webhook")

    def notify_due(self) -> int:
        """Claim every event not yet sent and send each on a sending thread (the reaper's turn
        must stay short); returns how many were claimed."""
        since = datetime.now(UTC) - NEWS_LOOKBACK
        claimed = 0
        for batch_id, event in self._table.unnotified_events(created_since=since):
            delivery = self._claim(batch_id, event)
            if delivery is not None:
                self._senders.submit(self._webhook.send, delivery)
                claimed += 1
        return claimed

    def notify_batch(self, batch_id: str) -> bool:
        """Claim and send the batch's event now, waiting for the receiver (an embedded command
        about to exit); False when there was nothing to send or another process sends it."""
        for _, event in self._table.unnotified_events(batch_id=batch_id):
            delivery = self._claim(batch_id, event)
            if delivery is not None:
                return self._webhook.send(delivery)
        return False

    def _claim(self, batch_id: str, event: BatchEvent) -> Delivery | None:
        if not self._table.claim_event(batch_id, event):
            return None
        batch = self._table.get_batch(batch_id)
        assert batch is not None  # batches are never deleted
        return self._webhook.delivery(
            event, batch_id, BatchSummary.of(self._table, batch).as_json()
        )


def open_notifier(settings: Settings, table: ResultsTable) -> BatchNotifier | None:
    """The notifier the settings ask for; None when SEEDREAM_WEBHOOK_URL is not set."""
    if not settings.webhook_url:
        return None
    return BatchNotifier(table, Webhook(settings.webhook_url, settings.webhook_secret))


def notify_batch(settings: Settings, table: ResultsTable, batch_id: str) -> None:
    """Send the batch's news, if webhooks are on: what embedded `run`, `resume` and `retry` do
    once the batch they waited for is final or paused, before they exit."""
    notifier = open_notifier(settings, table)
    if notifier is not None:
        notifier.notify_batch(batch_id)
