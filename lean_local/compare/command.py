"""The ``compare`` subcommand's arguments and entry point."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def parse_names(pairs: list[str] | None) -> dict[Path, str]:
    """``--name LABEL=PATH`` pairs; a pair without '=' is a ValueError naming it."""
    names: dict[Path, str] = {}
    for pair in pairs or []:
        label, sep, path = pair.partition("=")
        if not sep or not label or not path:
            raise ValueError(f"--name {pair!r}: write LABEL=PATH, e.g. --name baseline=algorithms/top100_baseline/"
                             "backtests/2026-01-01_00-00-00")
        names[Path(path)] = label
    return names


def _compare(args: argparse.Namespace) -> int:
    from .report import compare, write_report

    result = compare(args.inputs, reference=args.reference, names=parse_names(args.name),
                     bootstrap_reps=args.bootstrap_reps)
    out = write_report(result, args.out, argv=["python -m lean_local", *sys.argv[1:]])  # no machine path
    log.info("compared %d runs over %s..%s (%d trading days), reference %s; %d skipped",
             len(result.runs), result.dates[0].date(), result.dates[-1].date(), len(result.dates),
             result.reference.label, len(result.skipped))
    print(f"report: {out / 'report.html'} (tables: {out / 'runs.csv'}, {out / 'comparison.json'})")
    return 0


def add_compare_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``compare`` on the main parser's subcommands."""
    cmp = sub.add_parser("compare", help="put backtests side by side over their common dates: LEAN statistics, "
                         "Sharpe-difference tests, seed groups and charts in one report folder")
    cmp.add_argument("inputs", nargs="+", metavar="RUN_OR_OPTIMIZATION",
                     help="backtest folders, optimization folders or folders of backtest folders")
    cmp.add_argument("--reference", help="the run every other is tested against (a folder or label; default: a "
                     "top100_baseline run if present, else the first)")
    cmp.add_argument("--out", help="report folder (default: comparisons/<timestamp> at the repository root); an "
                     "earlier comparison's folder is replaced whole")
    cmp.add_argument("--name", action="append", metavar="LABEL=PATH",
                     help="label for an input (a run, or the runs under a folder)")
    cmp.add_argument("--bootstrap-reps", type=int, default=1000, help="stationary-bootstrap resamples per test")
    cmp.set_defaults(func=_compare)
