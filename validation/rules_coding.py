"""Findings on coding: adverse events not yet coded to MedDRA or without an English term, which
the submission cannot carry (AEDECOD, AEBODSYS and an ASCII AETERM are required)."""
from __future__ import annotations

import pandas as pd

from aclf.disclosure import quoted
from validation.findings import combine, make_findings
from validation.inputs import RuleInputs


def is_english(terms: pd.Series) -> pd.Series:
    return terms.fillna("").map(lambda t: t != "" and t.isascii()).astype(bool)


def submittable_aes(ae: pd.DataFrame) -> pd.Series:
    """True for AEs coded (MedDRA PT and SOC) and with an English (ASCII) term."""
    return (ae["AEDECOD"] != "") & (ae["AEBODSYS"] != "") & is_english(ae["AETERM_EN"])


def adverse_events(inp: RuleInputs) -> pd.DataFrame:
    ae = inp.forms.get("adverse_events")
    if ae is None or ae.empty:
        return combine([])
    rows = ae.rename(columns={"SUBJID": "subjid"}).assign(file="adverse_events.csv")
    key = ae["SUBJID"] + "|" + ae["AESPID"]
    uncoded = (ae["AEDECOD"] == "") | (ae["AEBODSYS"] == "")
    untranslated = ~is_english(ae["AETERM_EN"])
    term = quoted(ae["AETERM_EN"], up_to=None)      # clinical free text of any length
    what = "Adverse event " + ae["AESPID"] + " of subject " + ae["SUBJID"] + " (" + term + ")"
    return combine([
        make_findings("ae_uncoded", rows[uncoded], key[uncoded],
                      (what + " has no MedDRA preferred term or system organ class yet; it is left out of "
                       "the SDTM AE dataset until coded.")[uncoded], inp.study),
        make_findings("ae_untranslated", rows[untranslated], key[untranslated],
                      (what + " has no English translation of its verbatim term; it is left out of the SDTM "
                       "AE dataset until translated.")[untranslated], inp.study),
    ])
