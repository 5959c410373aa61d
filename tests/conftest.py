"""Shared fixtures: the real dev data (skipped, or failed under REQUIRE_SHARED_DATA=1) and hand-built markets."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "sp500_dev"


def shared_data() -> Path:
    """The dev data folder, or a skip (a failure in CI, where REQUIRE_SHARED_DATA=1)."""
    if not (SHARED / "alphavantage_raw_ohlcv_1999_2018.csv.gz").exists():
        message = f"real dev data not found at {SHARED}"
        if os.environ.get("REQUIRE_SHARED_DATA") == "1":
            pytest.fail(message + " and REQUIRE_SHARED_DATA=1")
        pytest.skip(message)
    return SHARED


@pytest.fixture(scope="session")
def dev_data() -> Path:
    return shared_data()


@pytest.fixture(scope="session")
def dev_lean_folder(tmp_path_factory: pytest.TempPathFactory, dev_data: Path) -> Path:
    """The dev data converted to LEAN's format from 2008 on (enough warm-up for 2009-06 starts)."""
    from lean_local.data.importer import import_data

    out = tmp_path_factory.mktemp("lean_dev_data")
    import_data(dev_data / "alphavantage_raw_ohlcv_1999_2018.csv.gz", dev_data / "sp500_membership_spells_to_2018.csv",
                dev_data / "spy_daily_1993_2018.csv", out, start="2008-01-02")
    return out
