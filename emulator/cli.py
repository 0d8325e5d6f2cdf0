"""`seedream-batch emulator` (and `python -m emulator`): serve the emulator with uvicorn.

The options map one to one onto `EmulatorConfig`; the account and token read the same variables
the product reads, so a shell set up for the product talks to the emulator unchanged.
"""

import socket
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError

from emulator.app import create_app
from emulator.calls import describe_validation_error
from emulator.config import EmulatorConfig
from emulator.faults import FaultKind
from emulator.responses import ResponseForm
from jobs.models import MODELS

#: seconds an idle client connection is kept open: Cloudflare's edge keeps an HTTP/1.1 connection
#: 400 s, so a client tuned for it never sees the emulator close one under it (uvicorn's own 5 s
#: would race a client whose pool keeps connections as long)
KEEP_ALIVE_S = 400


def emulator_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 = any free port).")] = 8787,
    account_id: Annotated[
        str, typer.Option(envvar="CLOUDFLARE_ACCOUNT_ID", help="The account id calls must name.")
    ] = "acct",
    api_token: Annotated[
        str,
        typer.Option(
            envvar="CLOUDFLARE_API_TOKEN",
            show_default=False,
            help="The bearer token calls must send.",
        ),
    ] = "tok",
    model: Annotated[
        list[str] | None,
        typer.Option(
            help=f"A model served, repeatable (default every one: {', '.join(MODELS)}); others "
            "get 400 / 5007."
        ),
    ] = None,
    latency: Annotated[float, typer.Option(help="Seconds each accepted call takes.")] = 0.0,
    jitter: Annotated[
        float, typer.Option(help="Up to this many more seconds per call, at random.")
    ] = 0.0,
    rate_limit: Annotated[
        str,
        typer.Option(help="Calls per window per gateway, e.g. 200/60s (Cloudflare's), or none."),
    ] = "none",
    fault: Annotated[
        list[str] | None,
        typer.Option(help="KIND=PROBABILITY, repeatable, e.g. --fault server_error=0.05."),
    ] = None,
    hang: Annotated[
        float, typer.Option(help="Seconds a `hang` fault stays silent before its 504.")
    ] = 30.0,
    response_form: Annotated[
        ResponseForm, typer.Option(help="How successes carry the image.")
    ] = ResponseForm.url,
    seed: Annotated[
        int | None, typer.Option(help="Seed for fault and jitter draws (repeatable runs).")
    ] = None,
    gateways: Annotated[
        str,
        typer.Option(help="The account's AI Gateways, e.g. a,b (any: every id asked for exists)."),
    ] = "any",
) -> None:
    """Run a local Cloudflare Workers AI emulator for the Seedream models."""
    try:
        # validated from plain values, as the control endpoint does, so both refuse alike
        config = EmulatorConfig.model_validate(
            {
                "account_id": account_id,
                "api_token": api_token,
                "models": tuple(model or MODELS),
                "latency_s": latency,
                "jitter_s": jitter,
                "rate_limit": rate_limit,
                "faults": _parse_faults(fault or []),
                "hang_s": hang,
                "response_form": response_form,
                "seed": seed,
                "gateways": gateways,
            }
        )
    except ValidationError as exc:
        raise typer.BadParameter(describe_validation_error(exc)) from None
    # bind first, so the line below names the real port (also for --port 0) and is only printed
    # once the address is ours
    try:
        sock = _bind(host, port)
    except OSError as exc:
        typer.echo(f"cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    bound_host, bound_port = sock.getsockname()[:2]
    where = f"http://{bound_host}:{bound_port}"
    typer.echo(f"Cloudflare API emulator listening on {where} ({config.summary()})")
    server_config = uvicorn.Config(
        create_app(config),
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
    )
    uvicorn.Server(server_config).run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host:port`, created with its protocol named.

    asyncio turns Nagle's algorithm off only on sockets whose protocol says TCP; a socket made
    without it (as uvicorn's own `bind_socket` makes) leaves every keep-alive answer waiting
    ~40 ms for a delayed ACK, which would cap a client at ~25 calls per second per connection.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _parse_faults(specs: list[str]) -> dict[str, float]:
    """`["server_error=0.05"]` → `{"server_error": 0.05}`; the config checks the probabilities."""
    faults: dict[str, float] = {}
    for spec in specs:
        kind, sep, chance = spec.partition("=")
        kind = kind.strip()
        try:
            if not sep:
                raise ValueError(spec)
            faults[kind] = float(chance)
        except ValueError:
            raise typer.BadParameter(
                f"{spec!r}: write KIND=PROBABILITY, e.g. server_error=0.05", param_hint="--fault"
            ) from None
        if kind not in {known.value for known in FaultKind}:
            raise typer.BadParameter(
                f"{kind!r} is not one of {', '.join(FaultKind)}", param_hint="--fault"
            )
    return faults
