"""`serve`, `sync`, `plan`, `why`, `demo`: the commands a RevOps team runs, thin over the library.

Each command reads Settings from the environment, a `.env` file and `*_FILE` secrets, installs the
redacting log handler, and calls one library function; output is rich tables on stdout, logs on
stderr. Setup mistakes exit 2 with their place, CRM failures exit 1 with one line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from connector.config import Settings
from connector.errors import ConfigError

if TYPE_CHECKING:
    from connector.rules.compiled import Mapping
    from connector.sync import CycleReport

console = Console()

EnvFile = Annotated[Path, typer.Option("--env-file", help="KEY=VALUE file read under the environment")]
LogJson = Annotated[bool, typer.Option("--log-json", help="log one JSON object per line")]
LogLevel = Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR")]
Db = Annotated[str | None, typer.Option("--db", help="mirror database URL (default: REVOPS_DATABASE_URL)")]
Mappings = Annotated[
    list[Path] | None,
    typer.Option("--mapping", "-m", help="mapping file, repeatable (default: REVOPS_MAPPINGS)"),
]
Wait = Annotated[bool, typer.Option("--wait", help="queue behind a running daemon instead of exiting")]


def _settings(env_file: Path, *, log_json: bool = False, log_level: str = "INFO") -> Settings:
    from connector.logs import register_settings, setup_logging  # noqa: PLC0415

    try:
        settings = Settings.from_env(env_file=env_file)
    except (ValueError, OSError, ConfigError) as exc:  # a malformed .env line or value, an unreadable *_FILE
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    register_settings(settings)
    setup_logging(level=log_level, json_lines=log_json or settings.log_json)
    return settings


@contextmanager
def _exits() -> Iterator[None]:
    """Config problems exit 2, CRM failures 1 — one line each, never a traceback with a token in it."""
    from connector.daemon.lease import LeaseHeldError  # noqa: PLC0415
    from connector.daemon.reload import MappingRefusedError  # noqa: PLC0415
    from connector.errors import ConfigError, ConnectorError  # noqa: PLC0415
    from connector.jobs import JobsError  # noqa: PLC0415
    from connector.rules.loader import MappingError  # noqa: PLC0415

    try:
        yield
    except (ConfigError, JobsError, MappingError, MappingRefusedError, LeaseHeldError) as exc:
        console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    except ConnectorError as exc:
        console.print(f"[red]failed:[/red] {exc} (committed work is kept; the next cycle resumes)")
        raise typer.Exit(1) from None


def _mapping(settings: Settings, files: list[Path] | None) -> Mapping:
    """The mapping files given, else REVOPS_MAPPINGS; the shipped default when run outside the repo."""
    from connector.rules.loader import DEFAULT_MAPPING, load_mapping  # noqa: PLC0415

    paths = files or [Path(p) for p in settings.mappings]
    if not files and settings.mappings == Settings.mappings and not paths[0].exists():
        paths = [DEFAULT_MAPPING]
    return load_mapping(*paths)


def serve(
    *,
    jobs: Annotated[Path | None, typer.Option(help="jobs file (default: REVOPS_JOBS)")] = None,
    health_host: Annotated[str, typer.Option(help="address for /healthz and /metrics")] = "127.0.0.1",
    health_port: Annotated[int, typer.Option(help="port for /healthz and /metrics (0: any free)")] = 9464,
    cycles: Annotated[int | None, typer.Option(help="exit after this many cycles")] = None,
    check: Annotated[bool, typer.Option("--check", help="validate jobs and mappings, then exit")] = False,
    wait: Wait = False,
    env_file: EnvFile = Path(".env"),
    log_json: LogJson = False,
    log_level: LogLevel = "INFO",
) -> None:
    """Run the daemon: every job on its schedule, one daemon per database, mappings hot-reloaded.

    SIGTERM finishes the current page, commits and exits. Health on /healthz, Prometheus on /metrics.

    Example: revops-sync serve --jobs jobs/default.yaml --health-port 9464 --log-json
    """
    from connector.daemon.service import load_rules, serve, unpulled_fields  # noqa: PLC0415
    from connector.jobs import load_jobs  # noqa: PLC0415

    settings = _settings(env_file, log_json=log_json, log_level=log_level)
    with _exits():
        jobs_file = load_jobs(jobs or Path(settings.jobs))
        if check:
            for job in jobs_file.jobs:
                mapping = load_rules([Path(p) for p in job.mappings])
                console.print(f"ok: job {job.id} ({job.every or job.cron}) mapping {mapping.version}")
                for gap in unpulled_fields(mapping, job.streams):
                    console.print(
                        f"[yellow]warning:[/yellow] job {job.id} reads {gap}, which no stream pulls"
                    )
            return
        serve(
            settings,
            jobs_file,
            base=Path.cwd(),
            wait=wait,
            health_host=health_host,
            health_port=health_port,
            max_cycles=cycles,
        )


def sync(
    *,
    push: Annotated[bool, typer.Option(help="send queued writes to the CRMs")] = True,
    stream: Annotated[list[str] | None, typer.Option(help="only this stream, repeatable")] = None,
    mapping: Mappings = None,
    wait: Wait = False,
    env_file: EnvFile = Path(".env"),
    log_level: LogLevel = "WARNING",
) -> None:
    """Run one cycle now (pull, evaluate, queue, push) with progress, then print what it did.

    Takes the same lock as the daemon, so it never overlaps a running cycle.

    Example: revops-sync sync --no-push --stream hubspot.contacts
    """
    from connector import mirror as m  # noqa: PLC0415
    from connector.daemon.lease import Lease  # noqa: PLC0415
    from connector.daemon.progress import run_with_progress  # noqa: PLC0415
    from connector.daemon.service import configured_clients  # noqa: PLC0415

    settings = _settings(env_file, log_level=log_level)
    with _exits():
        clients = configured_clients(settings)  # setup mistakes surface before anything is touched
        rules_now = _mapping(settings, mapping)
        with Lease(settings.database_url, wait=wait):
            mirror = m.open_mirror(settings.database_url)
            report = run_with_progress(
                console, clients, mirror, rules_now, streams=stream, push=push,
                ambiguous_grace=settings.ambiguous_grace,
            )  # fmt: skip
        print_cycle(report, title="sync")


def print_cycle(report: CycleReport, *, title: str) -> None:
    """One cycle's figures as three small tables: pulled, decided, written."""
    pulled = Table(title=f"{title}: records pulled", title_justify="left")
    pulled.add_column("stream")
    pulled.add_column("records", justify="right")
    for name, n in sorted(report.records_pulled.items()):
        pulled.add_row(name, str(n))
    decided = Table(title="decisions by rule", title_justify="left")
    for col in ("kind", "rule", "n"):
        decided.add_column(col, justify="right" if col == "n" else "left")
    for (kind, rule), n in sorted(report.decisions.items()):
        decided.add_row(kind, rule, str(n))
    written = Table(title="writes", title_justify="left")
    for col in ("crm", "outcome", "n"):
        written.add_column(col, justify="right" if col == "n" else "left")
    for (crm, outcome), n in sorted(report.writes.items()):
        written.add_row(crm, outcome, str(n))
    console.print(pulled, decided, written)
    calls = ", ".join(f"{crm} {n}" for crm, n in sorted(report.api_calls.items())) or "none"
    console.print(
        f"people evaluated {report.people} (unchanged, skipped: {report.people_unchanged});"
        f" outbox new {report.outbox_new}; API calls: {calls}"
    )
    for reason in report.stopped:
        console.print(f"[yellow]stopped early:[/yellow] {reason}")


