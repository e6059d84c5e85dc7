"""`revops-sync report`: the weekly handover report from the mirror (terminal, --html, --json)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from connector.report.periods import Period


def _date(raw: str | None, flag: str) -> datetime | None:
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        msg = f"{flag} {raw!r}: expected a date like 2026-11-02 or 2026-11-02T09:00:00Z"
        raise typer.BadParameter(msg) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def register(app: typer.Typer) -> None:
    @app.command()
    def report(  # noqa: PLR0917 - one option per CLI flag
        since: Annotated[
            str | None, typer.Option(help="window start, UTC date (default: 12 periods back)")
        ] = None,
        until: Annotated[
            str | None, typer.Option(help="window end, exclusive (default: end of this period)")
        ] = None,
        period: Annotated[Period, typer.Option(help="week (ISO, Monday start) or month")] = Period.WEEK,
        target: Annotated[
            float | None, typer.Option(help="revenue target: pipeline needed = target / win rate")
        ] = None,
        html: Annotated[
            Path | None, typer.Option(help="also write a self-contained HTML report here")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
        db: Annotated[
            str | None, typer.Option(help="mirror database URL (default: REVOPS_DATABASE_URL)")
        ] = None,
    ) -> None:
        """Funnel per period, conversions, speed to lead, recycle, Field Sales, reference flags, bottleneck.

        Example: revops-sync report --period month --target 500000 --html var/report.html
        """
        from rich.console import Console  # noqa: PLC0415 - keep CLI start-up light

        from connector.config import Settings  # noqa: PLC0415
        from connector.errors import ConfigError  # noqa: PLC0415
        from connector.mirror import open_mirror  # noqa: PLC0415
        from connector.report.api import report_from_mirror  # noqa: PLC0415
        from connector.report.render_html import render_html  # noqa: PLC0415
        from connector.report.render_json import render_json  # noqa: PLC0415
        from connector.report.render_terminal import render_terminal  # noqa: PLC0415
        from connector.rules.loader import MappingError, load_mapping  # noqa: PLC0415

        try:
            settings = Settings.from_env()
            mapping = load_mapping(*(Path(p) for p in settings.mappings))
        except (ConfigError, MappingError) as exc:  # one line naming the variable or file:line
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        mirror = open_mirror(db or settings.database_url)
        try:
            bounds = {"since": _date(since, "--since"), "until": _date(until, "--until")}
            result = report_from_mirror(mirror, period=period, target=target, mapping=mapping, **bounds)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        finally:
            mirror.close()
        if html is not None:  # the file first: a closed pipe on stdout must not lose it
            html.parent.mkdir(parents=True, exist_ok=True)
            html.write_text(render_html(result), encoding="utf-8")
        if as_json:
            typer.echo(render_json(result))
        else:
            render_terminal(result, Console())
        if html is not None:
            typer.echo(f"HTML report: {html.resolve()}", err=as_json)
