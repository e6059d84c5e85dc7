"""Reference ranges the seed quotes (THE MODEL defaults), as data; each figure is flagged against them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "low", "high", "n/a"]
Unit = Literal["ratio", "minutes"]


@dataclass(frozen=True, slots=True)
class Reference:
    """A healthy range; either bound may be open."""

    key: str
    label: str
    low: float | None
    high: float | None
    unit: Unit = "ratio"

    def status(self, value: float | None) -> Status:
        """Where a value falls: below, above, or inside the range."""
        if value is None:
            return "n/a"
        if self.low is not None and value < self.low:
            return "low"
        if self.high is not None and value > self.high:
            return "high"
        return "ok"

    @property
    def midpoint(self) -> float | None:
        """The step target the bottleneck analysis lifts a rate to."""
        if self.low is None or self.high is None:
            return None
        return (self.low + self.high) / 2

    def describe(self) -> str:
        """The range as a reader expects to see it: `10-25%`, `<= 1%`, `<= 24 h`."""

        def fmt(v: float) -> str:
            if self.unit == "ratio":
                return f"{v * 100:g}%"
            return f"{v / 60:g} h" if v >= 60 else f"{v:g} min"

        if self.low is not None and self.high is not None:
            return f"{fmt(self.low)}-{fmt(self.high)}"
        if self.high is not None:
            return f"≤ {fmt(self.high)}"
        if self.low is not None:
            return f"≥ {fmt(self.low)}"
        return "—"


REFERENCES: dict[str, Reference] = {
    r.key: r
    for r in (
        Reference("mql_rate", "MQL rate (lead → MQL)", 0.10, 0.25),
        Reference("mql_to_opportunity", "IS conversion (MQL → opportunity)", 0.30, 0.50),
        Reference("win_rate", "Win rate (closed won ÷ closed)", 0.15, 0.30),
        Reference("churn_monthly", "Churn per month", None, 0.01),
        Reference("speed_to_lead_median", "Speed to lead (median)", None, 24 * 60, "minutes"),
    )
}
