"""What a benchmark returns: subject vs baseline, passed when the ratio meets the target."""

import statistics
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BenchConfig:
    duration: int
    connections: int
    rounds: int


@dataclass(frozen=True, slots=True)
class BenchRow:
    name: str
    baseline: str
    baseline_value: float
    subject_value: float
    unit: str
    target: float  # minimum subject/baseline ratio

    @property
    def ratio(self) -> float:
        return self.subject_value / self.baseline_value if self.baseline_value else 0.0

    @property
    def passed(self) -> bool:
        return self.ratio >= self.target


@dataclass(frozen=True, slots=True)
class PairedBenchRow(BenchRow):
    """A row whose sides were measured in back-to-back pairs, in alternating order. This
    machine's speed drifts by a third within a minute (other tenants), so each pair's ratio is
    taken while both sides saw the same conditions, and the row reports their median."""

    pair_ratios: tuple[float, ...]

    @property
    def ratio(self) -> float:
        return statistics.median(self.pair_ratios)
