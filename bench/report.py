"""How every benchmark reports: its figure, the baseline measured in the same run, their ratio
and the target, printed as a table row and saved as JSON under bench/results/ for `run_all`.
Benchmarks never assert: a missed target is a finding to explain, not a failure."""

import json
import math
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

RESULTS = Path(__file__).with_name("results")


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100), linear between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Row:
    bench: str  # "(a) lifecycle throughput"
    metric: str  # "incidents/s"
    vigil: float
    baseline: float
    baseline_name: str
    ratio: float  # as the target reads it
    target: str  # ">= 0.8", "<= 1.5", "<= 1.5 and <= 2 s"...; "" for a probe
    met: bool
    notes: str = ""


@dataclass
class Report:
    name: str  # file name under bench/results/
    command: str
    rows: list[Row] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def save_and_print(self) -> None:
        RESULTS.mkdir(exist_ok=True)
        payload = {
            "name": self.name,
            "command": self.command,
            "rows": [asdict(r) for r in self.rows],
            "details": self.details,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine(),
        }
        (RESULTS / f"{self.name}.json").write_text(json.dumps(payload, indent=2, default=str))
        print_table(self.rows)
        for key, value in self.details.items():
            print(f"  {key}: {value}")


def machine() -> str:
    return f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.python_version()}"


def fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def print_table(rows: Sequence[Row]) -> None:
    header = ("benchmark", "metric", "vigil", "baseline", "ratio", "target", "")
    lines = [header] + [
        (
            r.bench,
            r.metric,
            fmt(r.vigil),
            f"{fmt(r.baseline)} ({r.baseline_name})",
            f"{r.ratio:.2f}",
            r.target,
            ("met" if r.met else "MISSED") if r.target else "",  # a probe has no target
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for index, line in enumerate(lines):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
