#!/usr/bin/env bash
# Builds the LEAN data folder data/ once: the real dev data when ../shared/data/sp500_dev exists,
# otherwise the deterministic synthetic market. Delete data/ to rebuild.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py=.venv/bin/python
if [ -f data/lean_local_import.json ]; then
  echo "data/ already built ($(grep -o '"prices": "[^"]*"' data/lean_local_import.json)); delete it to rebuild"
  exit 0
fi
shared=../shared/data/sp500_dev
if [ -f "$shared/alphavantage_raw_ohlcv_1999_2018.csv.gz" ]; then
  "$py" -m lean_local data import --prices "$shared/alphavantage_raw_ohlcv_1999_2018.csv.gz" \
    --membership "$shared/sp500_membership_spells_to_2018.csv" --benchmark "$shared/spy_daily_1993_2018.csv" --out data
else
  echo "no ../shared/data beside this clone: building the synthetic market (2009-2012) instead"
  "$py" -m lean_local data synthetic --out data --seed 7
fi
