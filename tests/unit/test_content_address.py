"""A job's content address says what its image is: the model, the input and the variant, and
nothing of where it goes or what it is for."""

import base64

from jobs.content_address import content_address
from jobs.models import model_named
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.models.seedream_4_5 import Seedream45Input
from tests.support.images import image_bytes

V40, V45 = model_named("bytedance/seedream-4.0"), model_named("bytedance/seedream-4.5")
PNG = base64.b64encode(image_bytes("PNG", (64, 64))).decode()


def test_the_same_input_and_variant_is_one_address_and_any_change_is_another() -> None:
    fox = Seedream40Input(prompt="a fox", size="2K")
    address = content_address(V40, fox, None)

    assert address == content_address(V40, Seedream40Input(prompt="a fox", size="2K"), 1)
    assert address != content_address(V40, fox, 2)
    assert address != content_address(V40, Seedream40Input(prompt="a fox", size="1K"), None)
    assert address != content_address(V40, Seedream40Input(prompt="a fox!", size="2K"), None)
    assert address != content_address(V45, Seedream45Input(prompt="a fox", size="2K"), None)
    assert address is not None
    assert len(address) == 64


def test_an_inline_image_is_addressed_by_its_bytes_and_a_url_has_no_address() -> None:
    as_png = Seedream40Input(prompt="make it blue", image=f"data:image/png;base64,{PNG}")
    other = base64.b64encode(image_bytes("PNG", (64, 65))).decode()

    assert content_address(V40, as_png, None) == content_address(
        V40, Seedream40Input(prompt="make it blue", image=f"data:image/png;base64,{PNG}"), None
    )
    assert content_address(V40, as_png, None) != content_address(
        V40, Seedream40Input(prompt="make it blue", image=f"data:image/png;base64,{other}"), None
    )
    by_url = Seedream40Input(prompt="make it blue", image="https://images.example/a.png")
    assert content_address(V40, by_url, None) is None
    several = Seedream45Input(
        prompt="combine", image_input=[f"data:image/png;base64,{PNG}", "https://x.example/b.png"]
    )
    assert content_address(V45, several, None) is None
