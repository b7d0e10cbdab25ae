"""An output area: who may read it and where its packages, figures and hand-off files live.

The blinded area is for everybody who stays blinded; the unblinded area (built only under an
authorized unblinding) for the unblinded statistician and the DMC. Both are built by the same code
with the area as a parameter.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Area:
    name: str                          # "blinded" | "unblinded": also the spec's ``areas`` value

    @property
    def blinded(self) -> bool:
        return self.name == "blinded"

    @property
    def key_prefix(self) -> list[str]:
        """Dagster asset keys of the area: the blinded ones unprefixed (``sdtm/dm``)."""
        return [] if self.blinded else [self.name]


BLINDED = Area("blinded")


@dataclass(frozen=True)
class AreaFolders:
    """The folders of one area under its root (``<output>/blinded`` for the blinded area)."""

    root: Path
    studyid: str

    @property
    def sdtm(self) -> Path:
        return self.root / "m5" / "datasets" / self.studyid.lower() / "tabulations" / "sdtm"

    @property
    def adam(self) -> Path:
        return self.root / "m5" / "datasets" / self.studyid.lower() / "analysis" / "adam" / "datasets"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def handoff(self) -> Path:
        """SDTM of the package in force, as Parquet, for the ADaM of the same area (see handoff.py)."""
        return self.root / "handoff"
