"""Data-level controlled terminology: every value of a variable with a codelist is one of its terms
(Pinnacle 21 CT2001 for a non-extensible CDISC codelist, CT2002 for an extensible one; for a sponsor
codelist, the define.xml codelist must list every value used). Vectorized: one ``isin`` per column."""
from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from aclf.disclosure import shown_as_data
from cdisc.spec import Codelist, Dataset, Spec
from cdisc.xpt import EXAMPLES, Violation, _count, _violation


def _rule(cl: Codelist) -> str:
    if not cl.nci:
        return "the sponsor codelist"
    return "CT2002, extensible" if cl.extensible else "CT2001, non-extensible"


def _outside(ds: Dataset, name: str, values: pd.Series, cl: Codelist, where: str = "") -> Iterator[Violation]:
    text = values.astype(str)
    bad = text[(text != "") & (text != "nan") & ~text.isin([t.value for t in cl.terms])]
    if bad.empty:
        return
    shown = ", ".join(shown_as_data(v) for v in bad.drop_duplicates().head(EXAMPLES))
    yield _violation(ds, name, "codelist_value",
                     f"{_count(len(bad), 'value')}{where} not in {cl.id} ({_rule(cl)}): {shown}")


def codelist_values(frame: pd.DataFrame, ds: Dataset, spec: Spec) -> list[Violation]:
    """Values outside the variable's codelist (or, for a split variable, the codelist of the row's
    value of the other variable). Dictionaries (MedDRA) are not term lists and are not checked."""
    found = []
    for var in ds.variables:
        if var.name not in frame.columns:
            continue
        cl = spec.codelists.get(var.codelist) if var.codelist else None
        if cl and cl.terms and not cl.dictionary:
            found += _outside(ds, var.name, frame[var.name], cl)
        if var.by and var.by.variable in frame.columns:
            for value, cl_id in var.by.codelists.items():
                rows = frame[var.by.variable] == value
                found += _outside(ds, var.name, frame.loc[rows, var.name], spec.codelists[cl_id],
                                  f" where {var.by.variable} = {value}")
    return found
