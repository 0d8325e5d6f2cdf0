"""The Cloudflare client against the emulator over real HTTP: every answer form, every fault."""

from collections.abc import Iterator
from contextlib import contextmanager
from tempfile import SpooledTemporaryFile

import httpx
import pytest

from config.settings import DEFAULT_API_TIMEOUT_S, Settings
from jobs.errors import ErrorClass, JobError
from jobs.models.seedream_4_0 import Seedream40Input, Size, output_dimensions
from tests.support.generations import SEEDREAM_40
from tests.support.services import Emulator
from worker.cloudflare import CloudflareClient
from worker.image_fetch import fetch_image
from worker.images import inspect_image
from worker.spool import open_spool

pytestmark = pytest.mark.integration

SPEC = Seedream40Input(prompt="a lighthouse at dusk", size="1K", aspect_ratio="16:9")


def client_for(
    emulator: Emulator, api_timeout_seconds: float = DEFAULT_API_TIMEOUT_S
) -> CloudflareClient:
    env = emulator.env()
    return CloudflareClient(
        Settings(
            _env_file=None,
            api_base=env["CLOUDFLARE_API_BASE"],
            account_id=env["CLOUDFLARE_ACCOUNT_ID"],
            api_token=env["CLOUDFLARE_API_TOKEN"],
            api_timeout_seconds=api_timeout_seconds,
        )
    )


@contextmanager
def image_for(emulator: Emulator, spec: Seedream40Input) -> Iterator[SpooledTemporaryFile[bytes]]:
    """The image one call returns, in a spool as the pipeline holds it, closed on leaving `with`
    (also when the call raises), as the pipeline closes it."""
    with (
        open_spool(1024 * 1024) as spool,
        client_for(emulator) as client,
        httpx.Client() as http,
    ):
        (image,) = client.generate(SEEDREAM_40, spec).images
        if image.data is not None:
            spool.write(image.data)
        else:
            assert image.url is not None
            fetch_image(http, image.url, spool, max_bytes=10_000_000, timeout=30)
        yield spool


@pytest.mark.parametrize("form", ["url", "images_list", "base64", "data_uri", "raw", "v4_envelope"])
def test_every_success_form_gives_the_image_of_the_requested_size(
    emulator: Emulator, form: str
) -> None:
    emulator.configure(response_form=form)

    with image_for(emulator, SPEC) as image:
        facts = inspect_image(image)

    assert facts.format == "jpeg"
    assert (facts.width, facts.height) == output_dimensions(SPEC)
    assert emulator.stats()["billed"] == 1


@pytest.mark.parametrize(
    ("fault", "error_class"),
    [
        ("server_error", ErrorClass.server_error),
        ("capacity", ErrorClass.rate_limited),
        ("timeout", ErrorClass.timeout),
        ("quota", ErrorClass.quota),
        ("gateway_error", ErrorClass.server_error),
        ("failed_200", ErrorClass.server_error),
        ("content_policy", ErrorClass.content_policy),
        ("malformed", ErrorClass.server_error),
        ("errors_object", ErrorClass.server_error),
        ("non_image", ErrorClass.bad_image),
    ],
)
def test_every_fault_is_raised_as_its_error_class(
    emulator: Emulator, fault: str, error_class: ErrorClass
) -> None:
    emulator.configure(faults={fault: 1.0})

    with pytest.raises(JobError) as caught, image_for(emulator, SPEC) as image:
        inspect_image(image)

    assert caught.value.error_class is error_class
    assert emulator.env()["CLOUDFLARE_API_TOKEN"] not in caught.value.message


def test_a_hung_call_is_a_timeout_after_the_read_timeout(emulator: Emulator) -> None:
    emulator.configure(faults={"hang": 1.0}, hang_s=5)
    with client_for(emulator, api_timeout_seconds=0.5) as client, pytest.raises(JobError) as caught:
        client.generate(SEEDREAM_40, SPEC)
    assert caught.value.error_class is ErrorClass.timeout


def test_the_emulators_rate_limit_is_rate_limited_with_retry_after(emulator: Emulator) -> None:
    emulator.configure(rate_limit="1/30s")
    with client_for(emulator) as client:
        client.generate(SEEDREAM_40, SPEC)
        with pytest.raises(JobError) as caught:
            client.generate(SEEDREAM_40, SPEC)
    assert caught.value.error_class is ErrorClass.rate_limited
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 30


def test_a_wrong_token_is_an_auth_error(emulator: Emulator) -> None:
    client = CloudflareClient(
        Settings(
            _env_file=None,
            api_base=emulator.base_url,
            account_id="acct-test",
            api_token="wrong-token",
        )
    )
    with client, pytest.raises(JobError) as caught:
        client.generate(SEEDREAM_40, SPEC)
    assert caught.value.error_class is ErrorClass.auth


def test_invalid_input_caught_only_by_the_provider_is_invalid_input(emulator: Emulator) -> None:
    spec = Seedream40Input.model_construct(prompt="x", size=Size.custom, width=None, height=None)
    with client_for(emulator) as client, pytest.raises(JobError) as caught:
        client.generate(SEEDREAM_40, spec)
    assert caught.value.error_class is ErrorClass.invalid_input
    assert "5006" in caught.value.message
