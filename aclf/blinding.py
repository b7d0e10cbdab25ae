"""Who may see what: the blinding levels and the authorization records that open them.

The registry's design unblinds stage 1 at week 4 and keeps stage 2 (prolonged hUC-MSC against
placebo) blinded. Three levels follow from the stages authorized:

- ``blinded`` (no authorization; the default): no assignment, and the randomization key is never read;
- ``stage1``: the stage-1 assignment, the stage-2 randomization and the week-4/5 infusions are
  visible; the stage-2 assignment stays masked;
- ``full``: both assignments.

An unblinding is study-wide, not per patient (a DMP decision, documented in the README): the
registry unblinds "stage 1 at week 4" of the study, and a per-patient opening would let whoever
sees the unblinded area follow each patient's week-4 status into the blinded stage 2.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from aclf.config import ConfigError

Level = Literal["blinded", "stage1", "full"]


class Authorization(BaseModel):
    """One authorized unblinding: which stage, by whom, when, under which reference (e.g. a DMC minute)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: Literal[1, 2]
    authorized_by: str = Field(min_length=1)
    authorized_on: date
    reference: str = Field(min_length=1)


@dataclass(frozen=True)
class Unblinding:
    authorizations: tuple[Authorization, ...] = ()

    @property
    def stages(self) -> frozenset[int]:
        return frozenset(a.stage for a in self.authorizations)

    @property
    def level(self) -> Level:
        return "full" if 2 in self.stages else "stage1" if 1 in self.stages else "blinded"

    @property
    def masks_stage2(self) -> bool:
        return self.level == "stage1"


BLINDED = Unblinding()
_RECORDS = TypeAdapter(list[Authorization])


def load_unblinding(path: str | Path) -> Unblinding:
    """The authorization file: a YAML list of ``{stage, authorized_by, authorized_on, reference}``.
    Stage 2 cannot be opened before stage 1 (its comparison would reveal the stage-1 arm too)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the unblinding authorization: {exc}") from None
    try:
        records = _RECORDS.validate_python(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: invalid unblinding authorization: {problems}") from None
    unblinding = Unblinding(tuple(records))
    if not records:
        raise ConfigError(f"{path}: the unblinding authorization lists no record")
    if 2 in unblinding.stages and 1 not in unblinding.stages:
        raise ConfigError(f"{path}: stage 2 cannot be unblinded before stage 1")
    return unblinding
