"""One error type for bad input data, carrying where the problem is so a user can fix it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Problem:
    """One located problem in an input file: what is wrong, where, and what to do."""

    message: str
    file: str | None = None
    line: int | None = None
    symbol: str | None = None
    date: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file + (f":{self.line}" if self.line else ""))
        if self.symbol:
            where.append(f"symbol {self.symbol}")
        if self.date:
            where.append(f"date {self.date}")
        prefix = f"[{', '.join(where)}] " if where else ""
        return prefix + self.message


class DataError(ValueError):
    """Raised when input cannot be converted without guessing; nothing has been written."""

    def __init__(self, problems: list[Problem] | Problem, hint: str = "") -> None:
        self.problems = problems if isinstance(problems, list) else [problems]
        shown = self.problems[:20]
        lines = [str(p) for p in shown]
        if len(self.problems) > len(shown):
            lines.append(f"... and {len(self.problems) - len(shown)} more")
        if hint and len(lines) == 1:  # one problem: one line, so the CLI prints a single `error: ...` line
            lines[0] += f"; {hint[0].lower()}{hint[1:]}"
        elif hint:
            lines.append(hint)
        super().__init__("\n".join(lines))
