"""Everything the rules look at, read once from the store per run."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from aclf import current
from aclf.config import Study
from aclf.harmonized_lab import load_harmonized_lab, load_schema_failures


@dataclass
class RuleInputs:
    study: Study
    lab: pd.DataFrame                          # harmonized lab records in force
    forms: dict[str, pd.DataFrame]             # EDC forms and the IWRS list in force
    transfers: pd.DataFrame                    # the registry
    quarantine: pd.DataFrame                   # quarantined rows of the transfers in force
    vanished: pd.DataFrame                     # records a later snapshot no longer holds
    staged_lab: pd.DataFrame = field(default_factory=pd.DataFrame)
    lab_failures: pd.DataFrame | None = None   # the lab table's schema failures, when already found

    def file_of(self, transfer_ids: pd.Series) -> pd.Series:
        names = self.transfers.set_index("id")["name"] if not self.transfers.empty else pd.Series(dtype=str)
        return transfer_ids.map(names).fillna("")


def read_inputs(engine: sa.Engine, study: Study, mirror: Path | None = None,
                study_dir: Path | None = None) -> RuleInputs:
    """The harmonized table with the schema failures found when it was built, and the rest in force;
    ``mirror``, ``study_dir``: see aclf.harmonized_lab.load_harmonized_lab and aclf.current.forms_in_force."""
    return RuleInputs(study=study, lab=load_harmonized_lab(engine, mirror), lab_failures=load_schema_failures(engine),
                      forms=current.forms_in_force(engine, study, mirror, study_dir),
                      transfers=current.transfers(engine),
                      quarantine=current.quarantine_in_force(engine), vanished=current.vanished_records(engine))
