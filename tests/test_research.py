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
    frame = qb.history([spy, "SAA"], 10)
    assert list(frame.index.names) == ["symbol", "time"] and frame.shape == (20, 5)
    assert frame.loc["SPY"].index[-1] == pd.Timestamp("2012-12-31 16:00")
    window = qb.history(spy, pd.Timestamp("2012-01-01"), pd.Timestamp("2012-02-01"))
    assert window.index.get_level_values("time").min() >= pd.Timestamp("2012-01-01")


@pytest.mark.parametrize("notebook", sorted(p.name for p in (ROOT / "research").glob("*.ipynb")))
def test_research_notebooks_run_locally(notebook, synthetic, monkeypatch):
    monkeypatch.setenv("LEAN_DATA_FOLDER", str(synthetic))
    nb = nbformat.read(ROOT / "research" / notebook, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "research")}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
