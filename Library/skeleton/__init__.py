"""LEAN-side skeleton shared by the algorithms (imports AlgorithmImports; models never do)."""
