"""worker.address_policy: which addresses a download may connect to."""

import pytest

from worker.address_policy import AddressClass, AddressPolicy, RefusedAddress, classify

PUBLIC_API = "https://api.cloudflare.com"
RESOLVED = {
    "api.cloudflare.com": ["104.16.0.1", "2606:4700::6810:1"],
    "localhost": ["127.0.0.1", "::1"],
    "emulator": ["172.18.0.5"],
}


def table_resolver(host: str, port: int) -> list[str]:
    """Names from RESOLVED; anything else does not resolve, as with a real resolver."""
    if host not in RESOLVED:
        raise OSError(f"unknown host {host}")
    return RESOLVED[host]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("8.8.8.8", None),
        ("104.16.0.1", None),
        ("2606:4700::6810:1", None),
        ("127.0.0.1", AddressClass.loopback),
        ("127.1.2.3", AddressClass.loopback),
        ("::1", AddressClass.loopback),
        ("::ffff:127.0.0.1", AddressClass.loopback),
        ("169.254.169.254", AddressClass.link_local),
        ("fe80::1", AddressClass.link_local),
        ("fe80::1%eth0", AddressClass.link_local),
        ("::ffff:169.254.169.254", AddressClass.link_local),
        ("10.0.0.1", AddressClass.private),
        ("172.16.0.1", AddressClass.private),
        ("192.168.1.1", AddressClass.private),
        ("fd00::1", AddressClass.private),
        ("224.0.0.1", AddressClass.multicast),
        ("ff02::1", AddressClass.multicast),
        ("0.0.0.0", AddressClass.unspecified),
        ("::", AddressClass.unspecified),
        ("100.64.0.1", AddressClass.reserved),
    ],
)
def test_an_address_is_classified(address: str, expected: AddressClass | None) -> None:
    assert classify(address) is expected


@pytest.mark.parametrize(
    ("api_base", "allowed"),
    [
        (PUBLIC_API, frozenset()),
        ("http://127.0.0.1:8787", frozenset({AddressClass.loopback})),
        ("http://localhost:8787/", frozenset({AddressClass.loopback})),
        ("http://emulator:8787", frozenset({AddressClass.private})),
        ("http://[::1]:8787", frozenset({AddressClass.loopback})),
        ("http://nowhere.invalid", frozenset()),
    ],
)
def test_the_api_base_allows_its_own_class_of_address(
    api_base: str, allowed: frozenset[AddressClass]
) -> None:
    policy = AddressPolicy.for_api_base(api_base, table_resolver, allow_all=False)

    assert policy.allowed == allowed


def test_a_public_api_base_refuses_every_non_public_class() -> None:
    policy = AddressPolicy.for_api_base(PUBLIC_API, table_resolver, allow_all=False)

    for address in ("127.0.0.1", "169.254.169.254", "10.0.0.1", "224.0.0.1", "0.0.0.0"):
        with pytest.raises(RefusedAddress):
            policy.check("images.example", address)
    policy.check("images.example", "104.16.0.1")


def test_a_loopback_api_base_allows_loopback_and_nothing_else_private() -> None:
    policy = AddressPolicy.for_api_base("http://127.0.0.1:8787", table_resolver, allow_all=False)

    policy.check("images.example", "127.0.0.1")
    with pytest.raises(RefusedAddress) as refused:
        policy.check("metadata.example", "169.254.169.254")
    assert refused.value.address_class is AddressClass.link_local
    assert str(refused.value) == (
        "metadata.example resolves to 169.254.169.254, a link-local address"
    )


def test_allowing_private_addresses_allows_every_class() -> None:
    policy = AddressPolicy.for_api_base(PUBLIC_API, table_resolver, allow_all=True)

    for address in ("127.0.0.1", "169.254.169.254", "10.0.0.1", "fe80::1"):
        policy.check("images.example", address)
