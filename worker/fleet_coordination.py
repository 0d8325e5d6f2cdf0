"""What the dispatcher shares with the rest of the fleet through Redis, and the in-process stand-ins
embedded mode uses: whose turn it is, how many worker threads the fleet has, and a wake-up call.

* **The turn** is a key holding its holder's token, with a time to live its holder renews on
  every loop. One process of the fleet dispatches; if it dies, the key expires and another
  process takes the turn within a time to live and one interval (fail-over).
* **The fleet's threads**: every worker process adds itself to a sorted set, scored by when its
  entry expires, and renews it each interval; the dispatcher sums the live entries. A killed
  process drops out when its entry expires.
* **Wake-up**: `submit`, `resume` and `retry` push to a list; the dispatcher waits on it (BLPOP)
  between turns, so new work is sent at once rather than at the next interval.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol, cast

import redis

from config.settings import MissingSetting, Settings
from jobs.redis_keys import dispatcher_wake

log = logging.getLogger(__name__)

#: renew the turn if this process holds it, else take it if nobody does; 1: held, 0: not
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


class HeldTurn(Protocol):
    """Whether this process is the fleet's dispatcher now (taking the turn when it is free)."""

    def hold(self) -> bool: ...


class RedisHeldTurn:
    """The turn as a Redis key with a time to live, renewed by its holder."""

    def __init__(self, client: redis.Redis, key: str, token: str, ttl_s: float) -> None:
        self._script = client.register_script(_HOLD)
        self._key = key
        self._token = token
        self._ttl_ms = max(int(ttl_s * 1000), 1)

    def hold(self) -> bool:
        return bool(self._script(keys=[self._key], args=[self._token, self._ttl_ms]))


class AlwaysHeld:
    """Embedded mode: this process is the whole fleet."""

    def hold(self) -> bool:
        return True


class FleetThreads(Protocol):
    """The worker threads of the fleet's live processes."""

    def announce(self) -> None:
        """Say this process is alive, with its threads (renewed every interval)."""

    def total(self) -> int: ...


class RedisFleetThreads:
    """A sorted set of `identity=threads`, each scored by its expiry in milliseconds."""

    def __init__(
        self, client: redis.Redis, key: str, identity: str, threads: int, ttl_s: float
    ) -> None:
        self._client = client
        self._key = key
        self._member = f"{identity}={threads}"
        self._ttl_ms = int(ttl_s * 1000)

    def announce(self) -> None:
        self._client.zadd(self._key, {self._member: _now_ms() + self._ttl_ms})

    def total(self) -> int:
        self._client.zremrangebyscore(self._key, "-inf", _now_ms())
        members: list[bytes] = cast(list[bytes], self._client.zrange(self._key, 0, -1))
        return sum(int(member.rsplit(b"=", 1)[1]) for member in members)


class LocalThreads:
    """Embedded mode: the threads of this process's worker."""

    def __init__(self, threads: int) -> None:
        self._threads = threads

    def announce(self) -> None:
        pass

    def total(self) -> int:
        return self._threads


class Wakeup(Protocol):
    """Waits between turns until the timeout, or until new work is announced."""

    def wait(self, timeout_s: float) -> None: ...


class RedisWakeup:
    """BLPOP on the wake-up list; every call waiting there is drained at once."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self._client = client
        self._key = key

    def wait(self, timeout_s: float) -> None:
        if self._client.blpop([self._key], timeout=timeout_s):
            self._client.delete(self._key)


class EventWakeup:
    """Embedded mode: an event set by the commands of this process (LOCAL_WAKEUP)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def wait(self, timeout_s: float) -> None:
        if self._event.wait(timeout_s):
            self._event.clear()

    def set(self) -> None:
        self._event.set()


#: the wake-up of embedded mode's dispatcher, set by the commands running in the same process
LOCAL_WAKEUP = EventWakeup()


def wake_fleet(client: redis.Redis, key: str) -> None:
    """Wake the fleet's dispatcher: one entry is enough, and the list never grows past one.

    A wake-up that cannot be delivered costs only time (the dispatcher looks at the table every
    interval anyway), so a Redis that does not answer is logged, not raised."""
    try:
        pipe = client.pipeline(transaction=False)
        pipe.lpush(key, 1)
        pipe.ltrim(key, 0, 0)
        pipe.execute()
    except redis.RedisError as exc:
        log.info("the dispatcher was not woken (%s); it sends the jobs at its next turn", exc)


def _nobody_to_wake() -> None:
    """No dispatcher can be reached: it finds the jobs at its next turn."""


def _now_ms() -> int:
    return int(time.time() * 1000)


def dispatcher_waker(settings: Settings) -> Callable[[], None]:
    """What wakes the dispatcher that sends this fleet's jobs: the fleet's, through its Redis,
    or embedded mode's, in this process. A fleet with no Redis named cannot be woken (its
    workers refuse to start without one); its jobs wait in the table all the same."""
    if settings.embedded:
        return LOCAL_WAKEUP.set
    try:
        url = settings.fleet_limiter_url()
    except MissingSetting:
        return _nobody_to_wake
    if url is None:
        return _nobody_to_wake
    client = redis.Redis.from_url(url)
    key = dispatcher_wake(settings.account_id)
    return lambda: wake_fleet(client, key)
