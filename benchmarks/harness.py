"""The benchmark harness: suites, alternating rounds, ratio summaries and the report.

A suite measures *contenders* (LumaDB and its peers). Each contender is a :data:`Trial`, a
function that runs one timed trial and returns a rate (operations per second). :func:`alternate`
runs a warm-up and then rounds of A B C, A B C, ..., so the slow drifts of a shared machine (a
neighbour's job, a busy disk) hit every contender alike. A ratio is computed per round (LumaDB's
rate divided by the peer's rate in the same round) and summarised by its median and min-max.

On these machines the speed of the same code drifts by a third within seconds, so a trial that
runs one contender for a second and then the next compares different moments. Work that splits
into chunks is measured with :func:`interleave` instead: every contender is set up, then chunk
1 runs for each contender in turn, then chunk 2, ..., each contender's chunks timed and summed,
so all of them are measured across the same stretch of time.
"""

from __future__ import annotations

import gc
import importlib
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "MIN_ROUNDS",
    "SUITES",
    "Progress",
    "Rates",
    "Report",
    "Spread",
    "Suite",
    "Trial",
    "Chunked",
    "alternate",
    "interleave",
    "machine",
    "rate",
    "ratio_summary",
    "scratch_dir",
    "settle",
    "wait_until",
]

MIN_ROUNDS = 5

Trial = Callable[[], float]
"""Runs one timed trial of one contender and returns its rate (operations per second)."""

Rates = dict[str, list[float]]
"""Per contender, its rate in each measured round (in round order)."""


class Chunked(Protocol):
    """A trial split into chunks: untimed set-up, timed chunks, untimed checks and clean-up."""

    ops: int  # operations done by all chunks together
    chunks: int

    def start(self) -> None:
        """Prepare the trial (open a fresh store, say); not timed."""

    def chunk(self, index: int) -> None:
        """Run chunk ``index`` (0 .. chunks-1); timed."""

    def finish(self) -> None:
        """Check the results and release everything; not timed."""


def interleave(rounds: int, contenders: Mapping[str, Chunked], *, warmup: int = 1) -> Rates:
    """Like :func:`alternate`, with the contenders' chunks interleaved within each round.

    The order of the contenders rotates from chunk to chunk, so none always goes first.
    """
    if rounds < MIN_ROUNDS:
        raise ValueError(f"at least {MIN_ROUNDS} rounds are needed, got {rounds}")
    names = list(contenders)
    chunks = {contenders[n].chunks for n in names}
    if len(chunks) != 1:
        raise ValueError(f"contenders must have the same number of chunks, got {chunks}")
    (count,) = chunks
    rates: Rates = {name: [] for name in names}
    clock = time.perf_counter
    for round_no in range(warmup + rounds):
        spent = dict.fromkeys(names, 0.0)
        for name in names:
            contenders[name].start()
        gc.collect()
        for index in range(count):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                began = clock()
                contenders[name].chunk(index)
                spent[name] += clock() - began
        for name in names:
            contenders[name].finish()
        if round_no >= warmup:
            for name in names:
                rates[name].append(contenders[name].ops / spent[name])
    return rates


def rate(ops: int, body: Callable[[], object]) -> float:
    """Run ``body`` once and return ``ops`` divided by its wall time in seconds.

    A garbage collection runs first, outside the clock, so no contender pays for the garbage
    another one left behind.
    """
    gc.collect()
    start = time.perf_counter()
    body()
    return ops / (time.perf_counter() - start)


def settle() -> None:
    """Move everything allocated so far (the pre-generated data) out of the collector's sight.

    Call it once the workload is built: later collections then skip millions of long-lived
    objects, so their cost neither dominates nor varies between trials.
    """
    gc.collect()
    gc.freeze()


class Progress:
    """Prints what a suite is doing, with the seconds since it started (before the report)."""

    def __init__(self, suite: str) -> None:
        self._suite = suite
        self._start = time.perf_counter()

    def __call__(self, message: str) -> None:
        """Print one progress line."""
        elapsed = time.perf_counter() - self._start
        print(f"[{elapsed:6.1f} s] {self._suite}: {message}", flush=True)

    def rates(self, operation: str, rates: Rates) -> None:
        """Print every contender's rate in each round (so outlier rounds are visible)."""
        for name, values in rates.items():
            shown = " ".join(f"{v:>9,.0f}" for v in values)
            print(f"{'':10} {operation:<9} {name:<14}{shown}", flush=True)


def alternate(rounds: int, contenders: Mapping[str, Trial], *, warmup: int = 1) -> Rates:
    """Run ``warmup`` discarded rounds, then ``rounds`` measured ones, contenders alternating."""
    if rounds < MIN_ROUNDS:
        raise ValueError(f"at least {MIN_ROUNDS} rounds are needed, got {rounds}")
    for _ in range(warmup):
        for trial in contenders.values():
            trial()
    rates: Rates = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, trial in contenders.items():
            rates[name].append(trial())
    return rates


