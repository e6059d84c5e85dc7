"""`validate` and the loader: every error kind at its exact line and column; hostile files refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connector.cli import app
from connector.rules.loader import DEFAULT_MAPPING, load_files, load_texts

BASE = """\
name: t
ladder: [lead, mql, sal]
side_states: [recycled]
fields:
  score: {type: number, sources: {hubspot: {contacts: hubspotscore}}}
  status:
    type: enum
    sources: {hubspot: {contacts: hs_lead_status}}
    values: {hubspot: {IN_PROGRESS: working}}
advance:
  - id: mql
    to: mql
    when: {field: score, gte: 50}
  - id: sal
    to: sal
    when: {field: status, eq: working}
recycle:
  - id: back
    from: [mql]
    to: recycled
    after: 30d
"""


def variant(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


def place(text: str, token: str, nth: int = 1) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of token."""
    start = -1
    for _ in range(nth):
        start = text.index(token, start + 1)
    line = text.count("\n", 0, start) + 1
    return line, start - text.rfind("\n", 0, start)


# (case, text, token the error must point at, nth occurrence, words the message must contain)
ERRORS = [
    ("unknown stage", variant("    to: mql\n", "    to: mqll\n"), "mqll", 1, "unknown stage 'mqll'"),
    ("unknown field", variant("{field: score, gte", "{field: scor, gte"), "scor,", 1, "unknown field 'scor'"),
    ("wrong type", variant("gte: 50}", "gte: high}"), "high", 1, "wrong type"),
    ("wrong duration", variant("after: 30d", "after: soon"), "soon", 1, "wrong type"),
    (
        "numeric operator on text",
        variant("{field: status, eq: working}", "{field: status, gt: 3}"),
        "gt: 3",
        1,
        "'gt' needs a number field",
    ),
    (
        "not a value of the enum",
        variant("eq: working}", "eq: workin}"),
        "workin}",
        1,
        "'workin' is not a value",
    ),
    ("unknown operator", variant("gte: 50}", "gtee: 50}"), "gtee", 1, "unknown operator 'gtee'"),
    ("unknown key", variant("    after: 30d", "    aftr: 30d"), "aftr", 1, "unknown key 'aftr'"),
    (
        "recycle targets a missing stage",
        variant("    to: recycled", "    to: churned"),
        "churned",
        1,
        "targets undeclared stage 'churned'",
    ),
    (
        "stage unreachable from lead",
        variant("  - id: sal\n    to: sal\n", "  - id: sal\n    to: mql\n"),
        "sal]",
        1,
        "'sal' is unreachable from lead",
    ),
    ("duplicate rule id", variant("  - id: sal\n", "  - id: mql\n"), "mql", 4, "duplicate rule id 'mql'"),
    (
        "customer demoted by recycle",
        variant("ladder: [lead, mql, sal]", "ladder: [lead, mql, sal, customer]").replace(
            "from: [mql]", "from: [customer]"
        ),
        "customer",
        2,
        "would demote a customer",
    ),
    (
        "unknown CRM",
        variant("{hubspot: {contacts: hubspotscore}}", "{hubspott: {contacts: hubspotscore}}"),
        "hubspott",
        1,
        "unknown CRM 'hubspott'",
    ),
    (
        "unknown stage in a write map",
        variant("{IN_PROGRESS: working}}", "{IN_PROGRESS: working}}\n    write: {hubspot: {mqll: X}}"),
        "mqll",
        1,
        "unknown stage 'mqll'",
    ),
    (
        "field without a type",
        variant("score: {type: number, sources", "score: {sources"),
        "score",
        1,
        "has no type",
    ),
    (
        "entry time on a field that is not a stage",
        variant(
            "{type: number, sources: {hubspot: {contacts: hubspotscore}}}",
            "{type: number, sources: {hubspot: {contacts: hubspotscore}},"
            " entered_at: {hubspot: {contacts: x}}}",
        ),
        "entered_at",
        1,
        "entered_at on field 'score' of type number",
    ),
    (
        "entry time for an object the field is not read from",
        variant(
            "values: {hubspot: {IN_PROGRESS: working}}\n",
            "values: {hubspot: {IN_PROGRESS: working}}\n"
            "  stage:\n    type: stage\n    sources: {hubspot: {contacts: lifecyclestage}}\n"
            '    entered_at: {hubspot: {deals: "hs_v2_date_entered_{value}"}}\n',
        ),
        "deals",
        1,
        "no hubspot deals source for 'stage'",
    ),
    (
        "entry time property without its {value} slot",
        variant(
            "values: {hubspot: {IN_PROGRESS: working}}\n",
            "values: {hubspot: {IN_PROGRESS: working}}\n"
            "  stage:\n    type: stage\n    sources: {hubspot: {contacts: lifecyclestage}}\n"
            "    entered_at: {hubspot: {contacts: hs_v2_date_entered}}\n",
        ),
        "hs_v2_date_entered}",
        1,
        "must hold exactly one {value}",
    ),
    (
        "regex that can blow up",
        variant("{field: status, eq: working}", '{field: status, matches: "(a+)+$"}'),
        '"(a+)+$"',
        1,
        "nested quantifiers",
    ),
]


