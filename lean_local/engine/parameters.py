"""LEAN's typed ``get_parameter`` overloads (``Lean:Algorithm/QCAlgorithm.cs`` L865-909).

- ``get_parameter(name)`` / a ``str`` default: the raw text, or the default (None) when absent.
- an ``int`` default: ``int.TryParse(text)`` - ``NumberStyles.Integer`` (optional leading/trailing
  white space and one leading sign, ASCII digits only, Int32 range); anything else, "6.0" included,
  returns the default.
- a ``float`` default: ``double.TryParse(text, NumberStyles.Any, CultureInfo.InvariantCulture)``:
  white space, a leading or trailing sign or parentheses, ',' group separators, '.' decimal point,
  an exponent, and the invariant symbols "NaN", "Infinity", "-Infinity" (.NET compares these
  ignoring case); anything else returns the default.
- no overload takes another type: pythonnet refuses the call (a ``TypeError`` here).

Python's ``int``/``float`` accept more ("1_000", "inf", non-ASCII digits): they are not used.
A ``bool`` default has no overload of its own; it is returned as the raw text, as before.
"""
from __future__ import annotations

import math
import re
from typing import Any

NET_WHITE = " \t\n\v\f\r"
INT32 = (-2 ** 31, 2 ** 31 - 1)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_ANY_NUMBER = re.compile(r"""
    (?P<open>\()?
    (?P<lead>[+-])?
    (?P<int>[0-9][0-9,]*)?
    (?:\.(?P<frac>[0-9]*))?
    (?:[eE](?P<exp>[+-]?[0-9]+))?
    (?P<trail>[+-])?
    (?P<close>\))?
    """, re.VERBOSE)
_SPECIAL = {"nan": math.nan, "+nan": math.nan, "-nan": math.nan, "infinity": math.inf, "+infinity": math.inf,
            "-infinity": -math.inf}


def net_int(text: str) -> int | None:
    """``int.TryParse(text)`` with the invariant culture, or None."""
    body = text.strip(NET_WHITE)
    if not _INTEGER.fullmatch(body):
        return None
    value = int(body)
    return value if INT32[0] <= value <= INT32[1] else None


def net_double(text: str) -> float | None:
    """``double.TryParse(text, NumberStyles.Any, CultureInfo.InvariantCulture)``, or None."""
    body = text.strip(NET_WHITE)
    if body.lower() in _SPECIAL:
        return _SPECIAL[body.lower()]
    m = _ANY_NUMBER.fullmatch(body)
    if m is None or not (m["int"] or m["frac"]) or bool(m["open"]) != bool(m["close"]):
        return None
    if sum(bool(x) for x in (m["open"], m["lead"], m["trail"])) > 1:
        return None
    number = float(f"{(m['int'] or '0').replace(',', '')}.{m['frac'] or '0'}e{m['exp'] or '0'}")
    return -number if (m["open"] or m["lead"] == "-" or m["trail"] == "-") else number


def typed_parameter(text: str | None, default: Any) -> Any:
    """What LEAN's overload for ``type(default)`` returns when the parameter is ``text`` (None: absent)."""
    if not (default is None or isinstance(default, (str, int, float))):
        raise TypeError(f"get_parameter(name, default_value): LEAN has overloads for a str, int or float default, "
                        f"not {type(default).__name__}")
    if text is None or default is None or isinstance(default, (str, bool)):
        return default if text is None else text
    if isinstance(default, int):
        parsed_int = net_int(text)
        return default if parsed_int is None else parsed_int
    parsed = net_double(text)
    return default if parsed is None else parsed
