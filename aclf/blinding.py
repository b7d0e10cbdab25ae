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

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from aclf.config import ConfigError, FormSpec, Study, safe_load

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
        raw = safe_load(path.read_text(encoding="utf-8"))
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


def stage2_rows(spec: FormSpec, frame: pd.DataFrame) -> pd.Series:
    """True for the rows of a form that only stage-2-randomized subjects have (its ``stage2_rows``),
    however the value is spelled (``_folded``): a stage-2 row a site typed as 'Week4' or '02' is
    hidden from blinded readers as much as one typed as configured."""
    mask = pd.Series(False, index=frame.index)
    for column, values in spec.stage2_rows.items():
        if column in frame:
            codes, distinct = pd.factorize(frame[column].astype(str))
            wanted = set(_folded(pd.Series(values, dtype=str)))
            hit = np.append(_folded(pd.Series(distinct, dtype=str)).isin(wanted).to_numpy(), False)
            mask |= hit[codes]
    return mask


def _folded(values: pd.Series) -> pd.Series:
    """Values as the stage-2 filter compares them: case, blanks, '-' and '_' aside, and a whole
    number by its value ('02' and '2.0' are '2'). In doubt a row is hidden: a stage-2 row shown
    to a blinded reader reveals the stage-1 arm (only hUC-MSC patients are re-randomized)."""
    text = values.str.upper().str.replace(r"[\s_\-]", "", regex=True)
    whole = text.str.extract(r"^\+?0*(\d+?)(?:\.0*)?$")[0]
    return whole.fillna(text)


def stage2_data(spec: FormSpec, data: pd.Series) -> pd.Series:
    """The same for rows kept as JSON objects (quarantined or vanished rows). A row whose data lack
    a column the filter reads (a row held back whole, its values not kept) could be a stage-2 row,
    and is taken for one: its count and its finding go to the unblinded reader only."""
    if not spec.stage2_rows:
        return pd.Series(False, index=data.index)
    rows = pd.DataFrame([_as_dict(d) for d in data], index=data.index)
    unknown = pd.Series(False, index=data.index)
    for column in spec.stage2_rows:
        unknown |= rows[column].isna() if column in rows else True
    return stage2_rows(spec, rows) | unknown


def stage2_keys(spec: FormSpec, record_key: pd.Series) -> pd.Series:
    """The same for records known by their key only (audit events, vanished records)."""
    if not spec.stage2_rows or record_key.empty:
        return pd.Series(False, index=record_key.index)
    parts = record_key.astype(str).str.split("|", n=len(spec.key) - 1, expand=True)
    return stage2_rows(spec, parts.set_axis(spec.key[:parts.shape[1]], axis=1))


def stage2_of_entities(study: Study, entity: pd.Series, values: pd.Series, by: Literal["key", "data"]
                       ) -> pd.Series:
    """Stage-2 rows among rows of several entities ('lab' or a form name), each known by its record
    key or its JSON data."""
    specs = study.forms
    mask = pd.Series(False, index=entity.index)
    for name in entity[entity.isin(list(specs))].unique():
        rows = entity == name
        mask[rows] = (stage2_keys if by == "key" else stage2_data)(specs[name], values[rows])
    return mask


def blinded_forms(study: Study, forms: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The forms as a blinded reader may see them: without their stage-2 rows."""
    specs = study.forms
    return {name: frame[~stage2_rows(specs[name], frame)] if name in specs else frame
            for name, frame in forms.items()}


def _as_dict(data) -> dict:
    try:
        value = json.loads(data) if isinstance(data, str) else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
