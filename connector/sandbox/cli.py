"""`revops-sync sandbox up`: both local CRMs in the foreground, credentials written to an env file."""

from __future__ import annotations

import random
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

sandbox_app = typer.Typer(help="Local HubSpot and Salesforce sandboxes (no CRM account needed).")
console = Console()


@sandbox_app.command()
def up(
    *,
    hubspot_port: Annotated[int, typer.Option(help="HubSpot sandbox port (0: any free)")] = 8081,
    salesforce_port: Annotated[int, typer.Option(help="Salesforce sandbox HTTPS port (0: any free)")] = 8443,
    contacts: Annotated[int, typer.Option(help="people to seed across both CRMs")] = 2000,
    seed: Annotated[int, typer.Option(help="seed of the generated world")] = 7,
    env_file: Annotated[Path, typer.Option(help="where to write the connector's variables")] = Path(
        "var/sandbox.env"
    ),
    activity_every: Annotated[
        float, typer.Option(help="simulate people's work every N seconds (0: never)")
    ] = 0.0,
) -> None:
    """Run both sandboxes from one seeded world until Ctrl-C, writing their credentials to --env-file.

    Then, in another shell: revops-sync sync --env-file var/sandbox.env

    Example: revops-sync sandbox up --contacts 2000 --seed 7 --env-file var/sandbox.env
    """
    from connector.sandbox.runner import simulate_activity, start_sandboxes  # noqa: PLC0415

    try:
        boxes = start_sandboxes(
            env_file.parent,
            people=contacts,
            seed=seed,
            hubspot_port=hubspot_port,
            salesforce_port=salesforce_port,
        )
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot listen: {exc.strerror} (other ports, or 0 for any free)")
        raise typer.Exit(2) from None
    boxes.write_env(env_file, REVOPS_DATABASE_URL=f"sqlite:///{env_file.parent / 'sandbox.db'}")
    console.print(f"HubSpot sandbox     {boxes.hubspot.url}")
    console.print(f"Salesforce sandbox  {boxes.salesforce.url}  (CA {boxes.ca_pem})")
    console.print(f"seeded {len(boxes.world.people)} people, {len(boxes.world.deals)} deals (seed {seed})")
    console.print(f"credentials in {env_file} (mode 600); Ctrl-C stops")
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    rng = random.Random(seed)
    try:
        while not stop.wait(activity_every or 3600):
            if activity_every:
                done = simulate_activity(boxes, rng)
                console.print(f"simulated {len(done)} pieces of human work")
    finally:
        boxes.stop()
        console.print("sandboxes stopped")


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
