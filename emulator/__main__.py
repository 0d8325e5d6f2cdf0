"""`python -m emulator ...`: the emulator command on its own, without the product's CLI."""

import typer

from emulator.cli import emulator_command

app = typer.Typer(add_completion=False)
app.command()(emulator_command)

if __name__ == "__main__":
    app()
