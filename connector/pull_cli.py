"""`revops-sync pull` and `revops-sync backfill`: the read side from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from connector.config import Settings

if TYPE_CHECKING:
    from connector.crm.protocol import CrmReader
    from connector.mirror.db import Mirror
    from connector.pull import StreamStats

DbOption = Annotated[
    str | None, typer.Option("--db", help="mirror database URL (default: REVOPS_DATABASE_URL)")
]
StreamOption = Annotated[
    list[str] | None,
    typer.Option("--stream", help="stream name, repeatable (default: every configured stream)"),
]
_DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"]


def _open(db: str | None) -> tuple[Mirror, list[CrmReader]]:
    from connector.crm.clients import HubSpotConnection, SalesforceConnection  # noqa: PLC0415
    from connector.mirror.db import open_mirror  # noqa: PLC0415
    from connector.pull import readers_for  # noqa: PLC0415

    settings = Settings.from_env()
    hs, sf = settings.hubspot, settings.salesforce
    readers = readers_for(
        HubSpotConnection(hs) if hs.access_token or hs.refresh_token else None,
        SalesforceConnection(sf) if sf.client_id or sf.username else None,
    )
    if not readers:
        raise typer.BadParameter("no CRM configured: set HUBSPOT_ACCESS_TOKEN and/or SALESFORCE_CLIENT_ID")
    return open_mirror(db or settings.database_url), readers


@contextmanager
def _errors_as_exit() -> Iterator[None]:
    """A setup mistake exits 2 and a CRM failure 1, each with its one-line message, no traceback."""
    from connector.errors import ConfigError, ConnectorError  # noqa: PLC0415

    try:
        yield
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except ConnectorError as exc:
        typer.echo(f"failed: {exc} (committed pages are kept; the next run resumes)", err=True)
        raise typer.Exit(1) from exc


def _print(stats: list[StreamStats]) -> None:
    for st in stats:
        state = "skipped (sweep not due)" if st.skipped else (f"FAILED: {st.error}" if st.error else "ok")
        typer.echo(
            f"{st.stream:<28} {st.records:>8} records {st.pages:>5} pages {st.api_calls:>5} calls "
            f"{st.inserted:>7} new {st.changed:>7} changed  {state}"
        )


def pull(
    stream: StreamOption = None,
    lookback_minutes: Annotated[int, typer.Option(help="re-read this much before the cursor")] = 10,
    db: DbOption = None,
) -> None:
    """Pull what changed since each stream's cursor into the mirror (one cycle's pull phase).

    Example: revops-sync pull --stream hubspot.contacts
    """
    from connector.pull import pull_cycle  # noqa: PLC0415

    with _errors_as_exit():
        mirror, readers = _open(db)
        stats = pull_cycle(
            mirror,
            readers,
            now=datetime.now(UTC),
            streams=stream,
            lookback=timedelta(minutes=lookback_minutes),
        )
    _print(stats)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def backfill(
    since: Annotated[datetime, typer.Option(formats=_DATE_FORMATS, help="start of the range (UTC)")],
    until: Annotated[
        datetime | None, typer.Option(formats=_DATE_FORMATS, help="end of the range (UTC; default now)")
    ] = None,
    stream: StreamOption = None,
    db: DbOption = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Re-read records modified in [SINCE, UNTIL] into the mirror; the live cursors do not move.

    Example: revops-sync backfill --since 2026-01-01 --until 2026-02-01 --stream salesforce.leads
    """
    from connector.backfill import backfill as run_backfill  # noqa: PLC0415

    start = _utc(since)
    assert start is not None
    with _errors_as_exit():
        mirror, readers = _open(db)
        stats = run_backfill(
            mirror,
            readers,
            since=start,
            until=_utc(until) or datetime.now(UTC),
            streams=stream,
            progress=progress,
        )
    _print(stats)


def register(app: typer.Typer) -> None:
    app.command()(pull)
    app.command()(backfill)
