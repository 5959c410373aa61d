"""Errors the person running a model fixes by changing a setting or running a command, not bugs.

Each says what to do. :class:`ModelSetupError` carries ``user_error = True``, which the local runner's
command line (``lean_local/cli.py``) reads to print the message as one line instead of a traceback; under
LEAN the message is what the runtime error shows. The package keeps its other failures as ordinary
exceptions, so a bug still ends in a traceback.
"""
from __future__ import annotations


class ModelSetupError(RuntimeError):
    """A run cannot start or go on with these settings or this stored state (a RuntimeError, as before)."""

    user_error = True


class PretrainRequiredError(ModelSetupError):
    """``pretrain=require`` and the object store holds no usable pre-trained state."""
