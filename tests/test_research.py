"""QuantBook and the research notebooks, run locally over a synthetic data folder."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from lean_local.data.synthetic import write_synthetic_market
from lean_local.engine.quantbook import QuantBook

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    write_synthetic_market(out, seed=5, start="2011-01-03", end="2012-12-31")
    return out


def test_quantbook_history_is_lean_shaped(synthetic):
    qb = QuantBook(synthetic)
    spy = qb.add_equity("SPY").symbol
    # A date range: QuantBook's clock is today (LEAN), so a bar count over this 2012 data would be empty.
    frame = qb.history([spy, "SAA"], pd.Timestamp("2012-12-01"), pd.Timestamp("2012-12-31 16:00"))
    assert list(frame.index.names) == ["symbol", "time"] and frame.shape == (42, 5)
    assert frame.loc["SPY"].index[-1] == pd.Timestamp("2012-12-31 16:00")
    window = qb.history(spy, pd.Timestamp("2012-01-01"), pd.Timestamp("2012-02-01"))
    assert window.index.get_level_values("time").min() >= pd.Timestamp("2012-01-01")


# Sizes the notebooks read from the environment so that each cell takes seconds here (their defaults are the
# README's full runs); the per-cell timeout is generous so that a busy machine slows the test, never fails it.
NOTEBOOK_SIZES = {"LLM4FTS_NOTEBOOK_STEPS": "3", "PERL_NOTEBOOK_END": "2012-03-31"}
CELL_TIMEOUT_SECONDS = 1800


@pytest.mark.parametrize("notebook", sorted(p.name for p in (ROOT / "research").glob("*.ipynb")))
def test_research_notebooks_run_locally(notebook, synthetic, monkeypatch):
    monkeypatch.setenv("LEAN_DATA_FOLDER", str(synthetic))
    for name, value in NOTEBOOK_SIZES.items():
        monkeypatch.setenv(name, value)
    nb = nbformat.read(ROOT / "research" / notebook, as_version=4)
    NotebookClient(nb, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "research")}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
