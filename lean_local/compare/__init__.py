"""``python -m lean_local compare``: backtests side by side over their common dates (see :mod:`.report`)."""
