"""Every Redis key the product writes, named in one place.

Several fleets (accounts, models) may share one Redis, so every key starts with the product's
prefix and carries the account it belongs to, and two accounts never write the same key. Celery
and kombu name their own keys (the unacked hash, the workers' mailboxes); the one of theirs the
product writes too is the job queue, which `worker.publish` fills with LPUSH.

Lua scripts get these keys as KEYS[], never spell them.
"""

from jobs.gateway_headers import DEFAULT_GATEWAY

#: what every key of the product starts with
PREFIX = "seedream"

#: the job queue: a Redis list of Celery messages that kombu pops (BRPOP) and `worker.publish`
#: pushes a chunk at a time (LPUSH). Celery's queue name (config.celery_config) is this key, kept
#: as it was so a fleet that upgrades finds the messages already queued
JOB_QUEUE = PREFIX


def limiter_namespace(account: str | None, scope: str) -> str:
    """What the limiter's keys of one account and limit scope start with (a model's
    `limit_scope`: the provider limit its calls count against), one limit each (worker.limiter)."""
    return f"{PREFIX}:limit:{account}:{scope}"


def limiter_gateway(namespace: str, gateway: str | None) -> str:
    """A hash of one gateway's pacing state (theoretical arrival time, cool-down, rate factor),
    written by every worker's limiter on each reservation; it expires once idle."""
    return f"{namespace}:gateway:{gateway or DEFAULT_GATEWAY}"


def limiter_in_flight(namespace: str) -> str:
    """A sorted set of the calls in flight (holder -> lease expiry), written by the limiter of
    every worker as it takes, renews and releases a slot under SEEDREAM_MAX_IN_FLIGHT."""
    return f"{namespace}:in-flight"


def limiter_in_flight_released(namespace: str) -> str:
    """A list a releasing worker pushes to, so a worker waiting for a slot (BLPOP) wakes at once
    instead of polling."""
    return f"{namespace}:in-flight:released"


def reaper_turn(account: str | None) -> str:
    """The reaper's turn: a key set if absent, with a time to live of most of an interval, by
    the one worker of the account's fleet that reaps now (worker.reaper)."""
    return f"{PREFIX}:reaper:{account}:turn"


def dispatcher_turn(account: str | None) -> str:
    """The dispatcher's turn: the token of the one worker of the account's fleet that sends
    jobs from the table to the queue, with a time to live it renews (worker.fleet_coordination)."""
    return f"{PREFIX}:dispatcher:{account}:turn"


def dispatcher_wake(account: str | None) -> str:
    """A list of at most one entry that `submit`, `resume` and `retry` push to, so the
    dispatcher sends their jobs at once rather than at its next interval."""
    return f"{PREFIX}:dispatcher:{account}:wake"


def fleet_threads(account: str | None) -> str:
    """A sorted set of the account's live worker processes and their threads, each scored by
    when it expires: what the dispatcher sizes its window by."""
    return f"{PREFIX}:fleet:{account}:threads"
