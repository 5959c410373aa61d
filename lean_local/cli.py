"""Command line: ``python -m lean_local data import|synthetic|adopt``, ``backtest``, ``optimize`` (grid search with
``lean optimize``'s semantics: ``optimize/``), ``compare`` (runs side by side: ``compare/``), ``organization`` and
``cloud-files``.

Errors the user fixes end as one line ``error: ...`` and exit status 2: bad input data (``DataError``), a missing
or taken path, a bad value (``ValueError``), a ``SyntaxError`` in the project's code (file:line:column), and the
model package's setup errors (exception classes with ``user_error = True``: ``Library/models/errors.py``, e.g. a
checkpoint that cannot load or ``pretrain=require`` with nothing stored). Anything else is a bug and keeps its
traceback. A backtest that failed names its output folder (``log.txt`` with the traceback, ``run.json``) on the
same line.
"""
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


def _data_adopt(args: argparse.Namespace) -> int:
    from .data.transaction import adopt

    marker = adopt(Path(args.folder))
    print(f"{args.folder} is marked as a complete LEAN data folder ({marker}); the runner will read it")
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
                          output=args.output, fill_timing=args.fill_timing, progress=not args.no_progress,
                          tearsheet=args.tearsheet)
    print(result.summary())
    print(f"outputs: {result.output_dir}")
    return 0


def _organization(args: argparse.Namespace) -> int:
    from .engine.project import find_cli_root
    from .lean_cli import write_organization_id

    root = find_cli_root(Path.cwd())
    if root is None:
        raise FileNotFoundError(f"no lean.json in {Path.cwd()} or any parent: run this from the clone")
    write_organization_id(root / "lean.json", args.organization_id)
    print(f"{root / 'lean.json'}: job-organization-id and organization-id set to {args.organization_id.strip()}; "
          "`lean backtest`, `lean cloud push` and `lean cloud backtest` will use this organization")
    return 0


def _cloud_files(args: argparse.Namespace) -> int:
    from .engine.project import load_project
    from .lean_cli import copy_as_pushed

    project = load_project(args.project)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file: give --out a new or empty folder")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: choose a new folder for the copy")
    copy = copy_as_pushed(project.cli_root, project.path, out)
    print(f"copied what `lean cloud push` sends to {out}; run it as the cloud would: "
          f"python -m lean_local backtest {copy} --data {project.default_data_folder}")
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
    imp.add_argument("--out", required=True, help="LEAN data folder to write. The import owns the whole folder: "
                     "it must be new, empty or an earlier import's, and everything in it (files you added "
                     "too) is replaced at once when the import succeeds; a failed or killed import leaves it as "
                     "it was")
    imp.add_argument("--start", help="first date to import (YYYY-MM-DD)")
    imp.add_argument("--end", help="last date to import (YYYY-MM-DD)")
    imp.add_argument("--strict-gaps", action="store_true", help="treat missing trading days as errors")
    imp.set_defaults(func=_data_import)

    syn = data.add_parser("synthetic", help="write a deterministic synthetic market")
    syn.add_argument("--out", required=True, help="LEAN data folder to write (replaced whole, as by `data import`)")
    syn.add_argument("--seed", type=int, default=7)
    syn.add_argument("--start", default="2009-01-02")
    syn.add_argument("--end", default="2012-12-31")
    syn.set_defaults(func=_data_synthetic)

    adopt = data.add_parser("adopt", help="let the runner read a LEAN data folder no import wrote (from `lean init` "
                            "or `lean data download`): writes its completion marker")
    adopt.add_argument("folder")
    adopt.set_defaults(func=_data_adopt)

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
    bt.add_argument("--tearsheet", action=argparse.BooleanOptionalAction, default=True,
                    help="also write QuantStats' tearsheet.html (its own conventions; vs SPY and, for model "
                         "algorithms, the newest covering top100_baseline run); about 10-15 s")
    bt.set_defaults(func=_backtest)

    org = sub.add_parser("organization", help="write your QuantConnect organization id into lean.json "
                         "(what `lean init` would do; lean-cli refuses to run without it)")
    org.add_argument("organization_id", help="32 hexadecimal digits, from https://www.quantconnect.com/organization")
    org.set_defaults(func=_organization)

    cloud = sub.add_parser("cloud-files", help="copy a project and its libraries keeping only what "
                           "`lean cloud push` sends (.py .cs .ipynb .css .html)")
    cloud.add_argument("project", help="project folder, e.g. algorithms/perl_portfolio")
    cloud.add_argument("--out", required=True, help="an empty or new folder for the copy")
    cloud.set_defaults(func=_cloud_files)

    from .optimize.command import add_optimize_parser  # `optimize`: grid search as `lean optimize` runs it
    add_optimize_parser(sub)

    from .compare.command import add_compare_parser  # `compare`: runs side by side over their common dates
    add_compare_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except DataError as exc:  # one line per located problem, then what to do
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SyntaxError as exc:  # in the project's code: where, as one line
        print(f"error: {exc.filename}:{exc.lineno}:{exc.offset or 0}: {exc.msg}: {(exc.text or '').strip()}"
              f"{_where_logged(exc)}", file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, PermissionError, ValueError, NotImplementedError) as exc:
        print(f"error: {_one_line(exc)}{_where_logged(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        if getattr(type(exc), "user_error", False) is not True:
            raise  # a bug: the traceback is what helps
        print(f"error: {_one_line(exc)}{_where_logged(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _where_logged(exc: BaseException) -> str:
    """The failed run's folder, from the note ``run_backtest`` adds (empty when nothing was written)."""
    notes = [n for n in getattr(exc, "__notes__", []) if n.startswith("lean_local:")]
    return f" ({notes[-1].removeprefix('lean_local: ')})" if notes else ""
