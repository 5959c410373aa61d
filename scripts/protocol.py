"""The research protocol for both models, in one command: choose on an early window, freeze, report later years.

    .venv/bin/python scripts/protocol.py [--model allocator|ranker|both] [--seeds 5] [--quick] [--jobs 2]
                                         [--runner allocator=RUN_DIR --runner ranker=RUN_DIR --runner baseline=RUN_DIR]

The protocol (small RANDOM models on CPU, the models' research loops without the engine):

1. Selection. Each model runs a small stated grid of candidate settings over its early window only, and the
   candidate with the best selection criterion (mean over the selection seeds) is frozen. The models decide
   and train on data up to each decision only; the criterion leaves out the window's last date, whose label runs
   past the window (bars are loaded 45 days beyond it for that holding period, and never scored).
   - allocator (PERL Chronos-LoRA, monthly): runs and is scored over 2009-06..2013-12; criterion: mean monthly
     active return after costs against the equal-weight universe (the allocator's own objective).
   - ranker (LLM4FTS): stage 1 on 2005-2010; stage 2 walk-forward from 2011-01, scored on 2011-2012 (the
     validation years); criterion: mean daily rank IC (its objective).
2. Report. The frozen setting runs over ``--seeds`` seeds (at least 5 for the full protocol) from the same start
   (the online learner carries its state through the selection years, as the deployed algorithm would), and only
   the later dev years are scored: allocator 2014-2018, ranker 2013-2018. The same seeds (or the first
   ``--ablation-seeds`` of them) run each ablation: the frozen setting with one option switched (a paired
   comparison; an option that this checkout's config lacks is reported as unavailable, never silently run as the
   default).
3. Metrics on the report window (``models.evaluation``):
   - rank IC per date: daily (ranker: prediction at close t vs close t..t+1) and monthly (prediction at decision
     day D vs D's close..next decision's close). Timing differs from the algorithms in one place: the ranker's
     loop predicts with D's own close (the paper's daily setting), while the algorithm decides at 10:00 on D-1's
     close; the allocator's loop, like its algorithm, uses bars before D; mean, Newey-West t (statsmodels OLS on a constant,
     cov_type='HAC', lag floor(4 (n/100)^(2/9)) and at least 2 (horizon - 1)), naive t, effective observations
     N / (1 + 2 sum rho_k) with the same truncation. Statistics are computed on the seed-averaged series (seeds
     share the market, so they are not independent observations); per-seed means and their spread are given too.
   - partial rank IC after 1-day and 5-day reversal: per date, rank(prediction) and rank(realised return) are each
     regressed on [1, rank(-r_1d), rank(-r_5d)] across the universe (past returns to the prediction's close, no
     look-ahead) and the correlation of the two residuals is the partial IC. The reversal signals' own
     ICs over the same dates and universes are the yardsticks.
   - portfolios: effective N (1 / sum w^2), one-way turnover with drift, gross and net returns under a stated
     proportional cost (``--cost-bps`` of traded value, default 10), active return against the equal-weight
     universe (the research loop's top100_baseline) with its own drift turnover and costs. Fees the runner
     charges (LEAN's fee model, share rounding) come from local-runner backtests of the frozen settings:
     ``--runner NAME=RUN_DIR`` reads their equity.csv/statistics.json (NAME: allocator, ranker, baseline).

Every (model, phase, setting, seed) unit publishes its result file atomically under
``research/results/protocol/units/``; a rerun skips finished units (the file name carries a hash of the unit's
settings and windows), so a kill loses at most the unit in progress. The report
(``research/results/protocol/{allocator,ranker}.json`` and ``protocol.md``) is rewritten atomically at the end.
``--quick``: a few months, 2 seeds, tiny steps: a smoke run of the whole path (its figures mean nothing).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from protocol_lib.report import estimate_runtime, publish  # noqa: E402
from protocol_lib.runs import probe, run_model  # noqa: E402
from protocol_lib.specs import full_specs, quick_specs  # noqa: E402

log = logging.getLogger("protocol")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("allocator", "ranker", "both"), default="both")
    parser.add_argument("--seeds", type=int, default=None, help="report seeds (default 5; 2 with --quick)")
    parser.add_argument("--ablation-seeds", type=int, default=0,
                        help="run each ablation on the first N report seeds only (default: all)")
    parser.add_argument("--quick", action="store_true", help="a few months and 2 seeds: a smoke run")
    parser.add_argument("--jobs", type=int, default=1, help="processes (torch threads 1 each when > 1)")
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="LEAN data folder (make data)")
    parser.add_argument("--out", type=Path, default=ROOT / "research" / "results" / "protocol")
    parser.add_argument("--cost-bps", type=float, default=10.0, help="research-loop cost per unit traded, bps")
    parser.add_argument("--runner", action="append", default=[], metavar="NAME=RUN_DIR",
                        help="a local-runner backtest folder of a frozen setting (allocator, ranker, baseline)")
    parser.add_argument("--plan", action="store_true", help="print the units and the runtime estimate, run nothing")
    parser.add_argument("--probe", type=int, default=0, metavar="MONTHS",
                        help="time one full-size unit over its first MONTHS decisions (for the estimate), then stop")
    return parser.parse_args(argv)


def estimate(args: argparse.Namespace, models: list[str]) -> str:
    """The full protocol's runtime estimate from the units finished so far (see ``report.estimate_runtime``)."""
    return json.dumps(estimate_runtime(args.out, models, args.seeds or 5, args.ablation_seeds))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not (args.data / "equity" / "usa" / "daily").is_dir():
        log.error("no LEAN data at %s: run `make data` first (or pass --data)", args.data)
        return 2
    runner = dict(item.split("=", 1) for item in args.runner)
    bad = set(runner) - {"allocator", "ranker", "baseline"}
    if bad:
        log.error("--runner %s: names are allocator, ranker, baseline", ",".join(sorted(bad)))
        return 2
    seeds = args.seeds or (2 if args.quick else 5)
    specs = quick_specs(seeds) if args.quick else full_specs(seeds)
    specs = {k: replace(v, ablation_seeds=args.ablation_seeds) for k, v in specs.items()}
    models = ["allocator", "ranker"] if args.model == "both" else [args.model]
    import torch
    torch.set_num_threads(1)  # tiny models: one thread per process (--jobs for more); measured 6x faster under load
    log.info("estimated runtime of the full protocol: %s", estimate(args, models))
    if args.plan:
        return 0
    if args.probe:
        for name in models:
            probe(full_specs(1)[name], args.data, args.out / "probe", args.cost_bps / 1e4, args.probe)
        log.info("estimated runtime of the full protocol: %s", estimate(args, models))
        return 0
    started = time.perf_counter()
    target = args.out / "quick" if args.quick else args.out  # smoke runs never touch the real report or units
    results = {}
    for name in models:
        results[name] = run_model(specs[name], args.data, target, args.cost_bps / 1e4, args.jobs,
                                  runner, quick=args.quick)
    publish(target, results)
    log.info("protocol done in %.0f s; report in %s", time.perf_counter() - started, target)
    log.info("estimated runtime of the full protocol: %s", estimate(args, models))
    return 0


if __name__ == "__main__":
    sys.exit(main())