def plan(
    mapping: Mappings = None,
    examples: Annotated[int, typer.Option(help="example people per group")] = 2,
    db: Db = None,
    env_file: EnvFile = Path(".env"),
    log_level: LogLevel = "WARNING",
) -> None:
    """Replay a mapping over the mirror and print the writes it would make, grouped; sends nothing.

    Use the current mapping or an edited file: transitions and tasks are grouped by CRM, rule and
    change, and counted, with example people. Nothing is stored in the funnel or sent to a CRM.

    Example: revops-sync plan --mapping mappings/the-model.yaml --mapping my-edit.yaml
    """
    from connector import mirror as m  # noqa: PLC0415
    from connector.sync import Clients, run_cycle  # noqa: PLC0415

    settings = _settings(env_file, log_level=log_level)
    with _exits():
        rules_now = _mapping(settings, mapping)
        mirror = m.open_mirror(db or settings.database_url)
        report = run_cycle(Clients(), mirror, rules_now, dry_run=True, push=False, pull=False)
    with mirror.reader() as s:
        known = set(m.get_items(s, [w.key for w in report.planned]))
    groups: Counter[tuple[str, str, str, str, bool]] = Counter()
    people: dict[tuple[str, str, str, str, bool], list[str]] = {}
    for w in report.planned:
        moved = [
            f"{k}: {w.expected.get(k) or '∅'} → {v}"
            for k, v in sorted(w.properties.items())
            if k in w.expected
        ]
        key = (w.crm.value, w.kind.value, w.rule_id, ", ".join(moved) or "create task", w.key in known)
        groups[key] += 1
        people.setdefault(key, []).append(w.person_id)
    table = Table(title=f"plan with mapping {report.mapping_version} (no writes)", title_justify="left")
    for col in ("crm", "kind", "rule", "change", "status", "n", "e.g. person"):
        table.add_column(col, justify="right" if col == "n" else "left", overflow="fold")
    for key, n in sorted(groups.items(), key=lambda item: (item[0][4], -item[1])):
        status = "already in outbox" if key[4] else "NEW"
        table.add_row(*key[:4], status, str(n), " ".join(people[key][:examples]))
    console.print(table)
    fresh = sum(n for key, n in groups.items() if not key[4])
    console.print(
        f"{len(report.planned)} write(s) planned for {report.people} people, {fresh} not yet in the outbox; "
        f"decisions: {sum(report.decisions.values())}"
    )


