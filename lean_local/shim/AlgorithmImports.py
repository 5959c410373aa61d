"""Local stand-in for LEAN's AlgorithmImports, for notebooks run outside LEAN.

Only on sys.path through the project's virtual environment (scripts/setup_env.sh writes the
.pth file); inside LEAN the real module is used.
"""
from lean_local.algorithm_imports import *  # noqa: F401,F403
