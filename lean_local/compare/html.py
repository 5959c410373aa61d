"""The comparison's ``report.html``: tables and matplotlib charts embedded as base64 PNGs (one file, no links)."""
from __future__ import annotations

import base64
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import ScalarFormatter  # noqa: E402
import pandas as pd  # noqa: E402

from .inference import PERIODS_PER_YEAR  # noqa: E402
from .report import HEADLINE, Comparison, groups_table, runs_table  # noqa: E402
from .window import window_equity  # noqa: E402

ROLLING_DAYS = 252  # 12 months of trading days


def _png(fig: plt.Figure) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def growth(result: Comparison) -> pd.DataFrame:
    """Each run's equity on the window's dates divided by its first value (growth of 1)."""
    closes = pd.DataFrame({r.label: window_equity(r, result.dates)["equity"] for r in result.runs})
    return closes / closes.iloc[0]


Series = tuple[str, pd.Series, pd.DataFrame | None, str | None]


def _series_by_group(result: Comparison, frame: pd.DataFrame) -> list[Series]:
    """(line label, line, band members or None, band label or None): a seed group is drawn as its median with a
    min-max band; the band's label comes from the group, not from parsing the line's display label."""
    out: list[Series] = []
    for group in result.groups:
        members = frame[[r.label for r in group.runs]]
        if group.is_seed_group:
            out.append((f"{group.label} (median of {len(group.runs)} seeds)", members.median(axis=1), members,
                        f"{group.label}: range across seeds"))
        else:
            out.extend((label, members[label], None, None) for label in members)
    return out


def _plot(ax: plt.Axes, result: Comparison, frame: pd.DataFrame) -> None:
    for label, line, band, band_label in _series_by_group(result, frame):
        drawn = ax.plot(line.index, line, label=label, linewidth=1.2)
        if band is not None:
            ax.fill_between(band.index, band.min(axis=1), band.max(axis=1), color=drawn[0].get_color(), alpha=0.2,
                            label=band_label)


def equity_chart(result: Comparison) -> str:
    norm = growth(result)
    fig, ax = plt.subplots(figsize=(11, 5))
    _plot(ax, result, norm)
    bench = window_equity(result.reference, result.dates)["benchmark"]
    if (bench > 0).all():
        ax.plot(bench.index, bench / bench.iloc[0], color="grey", linestyle="--",
                label=f"benchmark of {result.reference.label}")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.set_ylabel("growth of 1 (log scale)")
    ax.set_title("Cumulative equity on the common dates")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def drawdown_chart(result: Comparison) -> str:
    norm = growth(result)
    drawdowns = norm / norm.cummax() - 1.0
    fig, ax = plt.subplots(figsize=(11, 3.5))
    _plot(ax, result, drawdowns)
    ax.set_ylabel("drawdown")
    ax.set_title("Drawdown from the running peak (daily closes)")
    ax.legend(loc="lower left", fontsize=8)
    return _png(fig)


def rolling_sharpe_chart(result: Comparison) -> str | None:
    returns = growth(result).pct_change().iloc[1:]
    if len(returns) <= ROLLING_DAYS:
        return None
    rolling = returns.rolling(ROLLING_DAYS)
    sharpe = (rolling.mean() / rolling.std() * np.sqrt(PERIODS_PER_YEAR)).dropna()
    fig, ax = plt.subplots(figsize=(11, 3.5))
    _plot(ax, result, sharpe)
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_ylabel("Sharpe (daily, x sqrt(252))")
    ax.set_title(f"Rolling 12-month Sharpe ({ROLLING_DAYS} trading days, no risk-free rate)")
    ax.legend(loc="lower left", fontsize=8)
    return _png(fig)


PERCENT = {"Compounding Annual Return", "Drawdown", "Portfolio Turnover", "Net Profit", "Annual Standard Deviation",
           "monthly_active_mean", "Win Rate", "Loss Rate"}