@dataclass(frozen=True)
class Spread:
    """The median of values measured over rounds, and their lowest and highest."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of ``values`` (at least one)."""
        return cls(statistics.median(values), min(values), max(values))


def ratio_summary(rates: Mapping[str, Sequence[float]], numerator: str, denominator: str) -> Spread:
    """Per round, ``numerator``'s rate divided by ``denominator``'s, summarised over rounds."""
    pairs = zip(rates[numerator], rates[denominator], strict=True)
    return Spread.of([a / b for a, b in pairs])


@dataclass
class Report:
    """What a suite found: ratios (with their targets), figures for context, peer versions."""

    suite: str
    targets: Mapping[str, float] = field(default_factory=dict)
    ratios: dict[str, Spread] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def add_ratio(
        self, name: str, rates: Mapping[str, Sequence[float]], num: str, den: str
    ) -> None:
        """Record the per-round ratio ``num`` / ``den`` under ``name``."""
        self.ratios[name] = ratio_summary(rates, num, den)

    def add_rates(self, operation: str, rates: Rates, unit: str = "ops_s") -> None:
        """Record each contender's median rate as the figure ``{operation}_{contender}_{unit}``.

        An empty ``operation`` leaves its part (and its underscore) out.
        """
        for name, values in rates.items():
            figure = "_".join(part for part in (operation, name, unit) if part)
            self.figures[figure] = statistics.median(values)

    def packages(self, *names: str) -> None:
        """Record the installed versions of the distributions ``names``."""
        for name in names:
            try:
                self.versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                self.versions[name] = "not installed"

    def to_json(self) -> dict[str, Any]:
        """The report as the JSON object a suite prints last."""
        return {
            "suite": self.suite,
            "ratios": {k: round(s.median, 4) for k, s in self.ratios.items()},
            "figures": {k: round(v, 2) for k, v in self.figures.items()},
            "spread": {k: [round(s.low, 4), round(s.high, 4)] for k, s in self.ratios.items()},
            "machine": machine() | {"versions": self.versions},
        }

    def table(self) -> list[str]:
        """Human-readable lines: every ratio against its target, then the figures."""
        lines = [f"{'ratio':<28}{'median':>9}{'min':>9}{'max':>9}   target"]
        for name, s in self.ratios.items():
            target = self.targets.get(name)
            verdict = "reported"
            if target is not None:
                verdict = f">= {target:g}" + ("" if s.median >= target else "  BELOW TARGET")
            lines.append(f"{name:<28}{s.median:>9.3f}{s.low:>9.3f}{s.high:>9.3f}   {verdict}")
        lines.append("")
        lines.extend(f"{name:<40}{value:>14,.1f}" for name, value in self.figures.items())
        return lines


def machine() -> dict[str, Any]:
    """A description of this machine and interpreter, stored with every result."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 0
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "arch": platform.machine(),
    }


def wait_until(done: Callable[[], bool], timeout: float, poll: float = 0.1) -> bool:
    """Poll ``done`` until it is true or ``timeout`` seconds passed; returns its last answer."""
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() >= deadline:
            return False
        time.sleep(poll)
    return True


@contextmanager
def scratch_dir(name: str) -> Iterator[Path]:
    """A new temporary directory, removed with everything in it afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"luma-bench-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class Suite:
    """A registered suite: its module defines ``run(quick: bool) -> Report``."""

    name: str
    module: str
    summary: str

    def load(self) -> Callable[[bool], Report]:
        """Import the suite's module (only the suite that runs is imported)."""
        run: Callable[[bool], Report] = importlib.import_module(self.module).run
        return run


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite(
            "storage",
            "benchmarks.storage",
            "put / get / put_many / scan(100) of 1 KB JSON documents vs rocksdict, SQLite, LMDB",
        ),
        Suite(
            "durability",
            "benchmarks.durability",
            "group commit vs fsync-per-write with 16 writers; fsync-per-write vs the raw disk",
        ),
        Suite(
            "query",
            "benchmarks.query",
            "LQL point query vs a direct get; GROUP BY over every document vs SQLite",
        ),
        Suite(
            "vector",
            "benchmarks.vector",
            "nearest-neighbour QPS at recall@10 >= 0.95 vs raw FAISS; filtered recall",
        ),
        Suite(
            "tpch",
            "benchmarks.tpch",
            "TPC-H Q1, Q3, Q5, Q6 in LQL vs DuckDB on the same Parquet",
        ),
        Suite(
            "events",
            "benchmarks.events",
            "trigger delivery: webhook vs raw httpx/aiohttp loops, Kafka sink vs raw aiokafka",
        ),
        Suite(
            "http",
            "benchmarks.http",
            "GET/POST over loopback vs a raw-ASGI hello app on granian; YCSB C vs Redis",
        ),
    )
}
