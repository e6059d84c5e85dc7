"""`--json`: the report as plain JSON for machines (rates keep their counts)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from enum import Enum
from typing import Any

from connector.report.compute import Rate, Report


def _plain(value: Any) -> Any:
    """Dataclasses, enums, datetimes and tuple keys as JSON-friendly values."""
    if isinstance(value, Rate):
        return {"num": value.num, "den": value.den, "value": value.value}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _key(key: Any) -> str:
    if isinstance(key, tuple):
        return "->".join(str(_plain(k)) for k in key)
    return str(_plain(key))


def to_dict(report: Report) -> dict[str, Any]:
    """The report as nested plain values; the window is {since, until}."""
    out: dict[str, Any] = _plain(report)
    out["window"] = {"since": report.window.since.isoformat(), "until": report.window.until.isoformat()}
    return out


def render_json(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False)
