"""Helpers of ``scripts/protocol.py``: the stated windows and grids (specs), the per-unit runs (runs), the
scoring of one unit (scoring) and the tables (report). Not a library: the statistics live in
``models.evaluation``."""
