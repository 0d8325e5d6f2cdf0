"""Webhook notifications: the signature a receiver checks, retries, and each event sent once."""

import hashlib
import hmac
import json
import logging

import httpx
import pytest
from pydantic import SecretStr

from jobs.errors import AuthError
from jobs.notices import BatchEvent
from jobs.results import ResultsTable
from tests.support.http import Recorder
from tests.support.tables import loaded, stored
from worker.notify import WEBHOOK_TRIES, BatchNotifier, Delivery, Webhook, signature

SECRET = "top-secret"


def test_the_signature_is_the_hmac_sha256_of_the_exact_body_as_a_receiver_checks_it() -> None:
    body = b'{"event": "batch.completed"}'

    signed = signature(body, SECRET)

    # computed with `openssl dgst -sha256 -hmac top-secret`
    assert signed == "sha256=303099478263a61063d38ec343fa014e55c1da0c040b502d18fbc4fd410316fa"
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, signed)


def _webhook(*statuses: int | type[httpx.RequestError]) -> tuple[Webhook, Recorder, list[float]]:
    answers = iter(statuses)

    def respond(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, int):
            return httpx.Response(answer)
        raise answer("down", request=request)

    waits: list[float] = []
    recorder = Recorder(respond)
    hook = Webhook(
        "http://hooks.test/x?token=abc",
        SecretStr(SECRET),
        sleep=waits.append,
        transport=httpx.MockTransport(recorder),
    )
    return hook, recorder, waits


def _delivery(event: BatchEvent) -> Delivery:
    return Delivery("delivery-1", event, "b", b"{}")


def test_a_5xx_or_a_network_error_is_tried_again_with_exponential_backoff() -> None:
    hook, recorder, waits = _webhook(500, httpx.ConnectError, 429, 200)

    assert hook.send(_delivery(BatchEvent.completed))

    assert len(recorder.requests) == 4
    assert waits == [2.0, 4.0, 8.0]
    request = recorder.requests[0]
    assert request.headers["X-Seedream-Event"] == "batch.completed"
    assert request.headers["X-Seedream-Signature"] == signature(b"{}", SECRET)


def test_a_4xx_is_not_tried_again_and_a_dead_receiver_is_given_up_after_every_try() -> None:
    refused, refused_requests, _ = _webhook(400)
    dead, dead_requests, waits = _webhook(*[503] * WEBHOOK_TRIES)

    assert not refused.send(_delivery(BatchEvent.paused))
    assert not dead.send(_delivery(BatchEvent.paused))

    assert len(refused_requests.requests) == 1
    assert len(dead_requests.requests) == WEBHOOK_TRIES
    assert sum(waits) == 30.0


def test_the_log_says_the_status_and_never_the_secret_or_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook, _, _ = _webhook(500, 200)

    with caplog.at_level(logging.INFO, logger="worker.notify"):
        hook.send(_delivery(BatchEvent.completed))

    assert "try 1: 500" in caplog.text
    assert "try 2: 200" in caplog.text
    assert SECRET not in caplog.text
    assert "token=abc" not in caplog.text


def _finish(table: ResultsTable, job_ids: list[int]) -> None:
    for job_id in job_ids:
        claim = table.claim(job_id, "w", 60)
        assert claim is not None
        table.record_succeeded(claim, "w", stored())


def test_a_completed_batch_has_one_event_and_only_one_process_claims_it(
    table: ResultsTable,
) -> None:
    ids = loaded(table, "a", "b")
    assert table.unnotified_events() == []  # still running
    _finish(table, ids)

    assert table.unnotified_events() == [("b", BatchEvent.completed)]
    assert table.claim_event("b", BatchEvent.completed)
    assert not table.claim_event("b", BatchEvent.completed)
    assert table.unnotified_events() == []


def test_a_paused_batch_that_is_resumed_and_completes_sends_both_events(
    table: ResultsTable,
) -> None:
    ids = loaded(table, "a")
    claim = table.claim(ids[0], "w", 60)
    assert claim is not None
    table.record_failure(claim, "w", AuthError("401: bad token"), 5, 0)  # pauses the batch
    assert table.unnotified_events(batch_id="b") == [("b", BatchEvent.paused)]
    assert table.claim_event("b", BatchEvent.paused)

    table.resume("b")
    assert not table.claim_event("b", BatchEvent.paused)  # no longer paused: no longer news
    _finish(table, ids)

    assert table.claim_event("b", BatchEvent.completed)


def test_the_notifier_sends_what_it_claimed_with_the_batch_summary(table: ResultsTable) -> None:
    _finish(table, loaded(table, "a"))
    hook, recorder, _ = _webhook(200)
    notifier = BatchNotifier(table, hook)

    assert notifier.notify_batch("b")
    assert not notifier.notify_batch("b")  # sent once

    [request] = recorder.requests
    body = json.loads(request.content)
    assert body["event"] == "batch.completed"
    assert body["batch"]["batch"] == "b"
    assert body["batch"]["counts"]["succeeded"] == 1
    assert body["sent_at"]


def test_every_try_of_a_delivery_carries_its_id_and_another_delivery_has_another(
    table: ResultsTable,
) -> None:
    _finish(table, loaded(table, "a", batch="first"))
    _finish(table, loaded(table, "a", batch="second"))
    hook, recorder, _ = _webhook(500, 200, 200)
    notifier = BatchNotifier(table, hook)

    assert notifier.notify_batch("first")
    assert notifier.notify_batch("second")

    sent = [(r.headers["X-Seedream-Delivery"], json.loads(r.content)) for r in recorder.requests]
    assert [body["batch"]["batch"] for _, body in sent] == ["first", "first", "second"]
    assert all(header == body["delivery_id"] for header, body in sent)  # header = signed body
    assert sent[0][0] == sent[1][0]  # a retry is the same delivery: a receiver drops the copy
    assert sent[2][0] != sent[0][0]
    assert len(sent[0][0]) >= 32
