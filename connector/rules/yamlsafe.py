"""Hostile-input-proof YAML reading that keeps the line and column of every key and value.

The file is only *composed* (parsed into nodes, nothing constructed) by a SafeLoader subclass
that stops at a nesting limit; then the node tree is checked (no custom tags, no aliases, no
duplicate keys, a node budget) and converted to plain dicts/lists/scalars by hand. `yaml.load`
is never called, so `!!python/object/apply` and friends are refused before anything is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 40
MAX_NODES = 200_000

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null")}
_TIMESTAMP = f"{_TAG}timestamp"  # read back as the text the author wrote
_CONSTRUCTOR = SafeConstructor()

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Mark:
    """A place in a file, 1-based like editors show it."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class YamlError(Exception):
    """A file that cannot be read safely; carries its place."""

    def __init__(self, mark: Mark, message: str, hint: str) -> None:
        super().__init__(f"{mark}: {message} (hint: {hint})")
        self.mark, self.message, self.hint = mark, message, hint


@dataclass(frozen=True, slots=True)
class Document:
    """Plain data plus where each path's value (and each mapping key) sits in the file."""

    file: str
    data: Any
    values: dict[Path_, Mark]
    keys: dict[Path_, Mark]


class _Refused(yaml.MarkedYAMLError):
    """A construct refused on purpose while composing, with its own hint."""

    def __init__(self, problem: str, mark: yaml.Mark, hint: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.hint = hint


class _DepthLimitedLoader(yaml.SafeLoader):
    """Composes nodes but refuses nesting deeper than MAX_DEPTH before recursing further."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _Refused(
                "aliases (*name) are not allowed in mapping files",
                event.start_mark,
                "repeat the value; aliases can hide an exponential expansion",
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _Refused(
                    f"nesting deeper than {MAX_DEPTH} levels", event.start_mark, "flatten the structure"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _mark(file: str, node: Node) -> Mark:
    return Mark(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Converter:
    def __init__(self, file: str) -> None:
        self.file = file
        self.values: dict[Path_, Mark] = {}
        self.keys: dict[Path_, Mark] = {}
        self.count = 0

    def fail(self, node: Node, message: str, hint: str) -> YamlError:
        return YamlError(_mark(self.file, node), message, hint)

    def convert(self, node: Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"more than {MAX_NODES} values", "split the mapping or simplify it")
        self.values[path] = _mark(self.file, node)
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, SequenceNode):
            self._plain_tag(node, f"{_TAG}seq")
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            self._plain_tag(node, f"{_TAG}map")
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == f"{_TAG}merge":
                    raise self.fail(
                        key_node, "keys must be plain words", "no merge keys (<<) or complex keys"
                    )
                key = str(self._scalar(key_node))
                if key in out:
                    raise self.fail(
                        key_node, f"duplicate key '{key}'", "each key may appear once per mapping"
                    )
                self.keys[(*path, key)] = _mark(self.file, key_node)
                out[key] = self.convert(value_node, (*path, key))
            return out
        raise self.fail(node, "unsupported YAML node", "use plain mappings, lists and scalars")

    def _plain_tag(self, node: Node, expected: str) -> None:
        if node.tag != expected:
            raise self.fail(node, f"tag '{node.tag}' is not allowed", "mapping files hold plain data only")

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag == _TIMESTAMP:
            return node.value
        if node.tag not in _SCALAR_TAGS:
            raise self.fail(node, f"tag '{node.tag}' is not allowed", "mapping files hold plain data only")
        return _CONSTRUCTOR.yaml_constructors[node.tag](_CONSTRUCTOR, node)


def parse(text: str, file: str) -> Document:
    """Parse one YAML document from text; raise YamlError with the place on anything unsafe."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YamlError(Mark(file, 1, 1), f"file larger than {MAX_BYTES} bytes", "split the mapping")
    loader = _DepthLimitedLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(file, mark.line + 1, mark.column + 1) if mark else Mark(file, 1, 1)
        hint = exc.hint if isinstance(exc, _Refused) else "fix the YAML syntax"
        raise YamlError(where, str(exc.problem or exc.context), hint) from None
    except yaml.YAMLError as exc:
        raise YamlError(Mark(file, 1, 1), str(exc), "fix the YAML syntax") from None
    finally:
        loader.dispose()
    if root is None:
        return Document(file, {}, {(): Mark(file, 1, 1)}, {})
    converter = _Converter(file)
    data = converter.convert(root, ())
    return Document(file, data, converter.values, converter.keys)


def read(path: Path) -> Document:
    """Read and parse a file, refusing oversized files before reading them whole."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise YamlError(Mark(name, 1, 1), f"file is {size} bytes, over {MAX_BYTES}", "split the mapping")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlError(Mark(name, 1, 1), f"cannot read file: {exc.strerror}", "check the path") from None
    except UnicodeDecodeError:
        raise YamlError(Mark(name, 1, 1), "file is not UTF-8 text", "save it as UTF-8") from None
    return parse(text, name)
