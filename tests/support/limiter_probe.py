"""A stand-in worker process for the limiter tests: takes permits the way worker threads do.

    python -m tests.support.limiter_probe pace THREADS SECONDS OUT   # permits as fast as allowed
    python -m tests.support.limiter_probe hold SLOTS                 # hold slots until killed
    python -m tests.support.limiter_probe refuse RETRY_AFTER [TIMES] # calls in turn, each a 429

The limiter is built from the environment by `open_limiter`, exactly as a worker builds it, so the
tests exercise the real settings, the real Redis scripts and one process per "worker".
`pace` appends one line per permit to OUT: the wall-clock time it was granted and the gateway.
"""

import sys
import threading
import time
from pathlib import Path

from config.settings import Settings
from tests.support.generations import SEEDREAM_40
from worker.limiter import Limiter, open_limiter


def pace(limiter: Limiter, threads: int, seconds: float, out: Path) -> None:
    deadline = time.time() + seconds
    lock = threading.Lock()
    with out.open("a") as log:

        def work() -> None:
            while True:
                with limiter.permit() as permit:
                    granted = time.time()
                    if granted > deadline:
                        return
                    with lock:
                        log.write(f"{granted:.6f} {permit.gateway}\n")

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()


def hold(limiter: Limiter, slots: int) -> None:
    held = threading.Barrier(slots + 1)

    def keep() -> None:
        with limiter.permit():
            held.wait()
            time.sleep(3600)

    for _ in range(slots):
        threading.Thread(target=keep, daemon=True).start()
    held.wait()
    print("held", flush=True)
    time.sleep(3600)


def refuse(limiter: Limiter, retry_after: float, times: int) -> None:
    """`times` calls, each sent after the last one's cool-down and refused in its turn."""
    for _ in range(times):
        with limiter.permit() as permit:
            limiter.rate_limited(permit, retry_after)
    print("refused", flush=True)


def main(argv: list[str]) -> None:
    limiter = open_limiter(Settings(), SEEDREAM_40.limit_scope)
    command, *args = argv
    if command == "pace":
        pace(limiter, int(args[0]), float(args[1]), Path(args[2]))
    elif command == "hold":
        hold(limiter, int(args[0]))
    elif command == "refuse":
        refuse(limiter, float(args[0]), int(args[1]) if len(args) > 1 else 1)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
