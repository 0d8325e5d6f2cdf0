"""`python -m emulator ...`: the emulator command on its own, without the product's CLI."""

import typer

from emulator.cli import emulator_command

# plain click output, as the product CLI: errors on one line, not in a box wrapped at 80 columns
app = typer.Typer(add_completion=False, rich_markup_mode=None)
app.command()(emulator_command)

if __name__ == "__main__":
    app()