@pytest.mark.parametrize(
    ("text", "token", "nth", "words"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_error_kind_at_its_place(text: str, token: str, nth: int, words: str) -> None:
    mapping, problems = load_texts({"m.yaml": text})
    assert mapping is None
    line, col = place(text, token, nth)
    assert [(p.mark.line, p.mark.col) for p in problems if words in p.message] == [(line, col)], problems
    assert all(p.hint for p in problems)


def test_base_is_valid_and_versioned() -> None:
    mapping, problems = load_texts({"m.yaml": BASE})
    assert problems == []
    assert mapping is not None
    assert mapping.version.startswith("sha256:")
    again, _ = load_texts({"other-name.yaml": BASE + "\n# a comment changes nothing\n"})
    assert again is not None
    assert again.version == mapping.version
    changed, _ = load_texts({"m.yaml": BASE.replace("gte: 50", "gte: 51")})
    assert changed is not None
    assert changed.version != mapping.version


def test_every_error_is_collected_at_once() -> None:
    text = variant("    to: mql\n", "    to: mqll\n").replace("gtee", "x").replace("after: 30d", "aftr: 30d")
    _, problems = load_texts(
        {"m.yaml": text, "n.yaml": "advance:\n  - id: mql\n    to: mql\n    when: {field: score, gte: 1}\n"}
    )
    messages = " | ".join(p.message for p in problems)
    assert "unknown stage 'mqll'" in messages
    assert "unknown key 'aftr'" in messages
    assert [str(p.mark) for p in problems if "duplicate" in p.message] == ["n.yaml:2:9"]


def test_split_files_and_per_crm_override() -> None:
    stages = BASE.replace("  - id: mql\n    to: mql\n    when: {field: score, gte: 50}\n", "")
    scoring = "advance:\n  - id: mql\n    to: mql\n    when: {field: score, gte: 70}\n"
    override = "fields:\n  score:\n    sources: {hubspot: {contacts: custom_score}}\n"
    mapping, problems = load_texts({"stages.yaml": stages, "scoring.yaml": scoring, "hubspot.yaml": override})
    assert problems == []
    assert mapping is not None
    assert [s.prop for s in mapping.by_field["score"].values()] == ["custom_score"]
    assert [r.id for r in mapping.advance] == ["sal", "mql"]


HOSTILE = [
    ("python tag", 'name: !!python/object/apply:os.system ["touch {marker}"]\n', "is not allowed"),
    (
        "billion laughs",
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
        "aliases",
    ),
    ("deep nesting", "a: " + "[" * 5000 + "]" * 5000 + "\n", "nesting deeper"),
    ("huge file", "name: x\n" + "# padding\n" * 1_100_000, "over"),
]


@pytest.mark.parametrize(("text", "words"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_files_are_refused_before_anything_runs(tmp_path: Path, text: str, words: str) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("{marker}", str(marker)))
    mapping, problems = load_files([bad])
    assert mapping is None
    assert len(problems) == 1
    assert words in problems[0].message
    assert str(problems[0].mark).startswith(f"{bad}:")
    assert not marker.exists()


@pytest.mark.parametrize(
    "extra",
    sorted(str(p) for p in (DEFAULT_MAPPING.parent / "examples").glob("*.yaml")),
    ids=lambda p: Path(p).name,
)
def test_shipped_examples_validate_with_the_default(extra: str) -> None:
    mapping, problems = load_files([DEFAULT_MAPPING, Path(extra)])
    assert problems == []
    assert mapping is not None


def test_cli_reports_places_hints_and_summary(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(variant("    to: mql\n", "    to: mqll\n"))
    runner = CliRunner()
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:12:9: unknown stage 'mqll' (hint: expected one of" in result.output
    assert "1 problem(s) in 1 file(s)" in result.output
    ok = runner.invoke(app, ["validate"])
    assert ok.exit_code == 0
    assert ok.output.startswith("ok: the-model sha256:")


def test_cli_as_a_process(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("advance:\n  - id: x\n    to: lead\n    when: {field: nope, exists: true}\n")
    exe = Path(sys.executable).with_name("revops-sync")
    proc = subprocess.run(
        [str(exe), "validate", str(DEFAULT_MAPPING), str(bad)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 1
    assert f"{bad}:4:19: unknown field 'nope'" in proc.stdout
    assert "problem(s)" in proc.stderr
    good = subprocess.run(
        [str(exe), "validate", str(DEFAULT_MAPPING)], capture_output=True, text=True, check=False, timeout=60
    )
    assert good.returncode == 0, good.stdout + good.stderr
