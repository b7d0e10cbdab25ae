"""The hand-off from an area's SDTM to its ADaM: the conformed datasets of the SDTM package in force
and the submittable EDC forms they were built from, as Parquet files beside the package.

Why Parquet beside the package rather than the store: the hand-off belongs to the area (the
unblinded area's SDTM must never enter the blinded store or folder), it keeps every dtype exactly
(no text round trip as with XPT or SQL), and it is read whole in a fraction of a second. It is
replaced only together with a package that passed its spec check, so ADaM never reads the SDTM of
another night than the package in force.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cdisc.package import fresh_folder, recover, swap_in


@dataclass
class SdtmHandoff:
    datasets: dict[str, pd.DataFrame]
    forms: dict[str, pd.DataFrame]


def save_handoff(folder: Path, handoff: SdtmHandoff) -> None:
    """Write both parts into a fresh folder, then swap it in (a reader never sees half of one)."""
    fresh = fresh_folder(folder)
    for part, frames in (("sdtm", handoff.datasets), ("forms", handoff.forms)):
        (fresh / part).mkdir()
        for name, frame in frames.items():
            frame.to_parquet(fresh / part / f"{name}.parquet", index=False)
    swap_in(fresh, folder)


def load_handoff(folder: Path) -> SdtmHandoff:
    """The hand-off written with the package in force; FileNotFoundError when there is none yet."""
    recover(folder)
    if not (folder / "sdtm").is_dir():
        raise FileNotFoundError(f"no SDTM hand-off in {folder}: the area's SDTM package was never written")
    read = {part: {p.stem: pd.read_parquet(p) for p in sorted((folder / part).glob("*.parquet"))}
            for part in ("sdtm", "forms")}
    return SdtmHandoff(datasets=read["sdtm"], forms=read["forms"])
