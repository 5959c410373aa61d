"""``python -m lean_local optimize``: a grid search over a project's parameters with ``lean optimize``'s semantics.

Modules: :mod:`.grid` (the parameter grid, LEAN's step rule), :mod:`.targets` (target and constraints),
:mod:`.pool` (running combinations on local processes), :mod:`.ray_backend` (on a Ray cluster),
:mod:`.results` (the table, the best combination, the equivalent ``lean optimize`` commands) and
:mod:`.runner` (the optimization folder, resume, progress).
"""
