"""The ``optimize`` subcommand's options (lean-cli's names where lean-cli has the option)."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DESCRIPTION = """\
Grid search over a project's parameters, as `lean optimize --strategy "Grid Search"` runs it (lean-cli 1.0.230,
LEAN 2486390): each --parameter NAME MIN MAX STEP takes min, min+step, ... while <= max, in decimal arithmetic
(0 0.3 0.1 gives 0.0 0.1 0.2 0.3); the values reach the algorithm through get_parameter as LEAN writes them
("1.0", "1.5" for 1 2 0.5); the grid varies the first parameter slowest; config.json's other parameters stay.
The best combination is the one with the best --target among the successful backtests meeting every
--constraint (ties: the first in grid order). Statistics are LEAN's, named as lean-cli names them: "Sharpe Ratio"
means TotalPerformance.PortfolioStatistics.SharpeRatio (a fraction, unrounded); "Statistics.Net Profit" reads the
report's string. Extensions beyond LEAN: --parameter-values (lists of strings: categorical values, seeds; one
value fixes a parameter, which LEAN expresses as a static parameter), --workers/--ray-address, --resume.

Writes PROJECT/optimizations/<timestamp>/: one backtest folder per combination, results.csv/results.json (every
combination, failures with their error, the best), optimizer-config.json and lean-commands.sh (the same grid for
`lean optimize` and `lean cloud optimize`). A killed optimization is resumed with --resume FOLDER: finished
combinations are kept, the rest run. Exit status: 0 when every combination succeeded, 1 when some failed (the
others still ran; lean-cli exits non-zero only when the optimizer itself fails), 2 for bad input."""


def add_optimize_parser(sub: Any) -> None:
    """Register ``optimize`` on the main parser's subparsers."""
    opt = sub.add_parser("optimize", help="grid-search a project's parameters (lean optimize's semantics)",
                         description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    opt.add_argument("project", nargs="?", help="project folder, e.g. algorithms/top100_baseline (not with --resume)")
    opt.add_argument("--parameter", nargs=4, action="append", default=[], metavar=("NAME", "MIN", "MAX", "STEP"),
                     help="as lean optimize: values MIN, MIN+STEP, ... up to MAX included when on the step; repeatable")
    opt.add_argument("--parameter-values", nargs=2, action="append", default=[], metavar=("NAME", "V1,V2,..."),
                     help="EXTENSION (not in LEAN): the listed values as strings, e.g. --parameter-values seed 1,2,3 "
                          "runs every combination once per seed (one table row each); one value fixes NAME for the "
                          "whole grid (LEAN's static parameter)")
    opt.add_argument("--strategy", default="Grid Search", type=lambda text: " ".join(text.split()).title(),
                     choices=["Grid Search"],
                     help="lean optimize's option; only Grid Search is implemented (Euler Search is not)")
    opt.add_argument("--target", help="statistic to optimize, e.g. \"Sharpe Ratio\", \"Drawdown\", "
                     "\"Compounding Annual Return\", \"Total Net Profit\", \"Statistics.Net Profit\"")
    opt.add_argument("--target-direction", choices=["min", "max"], type=str.lower, help="minimize or maximize")
    opt.add_argument("--constraint", action="append", default=[], metavar="\"STATISTIC OP VALUE\"",
                     help="as lean optimize, e.g. \"Drawdown < 0.3\" (fractions); operators < <= > >= == !=; "
                          "repeatable; a combination must meet all")
    opt.add_argument("--workers", type=int, default=1, help="parallel backtests, each in its own process with "
                     "cores/N torch threads (lean optimize: --max-concurrent-backtests); 1 runs in this process")
    opt.add_argument("--max-concurrent-backtests", type=int, dest="workers", help=argparse.SUPPRESS)
    opt.add_argument("--ray-address", help="EXTENSION: run the combinations as Ray tasks on this cluster (auto, "
                     "HOST:6379, ray://HOST:10001; 'local' starts a private one with --workers CPUs). Every Ray node "
                     "must see the project, data and output folder at the same paths (shared filesystem)")
    opt.add_argument("--output", help="optimization folder (default PROJECT/optimizations/<timestamp>); one holding "
                     "the same grid is resumed")
    opt.add_argument("--resume", metavar="FOLDER", help="EXTENSION: finish an earlier optimization folder with its own "
                     "grid (given --target/--constraint replace its ranking; the backtests are kept)")
    opt.add_argument("--data", help="LEAN data folder (default: lean.json's data-folder)")
    opt.add_argument("--start", help="override set_start_date (YYYY-MM-DD); lean optimize has no such option")
    opt.add_argument("--end", help="override set_end_date (YYYY-MM-DD)")
    opt.add_argument("--fill-timing", choices=["close", "last-price"], default="close", help="as for backtest")
    opt.add_argument("--no-progress", action="store_true", help="no progress bar")
    opt.set_defaults(func=run_command)


def spec_from_args(args: argparse.Namespace) -> Any:
    from .grid import StepParameter, ValuesParameter, check_names
    from .runner import OptimizationSpec, load_spec
    from .targets import Constraint, Target

    if args.resume:
        if args.project or args.parameter or args.parameter_values:
            raise ValueError("--resume FOLDER runs the grid stored in FOLDER: give no PROJECT or --parameter")
        spec = load_spec(Path(args.resume))
        if args.target:
            spec.target = Target.parse(args.target, args.target_direction or spec.target.direction)
        if args.constraint:
            spec.constraints = [Constraint.parse(c) for c in args.constraint]
        return spec
    if not args.project or not args.target or not args.target_direction:
        raise ValueError("give PROJECT, --target and --target-direction (or --resume FOLDER)")
    parameters = [StepParameter.parse(*p) for p in args.parameter] + \
        [ValuesParameter.parse(name, values) for name, values in args.parameter_values]
    check_names(parameters)
    return OptimizationSpec(Path(args.project), parameters, Target.parse(args.target, args.target_direction),
                            [Constraint.parse(c) for c in args.constraint], args.data, args.start, args.end,
                            args.fill_timing)


def run_command(args: argparse.Namespace) -> int:
    from .runner import run_optimization

    spec = spec_from_args(args)
    output = args.resume or args.output
    result = run_optimization(spec, output=output, workers=args.workers, ray_address=args.ray_address,
                              progress=not args.no_progress)
    failed = sum(r.status == "failed" for r in result.rows)
    print(f"outputs: {result.folder}")
    return 0 if failed == 0 else 1
