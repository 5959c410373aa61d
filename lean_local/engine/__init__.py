"""The local LEAN engine: the part of the QCAlgorithm API this project's algorithms use.

Each module names the LEAN source it follows. Members outside that subset raise
:class:`~lean_local.engine.errors.UnsupportedMemberError`.
"""
