"""Load one or more mapping files into one validated, compiled Mapping, reporting every problem.

Files merge in order: keyed sections (fields, deals, precedence, ...) merge deeply, so a later
file can override a single CRM's property name; rule lists concatenate, and a later rule may
take over an earlier one's id only with `replace: true`. Every problem carries the file, line
and column it comes from, and loading never stops at the first one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connector.rules.checks import check_semantics
from connector.rules.compiled import Mapping, compile_mapping
from connector.rules.schema import CONDITION_TAGS, OPERATORS, RULE_SECTIONS, MappingFile
from connector.rules.yamlsafe import Document, Mark, Path_, YamlError, parse, read

DEFAULT_MAPPING = Path(__file__).resolve().parents[2] / "mappings" / "the-model.yaml"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a mapping, at its place."""

    mark: Mark
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.mark}: {self.message} (hint: {self.hint})"


class MappingError(Exception):
    """Raised by `load_mapping` when any file has problems; carries all of them."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(slots=True)
class _Merged:
    data: dict[str, Any]
    values: dict[Path_, Mark]
    keys: dict[Path_, Mark]
    first_file: str

    def mark_of(self, path: Path_, *, key: bool = False) -> Mark:
        """The mark of a path, else of its nearest ancestor that has one."""
        if key and path in self.keys:
            return self.keys[path]
        for cut in range(len(path), -1, -1):
            found = self.values.get(path[:cut])
            if found:
                return found
        return Mark(self.first_file, 1, 1)


def _copy_marks(doc: Document, src: Path_, dst: Path_, merged: _Merged) -> None:
    n = len(src)
    for table, into in ((doc.values, merged.values), (doc.keys, merged.keys)):
        for path, mark in table.items():
            if path[:n] == src:
                into[dst + path[n:]] = mark


def _merge_into(
    target: dict[str, Any], incoming: dict[str, Any], doc: Document, path: Path_, m: _Merged
) -> None:
    for key, value in incoming.items():
        here = (*path, key)
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            m.keys[here] = doc.keys.get(here, m.mark_of(here))
            _merge_into(target[key], value, doc, here, m)
        else:
            target[key] = value
            _copy_marks(doc, here, here, m)


def _merge_rules(section: str, items: Any, doc: Document, m: _Merged, problems: list[Problem]) -> None:
    if not isinstance(items, list):
        m.data[section] = items  # pydantic reports the wrong type at this place
        _copy_marks(doc, (section,), (section,), m)
        return
    existing: list[Any] = m.data.setdefault(section, [])
    index = {r.get("id"): i for i, r in enumerate(existing) if isinstance(r, dict)}
    for i, rule in enumerate(items):
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        replace = isinstance(rule, dict) and rule.get("replace") is True
        if rule_id is not None and rule_id in index:
            where = m.mark_of((section, index[rule_id], "id"))
            if not replace:
                problems.append(
                    Problem(
                        doc.values.get((section, i, "id"), Mark(doc.file, 1, 1)),
                        f"duplicate rule id '{rule_id}' in {section}",
                        f"first defined at {where}; rename it, or set `replace: true` to override it",
                    )
                )
                continue
            slot = index[rule_id]
            existing[slot] = rule
        else:
            slot = len(existing)
            existing.append(rule)
            if rule_id is not None:
                index[rule_id] = slot
        _copy_marks(doc, (section, i), (section, slot), m)


def merge(docs: list[Document]) -> tuple[_Merged, list[Problem]]:
    """Merge parsed documents in order, keeping every value's original place."""
    merged = _Merged({}, {(): Mark(docs[0].file, 1, 1)}, {}, docs[0].file)
    problems: list[Problem] = []
    for doc in docs:
        if not isinstance(doc.data, dict):
            problems.append(
                Problem(doc.values[()], "a mapping file must be a YAML mapping", "start with `name:`")
            )
            continue
        for key, value in doc.data.items():
            if key in RULE_SECTIONS:
                _merge_rules(key, value, doc, merged, problems)
            else:
                _merge_into(merged.data, {key: value}, doc, (), merged)
    return merged, problems


