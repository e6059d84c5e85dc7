"""`revops-sync errors` and `revops-sync retry`: the dead-letter queue, seen and re-queued."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from connector.config import Settings
from connector.model import Crm

if TYPE_CHECKING:
    from connector.mirror.db import Mirror


def _mirror(database_url: str | None) -> Mirror:
    from connector.mirror.db import open_mirror  # noqa: PLC0415 - keep CLI start-up light

    return open_mirror(database_url or Settings.from_env().database_url)


DbOption = Annotated[
    str | None, typer.Option("--db", help="mirror database URL (default: REVOPS_DATABASE_URL)")
]


def errors(
    crm: Annotated[Crm | None, typer.Option(help="only this CRM")] = None,
    db: DbOption = None,
) -> None:
    """List writes the CRMs refused for good (dead letters), with the CRM's message.

    Example: revops-sync errors --crm hubspot
    """
    from connector.mirror.outbox import dead_letters  # noqa: PLC0415

    mirror = _mirror(db)
    with mirror.reader() as s:
        items = dead_letters(s, crm)
    if not items:
        typer.echo("no dead letters")
        return
    for item in items:
        target = f"{item.crm} {item.object_type or ''} {item.record_id or ''}".strip()
        status = f"HTTP {item.last_http_status}" if item.last_http_status else "per-record"
        typer.echo(f"{item.key}  {item.op:<12} {target:<40} {status}  {item.last_error or ''}")
    typer.echo(f"{len(items)} dead letter(s); re-queue with: revops-sync retry [KEY ...]")


def retry(
    keys: Annotated[
        list[str] | None, typer.Argument(help="outbox keys; none = every dead/failed row")
    ] = None,
    db: DbOption = None,
) -> None:
    """Put dead-lettered (or failed, conflicting, unknown) writes back in the queue for the next cycle.

    Example: revops-sync retry 3f9a...e1
    """
    from connector.mirror.outbox import requeue  # noqa: PLC0415

    mirror = _mirror(db)
    with mirror.transaction() as s:
        n = requeue(s, keys or None)
    typer.echo(f"re-queued {n} write(s); the next cycle sends them")


def register(app: typer.Typer) -> None:
    app.command()(errors)
    app.command()(retry)