def why(
    person: Annotated[str, typer.Argument(help="email, person id, or crm:object_type:record_id")],
    full: Annotated[bool, typer.Option("--full", help="every property of every record version")] = False,
    db: Db = None,
    env_file: EnvFile = Path(".env"),
) -> None:
    """Explain one person: record versions, decisions (rule, inputs, mapping version), writes and results.

    Example: revops-sync why jane.doe@example.com
    """
    from connector import mirror as m  # noqa: PLC0415

    settings = _settings(env_file, log_level="WARNING")
    mirror = m.open_mirror(db or settings.database_url)
    with mirror.reader() as s:
        timeline = m.person_timeline(s, person)
    if timeline is None:
        console.print(f"no person matches {person!r} in {db or settings.database_url}")
        raise typer.Exit(1)
    console.print(f"[bold]{timeline.email or timeline.person_id}[/bold] person {timeline.person_id}")
    console.print(f"current stage: {timeline.stage or '-'}")
    table = Table(show_lines=False)
    for col in ("at", "what", "summary", "detail"):
        table.add_column(col, overflow="fold")
    for event in timeline.events:
        shown = event.detail if full else {k: event.detail.get(k) for k in _WHY_DETAIL[event.kind]}
        detail = "; ".join(f"{k}={v}" for k, v in shown.items() if v not in (None, "", {}, []))
        table.add_row(event.at.strftime("%Y-%m-%d %H:%M:%S"), event.kind, event.summary, detail)
    console.print(table)


# what `why` shows of each event kind without --full (versions carry every property)
_WHY_DETAIL: dict[str, tuple[str, ...]] = {
    "version": ("run_id",),
    "decision": ("inputs",),
    "write": ("key", "attempts"),
    "attempt": ("crm_ids",),
}


def demo(
    people: Annotated[int, typer.Option(help="people to seed across both sandboxes")] = 2000,
    seed: Annotated[int, typer.Option(help="seed for the generated world")] = 7,
    workdir: Annotated[Path, typer.Option(help="where the mirror and report go")] = Path("var"),
) -> None:
    """Show the whole product on this machine with local sandboxes; no CRM account needed.

    Seeds both sandboxes, runs a full cycle, simulates people's work, runs a second cycle, and
    prints what changed in both CRMs, where the mirror is, and the report.

    Example: revops-sync demo --people 2000 --seed 7
    """
    from connector.demo import run_demo  # noqa: PLC0415
    from connector.logs import setup_logging  # noqa: PLC0415

    setup_logging(level="ERROR")  # the sandboxes' realistic 429s are retried; the demo shows results
    with _exits():
        run_demo(console, people=people, seed=seed, workdir=workdir)


def register(app: typer.Typer) -> None:
    """Add the daemon, demo and sandbox commands to the root CLI."""
    from connector.sandbox import cli as sandbox_cli  # noqa: PLC0415

    for command in (serve, sync, plan, why, demo):
        app.command()(command)
    sandbox_cli.register(app)
