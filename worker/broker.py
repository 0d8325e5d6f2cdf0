"""Whether the fleet's broker answers, and where it is, said without its user or password.

`submit`, `run`, `resume` and `retry` check the broker before they record or change anything:
left to itself, kombu retries a broker that is down for seconds and then raises a long traceback,
after the batch was recorded. A broker that does not answer is one `BrokerUnreachable`, whose
message says where (`redis://host:port`) and why (`connection refused`), never the password.
"""

from collections.abc import Iterator
from urllib.parse import urlsplit

from celery import Celery
from kombu import Connection
from kombu.exceptions import OperationalError

#: how long the check waits for the broker to accept and answer: a broker on the same network
#: answers in milliseconds; a few seconds leave room for a slow link without making a user wait
#: long for an answer they can act on
BROKER_CHECK_TIMEOUT_S = 3.0


class BrokerUnreachable(ConnectionError):
    """The broker did not accept a connection or a command; `location` has no credentials."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"cannot reach the broker at {location}: {reason}")
        self.location = location
        self.reason = reason


def broker_location(url: str) -> str:
    """`scheme://host:port` of a broker URL (`unix:///path` for a socket): what a message may
    show, without the user, the password or the database number."""
    parts = urlsplit(url)
    if not parts.hostname:
        return f"{parts.scheme}://{parts.path}"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a number: the URL is bad anyway, and the port is no secret
        port = ""
    return f"{parts.scheme}://{host}{port}"


def check_broker(app: Celery, timeout: float = BROKER_CHECK_TIMEOUT_S) -> None:
    """Connect to the app's broker and have it answer once, within `timeout` seconds; raise
    BrokerUnreachable if it does not. The in-memory broker of embedded mode always answers."""
    limits = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    with app.connection_for_write(connect_timeout=timeout, transport_options=limits) as conn:
        try:
            # kombu takes seconds as a float here; celery-types narrows it to int
            conn.ensure_connection(max_retries=0, timeout=timeout)  # type: ignore[arg-type]
        except broker_errors(conn) as exc:
            raise unreachable(conn, exc, timeout) from None


def broker_errors(conn: Connection) -> tuple[type[BaseException], ...]:
    """What a connection raises when its broker is gone: kombu's own error and the transport's
    (redis-py's, sockets')."""
    return (OperationalError, *conn.connection_errors, *conn.channel_errors)


def unreachable(conn: Connection, exc: BaseException, timeout: float) -> BrokerUnreachable:
    """The error to raise for `exc`, a failure to reach the broker of `conn`."""
    return BrokerUnreachable(broker_location(conn.as_uri()), _reason(exc, timeout))


def _reason(exc: BaseException, timeout: float) -> str:
    """Why, in a few words: the socket's own (`connection refused`) when there is one, else the
    innermost error's text (redis-py's say what failed, never the password)."""
    innermost = exc
    for cause in _causes(exc):
        if isinstance(cause, TimeoutError):
            return f"no answer within {timeout:g} s"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror[:1].lower() + cause.strerror[1:]
        innermost = cause
    return str(innermost).rstrip(".") or type(innermost).__name__


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what caused it, and so on (each at most once)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
