"""``python -m benchmarks SUITE [--quick] [--json FILE]``: run one suite and print its report.

The last line printed is the report as one JSON object; ``--json`` also writes it to FILE.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness import SUITES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run one LumaDB benchmark suite against its peers.",
        epilog="suites: " + ", ".join(SUITES),
    )
    parser.add_argument("suite", help="the suite to run")
    parser.add_argument(
        "--quick", action="store_true", help="smaller data and fewer rounds (< 60 s per suite)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the JSON here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite named on the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    suite = SUITES.get(args.suite)
    if suite is None:
        print(f"unknown suite {args.suite!r}; the suites are:", file=sys.stderr)
        for known in SUITES.values():
            print(f"  {known.name:<12} {known.summary}", file=sys.stderr)
        return 2
    report = suite.load()(args.quick)
    for line in report.table():
        print(line)
    text = json.dumps(report.to_json())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