COUNTS = {"Total Orders", "Drawdown Recovery"}


def _statistic(column: str) -> str:
    """The statistic a column shows: 'run Total Fees' and 'Drawdown 95% low' are Total Fees and Drawdown."""
    name = column.removeprefix("run ")
    for suffix in (" median", " low", " high"):
        name = name.removesuffix(suffix)
    return name


def _format(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        if column.endswith(" confidence"):  # an order-statistic interval's exact level, e.g. 93.75%
            return f"{value:.2%}"
        name = _statistic(column)
        if name in PERCENT:
            return f"{value:.2%}"
        if name in COUNTS:
            return f"{value:.0f}"
        if name == "Total Fees":
            return f"${value:,.2f}"
        if "p_value" in name:
            return f"{value:.4f}"
        return f"{value:.3f}"
    return html.escape(str(value))


def _table(frame: pd.DataFrame, columns: list[str]) -> str:
    columns = [c for c in columns if c in frame]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_format(c, row[c])}</td>" for c in columns) + "</tr>"
                   for _, row in frame.iterrows())
    return f"<table><tr>{head}</tr>{body}</table>"


STYLE = ("body{font-family:sans-serif;margin:2em;max-width:1300px}table{border-collapse:collapse;font-size:12px;"
         "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#eee}"
         "img{max-width:100%}")


def render_html(result: Comparison, payload: dict[str, Any]) -> str:
    """The whole page."""
    window = payload["window"]
    runs = runs_table(result)
    stats_columns = ["run", "group", "own_first_date", "own_last_date", "Total Orders", *HEADLINE, "Net Profit",
                     "Annual Standard Deviation", "Sortino Ratio", "Probabilistic Sharpe Ratio", "Beta", "Alpha",
                     "Drawdown Recovery", "run Portfolio Turnover", "run Total Fees"]
    test_columns = ["run", "test_sharpe", "sharpe_difference", "lw_p_value", "lw_p_value_holm", "bootstrap_p_value",
                    "bootstrap_95_low", "bootstrap_95_high", "monthly_active_mean", "monthly_active_t",
                    "monthly_active_p_value", "note"]
    parts = [f"<html><head><meta charset='utf-8'><title>Comparison</title><style>{STYLE}</style></head><body>",
             "<h1>Runs side by side</h1>",
             f"<p>Common window: <b>{window['first']} .. {window['last']}</b>, {window['trading_days']} trading days "
             f"present in every run. Reference: <b>{html.escape(payload['reference'])}</b>.</p>",
             "<h2>LEAN statistics on the common window</h2>", _table(runs, stats_columns),
             "<h2>Against the reference</h2>",
             "<p>test_sharpe: daily returns, mean / std x sqrt(252), no risk-free rate (not LEAN's Sharpe Ratio); "
             "sharpe_difference = run - reference; p-values: Ledoit-Wolf HAC (raw, and Holm-adjusted across all "
             "runs: the best of many is not a single test) and stationary bootstrap; monthly active return with its "
             "Newey-West t-statistic.</p>",
             _table(runs[~runs["reference"]], test_columns)]
    if result.group_summaries:
        groups = groups_table(result)
        parts += ["<h2>Seed groups: median across seeds and an order-statistic interval with its exact confidence</h2>",
                  _table(groups, list(groups.columns))]
    if result.skipped:
        parts += ["<h2>Skipped (not completed)</h2><ul>"] + [
            f"<li>{html.escape(s['path'])}: {html.escape(str(s['problem']))}</li>" for s in payload["skipped"]] + \
            ["</ul>"]
    charts = [equity_chart(result), drawdown_chart(result), rolling_sharpe_chart(result)]
    parts += ["<h2>Charts</h2>"] + [c for c in charts if c] + ["<h2>Conventions</h2><ul>"]
    parts += [f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in payload["conventions"].items()]
    parts.append("</ul></body></html>")
    return "\n".join(parts)
