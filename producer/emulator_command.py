"""`seedream-batch emulator ...`: the Cloudflare emulator, which ships as an optional extra.

The emulator serves HTTP with starlette and uvicorn, which workers and the Docker image have no use
for, so they are the `seedream-batch[emulator]` extra and the `emulator` package is imported only
when this command runs: loading the CLI (every worker, beat and submit starts through it) never
imports them. The command takes its arguments unparsed and hands them to the emulator's own
command, run inside the CLI's group, so its help, options and option errors read as any other
command's. Without the extra it says, in one line, what to install.
"""

import typer

from producer.cli_support import fail
from producer.option_errors import OptionErrorsGroup

#: what the extra adds; a missing one of these means the extra is not installed
EXTRA_MODULES = frozenset({"starlette", "uvicorn"})
INSTALL_HINT = "pip install 'seedream-batch[emulator]'"


def emulator(ctx: typer.Context) -> None:
    """Run a local Cloudflare Workers AI emulator for bytedance/seedream-4.0 (the `emulator`
    extra)."""
    try:
        # imported here, not at the top: the extra may be absent, and nothing else needs it
        from emulator.cli import emulator_command
    except ModuleNotFoundError as exc:
        package = (exc.name or "").partition(".")[0]
        if package not in EXTRA_MODULES:
            raise
        raise fail(
            f"the emulator is an optional extra ({package} is missing): {INSTALL_HINT}"
        ) from None
    # a group of this one command (a callback makes typer build a group), so OptionErrorsGroup
    # words its option errors and its usage line reads `seedream-batch emulator`
    group = typer.Typer(
        cls=OptionErrorsGroup, rich_markup_mode=None, add_completion=False, callback=_no_options
    )
    group.command("emulator")(emulator_command)
    group(["emulator", *ctx.args], prog_name=ctx.parent.info_name if ctx.parent else None)


def _no_options() -> None:
    """The group's own part: nothing, it only runs `emulator`."""


#: the command's registration: its arguments, `--help` included, are the emulator's to parse
EMULATOR_SETTINGS = {
    "allow_extra_args": True,
    "ignore_unknown_options": True,
    "help_option_names": [],
}
