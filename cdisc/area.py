"""An output area: who may read it and where its packages, figures and hand-off files live.

The blinded area is for everybody who stays blinded; the unblinded area (built only under an
authorized unblinding) for the unblinded statistician and the DMC. Both are built by the same code
with the area as a parameter.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
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
UNBLINDED = Area("unblinded")


@contextmanager
def restricted(area: Area, root: Path) -> Iterator[None]:
    """While the unblinded area is written, folders and files are created readable by their owner
    only (umask 077; the root itself 0700). The blinded area is left to the deployment's umask."""
    if area.blinded:
        yield
        return
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


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

    @property
    def adam_by_subject(self) -> Path:
        """The BDS datasets in force and each subject's input digest, for the next night (cdisc.adam.previous)."""
        return self.root / "adam_by_subject"
