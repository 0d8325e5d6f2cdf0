"""S3 down for a stretch mid-batch: uploads fail and are retried, the API is never called again
for an image already paid for, and `retry` finishes any job that ran out of attempts."""

import time

import pytest

from tests.chaos.harness import ChaosRun
from tests.support.processes import wait_until
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.chaos

OUTAGE_S = 8


def test_an_s3_outage_costs_no_second_call(chaos: ChaosRun, s3_proxy: TcpProxy) -> None:
    batch = chaos.start(jobs=200, workers=2, latency_s=0.5, jitter_s=0.5)
    wait_until(lambda: chaos.fleet.succeeded(batch) >= 40, 60, "a fifth of the batch done")

    s3_proxy.down()
    time.sleep(OUTAGE_S)
    s3_proxy.up()
    chaos.fleet.settle(batch)
    during = chaos.outcome("S3 down 8 s", batch)
    if during.failed_classes:  # jobs that used up their attempts in the outage
        assert set(during.failed_classes) == {"storage"}
        chaos.fleet.command("retry", batch, "--class", "storage")
        chaos.fleet.settle(batch)

    result = chaos.checked("S3 down 8 s", batch)
    assert result.states["succeeded"] == 200
    assert result.attempt_classes["storage"] > 0  # the outage was felt...
    assert result.billed == 200  # ...and no image was generated twice
