"""Command line: ``python -m lean_local data import|synthetic`` and ``python -m lean_local backtest``."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .data.errors import DataError


def _data_import(args: argparse.Namespace) -> int:
    from .data.importer import import_data

    report = import_data(args.prices, args.membership, args.benchmark, args.out, args.start, args.end,
                         strict_gaps=args.strict_gaps)
    print(f"wrote {report.tickers_written} tickers and {report.universe_files} universe files to {args.out} "
          f"({len(report.members_without_prices)} index members without prices, {len(report.gaps)} tickers "
          f"with gaps, {len(report.delisted)} delisted); see {Path(args.out) / 'lean_local_import.json'}")
    return 0


def _data_synthetic(args: argparse.Namespace) -> int:
    from .data.synthetic import write_synthetic_market

    summary = write_synthetic_market(args.out, seed=args.seed, start=args.start, end=args.end)
    print(f"wrote a synthetic market of {summary['tickers']} tickers to {args.out}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from .engine.runner import run_backtest

    params = dict(args.parameter) if args.parameter else None
    result = run_backtest(args.project, data_dir=args.data, start=args.start, end=args.end, parameters=params,
                          output=args.output, fill_timing=args.fill_timing, progress=not args.no_progress)
    print(result.summary())
    print(f"outputs: {result.output_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lean_local", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="build a LEAN data folder").add_subparsers(dest="data_command", required=True)
    imp = data.add_parser("import", help="convert vendor CSVs to LEAN's format")
    imp.add_argument("--prices", required=True, help="long CSV: date,ticker,open,high,low,close,volume + "
                     "dividend_amount,split_coefficient (raw) or adj_close (adjusted)")
    imp.add_argument("--membership", required=True, help="CSV ticker,start_date,end_date")
    imp.add_argument("--benchmark", required=True, help="SPY daily CSV (total-return OHLC + dividends)")
    imp.add_argument("--out", required=True, help="LEAN data folder to write")
    imp.add_argument("--start", help="first date to import (YYYY-MM-DD)")
    imp.add_argument("--end", help="last date to import (YYYY-MM-DD)")
    imp.add_argument("--strict-gaps", action="store_true", help="treat missing trading days as errors")
    imp.set_defaults(func=_data_import)

    syn = data.add_parser("synthetic", help="write a deterministic synthetic market")
    syn.add_argument("--out", required=True)
    syn.add_argument("--seed", type=int, default=7)
    syn.add_argument("--start", default="2009-01-02")
    syn.add_argument("--end", default="2012-12-31")
    syn.set_defaults(func=_data_synthetic)

    bt = sub.add_parser("backtest", help="run a LEAN project's main.py on a LEAN data folder")
    bt.add_argument("project", help="project folder, e.g. algorithms/top100_baseline")
    bt.add_argument("--data", help="LEAN data folder (default: lean.json's data-folder)")
    bt.add_argument("--start", help="override set_start_date (YYYY-MM-DD)")
    bt.add_argument("--end", help="override set_end_date (YYYY-MM-DD)")
    bt.add_argument("--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"),
                    help="like the LEAN CLI: replaces config.json's parameters as a whole")
    bt.add_argument("--output", help="output folder (default: <project>/backtests/<timestamp>)")
    bt.add_argument("--fill-timing", choices=["close", "last-price"], default="close",
                    help="market orders placed in scheduled events during market hours: 'close' fills at that "
                         "day's close (LEAN with daily data), 'last-price' fills at once at the last close "
                         "(LEAN before 2026-06 with hourly data)")
    bt.add_argument("--no-progress", action="store_true", help="no progress bar")
    bt.set_defaults(func=_backtest)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except DataError as exc:
        print(f"error: the input data has problems:\n{exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, NotImplementedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
