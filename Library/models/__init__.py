"""The shared model package. Imports nothing from LEAN, so everything here is testable on its own.

LEAN mounts ``Library/`` and puts ``/Library/models`` itself on ``sys.path``: no module here may be
named like an installed package (``chronos``, ``peft``, ``torch``, ``talib``, ``pywt``, ...).
"""
