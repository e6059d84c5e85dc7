"""`revops-sync`: a thin typer layer over the library. Each area registers its own commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="revops-sync",
    help="Keep HubSpot and Salesforce on one THE MODEL funnel.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Keep HubSpot and Salesforce on one THE MODEL funnel."""


@app.command()
def version() -> None:
    """Print the installed version.

    Example: revops-sync version
    """
    from connector import __version__  # noqa: PLC0415 - keep start-up light

    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    from connector.mirror.memstatus import memory_statistics_off  # noqa: PLC0415 - keep start-up light

    memory_statistics_off()  # first, while SQLite has nothing open (connector/mirror/memstatus.py)
    app()


# Area command modules: each exposes `register(app)`. One line per area; keep them sorted.
from connector.rules.cli import register as _register_rules  # noqa: E402

_register_rules(app)
from connector import pull_cli  # noqa: E402

pull_cli.register(app)
from connector import app_cli  # noqa: E402

app_cli.register(app)
from connector.push import cli as push_cli  # noqa: E402

push_cli.register(app)
from connector.report import cli as report_cli  # noqa: E402

report_cli.register(app)
