"""What one measurement produces: numbers, a verdict against its target, notes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASS, FAIL, NA, ERROR = "PASS", "FAIL", "n/a", "ERROR"


@dataclass
class Row:
    """One row of the performance table."""

    name: str
    """What is measured, e.g. ``refresh-storm``; also what ``run.py --only`` takes."""
    what: str
    compared_with: str
    target: str
    nbauth: str = ""
    """One line: what nbauth measured."""
    baseline: str = ""
    """One line: what the comparison measured."""
    status: str = NA
    data: dict[str, Any] = field(default_factory=dict)
    """Raw numbers, for the JSON."""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    """How long measuring this row took."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def verdict(ok: bool | None) -> str:
    if ok is None:
        return NA
    return PASS if ok else FAIL


def fmt_us(value: float) -> str:
    return f"{value:.2f} µs" if value < 10 else f"{value:.1f} µs"


def fmt_ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
