"""What a backbone holds (pretrained or random, which checkpoint, which seed), for every output."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class WeightsInfo:
    """Which weights the backbone holds; written to logs, run.json and the checkpoint manifest."""

    model_id: str
    requested: str
    source: str  # "pretrained" | "random"
    size: str | None
    seed: int | None = None
    warning: str | None = None
    family: str = "Chronos-T5"

    def describe(self) -> str:
        if self.source == "pretrained":
            return f"pretrained {self.model_id}"
        text = f"RANDOM weights with the {self.size or 'custom'} {self.family} architecture (seed {self.seed})"
        return text + (f" -- {self.warning}" if self.warning else "")

    def identity(self) -> dict[str, Any]:
        """What weights trained on this backbone depend on (``model_id`` already names the family)."""
        out = asdict(self)
        for key in ("warning", "requested", "family"):
            out.pop(key)
        return out
