"""The harmonized lab table: staged records with standard results, study days and analysis visits;
built here and kept here (the store's ``lab_harmonized`` table)."""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from aclf.config import Study
from aclf.units import harmonize_results
from aclf.isodate import date_part
from aclf.store import bulk_insert, lab_harmonized, lab_harmonized_failure
from aclf.timing import analysis_visits, labelled_visitnum, study_days

LINEAGE = ["source", "record_key", "transfer_id", "row_number"]


def build_harmonized_lab(staged: pd.DataFrame, first_infusion: pd.Series, study: Study) -> pd.DataFrame:
    """One row per staged record (none dropped): identity, lineage, visits, days, standard results."""
    out = staged[LINEAGE + ["subjid", "sample_id", "visit_raw", "visit", "test_raw", "lbtestcd", "comment"]].copy()
    out.insert(0, "site_id", out["subjid"].str[:2])
    out["lbdtc"] = staged["collected"]
    when = date_part(staged["collected"])
    reference = out["subjid"].map(first_infusion.to_dict())   # a dict: pandas cannot map an empty datetime Series
    out["lbdy"], out["pday"] = study_days(when, reference)
    out["avisit"], out["avisitn"] = analysis_visits(out["pday"], study)
    out["visitnum"] = labelled_visitnum(out["visit"], out["avisitn"], study)
    return pd.concat([out, harmonize_results(staged, study.lab)], axis=1)


FAILURE_COLUMNS = ["column", "check", "failure_case", "index"]


def save_harmonized_lab(engine: sa.Engine, lab: pd.DataFrame, failures: pd.DataFrame) -> None:
    """Tonight's table and its schema failure cases (``index`` = row position) replace last night's."""
    columns = [c.name for c in lab_harmonized.columns if c.name != "id"]
    cases = pd.DataFrame({"row_index": failures["index"], "column_name": failures["column"].astype(str),
                          "check_name": failures["check"].astype(str), "failure_case": failures["failure_case"].astype(str)})
    with engine.begin() as conn:
        conn.execute(lab_harmonized.delete())
        conn.execute(lab_harmonized_failure.delete())
        bulk_insert(conn, lab_harmonized, lab.reset_index(drop=True), columns)
        bulk_insert(conn, lab_harmonized_failure, cases.astype({"row_index": "Int64"}), list(cases.columns))


def load_harmonized_lab(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.read_sql(sa.select(lab_harmonized).order_by(lab_harmonized.c.id), conn)
    text = [c.name for c in lab_harmonized.columns if isinstance(c.type, sa.Text)]
    frame[text] = frame[text].fillna("")
    return frame.drop(columns="id")


def load_schema_failures(engine: sa.Engine) -> pd.DataFrame:
    """The schema failure cases stored with the table, as pandera reported them."""
    with engine.connect() as conn:
        stored = pd.read_sql(sa.select(lab_harmonized_failure).order_by(lab_harmonized_failure.c.id), conn)
    names = {"row_index": "index", "column_name": "column", "check_name": "check"}
    return stored.rename(columns=names)[FAILURE_COLUMNS]
