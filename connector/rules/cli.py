"""`revops-sync validate`: check mapping files, print every problem with its place, exit 0/1."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from connector.rules.loader import DEFAULT_MAPPING, load_files


def validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Mapping files, merged in order (default: the shipped mappings/the-model.yaml)."),
    ] = None,
) -> None:
    """Validate mapping files and report every problem as path:line:col: message (hint: ...).

    Example: revops-sync validate mappings/the-model.yaml mappings/examples/salesforce-custom-fields.yaml
    """
    paths = files or [DEFAULT_MAPPING]
    mapping, problems = load_files(paths)
    for problem in problems:
        typer.echo(str(problem))
    if mapping is None:
        files_hit = len({p.mark.file for p in problems})
        typer.echo(f"{len(problems)} problem(s) in {files_hit} file(s); mapping not valid", err=True)
        raise typer.Exit(1)
    model = mapping.model
    typer.echo(
        f"ok: {mapping.name} {mapping.version} from {len(paths)} file(s): {len(model.fields)} fields, "
        f"{len(model.advance)} advance, {len(model.recycle)} recycle, {len(model.churn)} churn, "
        f"{len(model.tasks)} task rules"
    )


def register(app: typer.Typer) -> None:
    """Add the rules commands to the root CLI."""
    app.command("validate")(validate)
