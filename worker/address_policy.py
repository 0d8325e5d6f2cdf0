"""Which addresses a download may connect to: public ones, and the classes the operator vouches for.

The image URL comes from a third party's answer. Fetched blindly, it reaches what only the worker
can reach: loopback services, the cloud's metadata endpoint (169.254.169.254), the private
network. Every address a download connects to is classified here; a non-public class is refused
unless the API base itself lives on that class (the emulator on 127.0.0.1, a proxy on the compose
network: its images are served from the same kind of address) or SEEDREAM_FETCH_ALLOW_PRIVATE is
set. `worker.guarded_network` applies the policy at connect time, to the address it connects to.
"""

import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

#: host and port to the addresses they resolve to (the system's resolver, or a test's table)
Resolver = Callable[[str, int], Sequence[str]]


class AddressClass(StrEnum):
    """A kind of address a download is not sent to by default; public addresses have none."""

    #: 0.0.0.0, ::: "this host" on most systems
    unspecified = "unspecified"
    #: 127.0.0.0/8, ::1: services of the worker's own host
    loopback = "loopback"
    #: 169.254.0.0/16, fe80::/10: the cloud metadata endpoint lives here
    link_local = "link-local"
    #: 224.0.0.0/4, ff00::/8
    multicast = "multicast"
    #: 10/8, 172.16/12, 192.168/16, fc00::/7 and the like: the private network
    private = "private"
    #: everything else that is not globally routable (100.64/10, 240/4, documentation ranges)
    reserved = "reserved"


class RefusedAddress(Exception):
    """A download was about to connect to an address its policy refuses; nothing was sent."""

    def __init__(self, host: str, address: str, address_class: AddressClass) -> None:
        super().__init__(f"{host} resolves to {address}, a {address_class} address")
        self.host = host
        self.address = address
        self.address_class = address_class


def classify(address: str) -> AddressClass | None:
    """The class of an IP address, or None when it is public (IPv4-mapped IPv6 as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a zone (fe80::1%eth0) is no address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        (ip.is_unspecified, AddressClass.unspecified),
        (ip.is_loopback, AddressClass.loopback),
        (ip.is_link_local, AddressClass.link_local),
        (ip.is_multicast, AddressClass.multicast),
        (ip.is_private, AddressClass.private),
        (not ip.is_global, AddressClass.reserved),
    )
    return next((address_class for matches, address_class in checks if matches), None)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for a TCP connection, in the system's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class AddressPolicy:
    """The non-public address classes a download may connect to (public ones always may)."""

    allowed: frozenset[AddressClass] = frozenset()
    #: SEEDREAM_FETCH_ALLOW_PRIVATE: every address is allowed
    allow_all: bool = False

    @classmethod
    def for_api_base(cls, api_base: str, resolver: Resolver, *, allow_all: bool) -> "AddressPolicy":
        """The policy for a worker whose API is at `api_base`: the classes of the addresses its
        host resolves to are allowed (an API base that cannot be resolved allows none). With
        `allow_all` nothing is looked up: every class is allowed anyway."""
        if allow_all:
            return cls(allow_all=True)
        parts = urlsplit(api_base)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = [host] if _is_literal(host) else resolver(host, port) if host else []
        except OSError as exc:
            log.warning("API base host %s does not resolve (%s): no private address is "
                        "allowed for downloads", host, exc)  # fmt: skip
            addresses = []
        found = (classify(address) for address in addresses)
        return cls(frozenset(c for c in found if c is not None))

    def check(self, host: str, address: str) -> None:
        """RefusedAddress when `address`, which `host` resolved to, is not to be connected to."""
        address_class = classify(address)
        if address_class is not None and not self.allow_all and address_class not in self.allowed:
            raise RefusedAddress(host, address, address_class)


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
