"""Who holds a lease: host, process and thread, so a dead holder can be recognised."""

import os
import socket
import threading


def process_identity() -> str:
    """`host:pid`: what every lease owner of this process starts with."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_owner() -> str:
    """`host:pid:thread` of the caller; each worker thread holds its own leases."""
    return f"{process_identity()}:{threading.get_ident()}"


def held_by_dead_local_process(owner: str) -> bool:
    """True when `owner` names a process on this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