def _strip_tags(loc: tuple[str | int, ...]) -> tuple[Path_, bool]:
    """Drop pydantic's union tags from an error location; report whether it ended in a leaf."""
    out: list[str | int] = []
    in_leaf = False
    for i, part in enumerate(loc):
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if part == "leaf":
            in_leaf = True
            continue
        if part in CONDITION_TAGS and (nxt == part or (part == "at_least" and nxt == "of")):
            in_leaf = False
            continue
        out.append(part)
    return tuple(out), in_leaf and len(out) > 0


def _translate(err: Any, merged: _Merged) -> Problem:
    loc = tuple(err["loc"])
    is_key = bool(loc) and loc[-1] == "[key]"  # a dict key (CRM name, stage) failed, not its value
    path, in_leaf = _strip_tags(loc[:-1] if is_key else loc)
    kind, msg, ctx = err["type"], err["msg"].removeprefix("Value error, "), err.get("ctx") or {}
    if kind == "extra_forbidden":
        name = path[-1]
        if in_leaf:
            return Problem(
                merged.mark_of(path, key=True),
                f"unknown operator '{name}'",
                f"operators: {', '.join(OPERATORS)}; combine with all/any/not/at_least",
            )
        return Problem(
            merged.mark_of(path, key=True), f"unknown key '{name}'", "check the spelling against schema.json"
        )
    if kind == "missing":
        return Problem(merged.mark_of(path[:-1]), f"missing required key '{path[-1]}'", "add it")
    if kind == "enum":
        expected = str(ctx.get("expected", ""))
        what = "stage" if "subscriber" in expected else "CRM" if "hubspot" in expected else "value"
        return Problem(
            merged.mark_of(path, key=is_key),
            f"unknown {what} {err['input']!r}",
            f"expected one of {expected}",
        )
    if kind == "union_tag_invalid" or kind.startswith("model_") or kind == "dict_type":
        return Problem(merged.mark_of(path), f"wrong type: {msg}", "expected a mapping of keys")
    return Problem(merged.mark_of(path), f"wrong type or value: {msg}", _hint_for(kind, ctx))


def _hint_for(kind: str, ctx: dict[str, Any]) -> str:
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')}"
    if "expected" in ctx:
        return f"expected {ctx['expected']}"
    return "see mappings/schema.json"


def _version(model: MappingFile) -> str:
    canonical = json.dumps(
        model.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":")
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def load_documents(docs: list[Document]) -> tuple[Mapping | None, list[Problem]]:
    """Validate and compile already-parsed documents; return the mapping or the problems."""
    merged, problems = merge(docs)
    try:
        model = MappingFile.model_validate(merged.data)
    except ValidationError as exc:
        problems.extend(_translate(e, merged) for e in exc.errors())
        return None, problems
    problems.extend(
        Problem(merged.mark_of(p, key=k), msg, hint) for p, k, msg, hint in check_semantics(model)
    )
    if problems:
        return None, problems
    return compile_mapping(model, _version(model)), []


def load_files(paths: Iterable[Path]) -> tuple[Mapping | None, list[Problem]]:
    """Read, merge, validate and compile mapping files; collect every problem across all of them."""
    docs: list[Document] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            docs.append(read(path))
        except YamlError as exc:
            problems.append(Problem(exc.mark, exc.message, exc.hint))
    if not docs:
        return None, problems or [Problem(Mark("<none>", 1, 1), "no mapping files given", "pass a file")]
    mapping, more = load_documents(docs)
    problems.extend(more)
    return (mapping if not problems else None), problems


def load_texts(texts: dict[str, str]) -> tuple[Mapping | None, list[Problem]]:
    """Like load_files over in-memory texts named like files (tests, embedded defaults)."""
    docs: list[Document] = []
    problems: list[Problem] = []
    for name, text in texts.items():
        try:
            docs.append(parse(text, name))
        except YamlError as exc:
            problems.append(Problem(exc.mark, exc.message, exc.hint))
    if not docs:
        return None, problems
    mapping, more = load_documents(docs)
    problems.extend(more)
    return (mapping if not problems else None), problems


def load_mapping(*paths: Path) -> Mapping:
    """Load mapping files (default: the shipped THE MODEL), raising MappingError listing every problem."""
    mapping, problems = load_files(paths or (DEFAULT_MAPPING,))
    if mapping is None:
        raise MappingError(problems)
    return mapping
