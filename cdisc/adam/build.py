"""Build every ADaM dataset of one area from that area's SDTM, conformed to the ADaM spec."""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from aclf.config import Study
from cdisc.adam.adae import build_adae
from cdisc.adam.adsl import build_adsl
from cdisc.adam.adtte import build_adtte
from cdisc.adam.bds import build_adlb, build_adscore
from cdisc.adam.analysis import Analysis
from cdisc.adam.treatment import adsl_treatments, blinded_treatments, treatment_at_onset
from cdisc.design import Design
from aclf.frames import sorted_consuming
from cdisc.spec import Spec
from cdisc.xpt import conform


def build_adam(sdtm: Mapping[str, pd.DataFrame], study: Study, analysis: Analysis, spec: Spec,
               design: Design) -> dict[str, pd.DataFrame]:
    """The datasets conformed to ``spec`` (already the area's view), sorted by their keys; each
    working frame is released once conformed. From an unblinded SDTM (it has EX) the treatment
    variables are added."""
    adsl = build_adsl(sdtm, analysis, design.etiology_category)
    unblinded = "EX" in sdtm
    if not adsl.empty:
        treatments = adsl_treatments(adsl, sdtm, design) if unblinded else blinded_treatments(adsl, sdtm["DM"], design)
        adsl = pd.concat([adsl, treatments], axis=1)
    if adsl.empty:  # nobody randomized yet: an empty but valid package
        empty = {name: pd.DataFrame(columns=ds.names) for name, ds in spec.datasets.items()}
        return {name: conform(frame, spec.datasets[name]) for name, frame in empty.items()}
    adlb = build_adlb(sdtm["LB"], adsl, study, analysis)
    full = {"ADSL": adsl, "ADLB": adlb, "ADSCORE": build_adscore(adlb, sdtm["RS"], sdtm["PR"], adsl, study, analysis),
            "ADTTE": build_adtte(adsl, analysis), "ADAE": build_adae(sdtm["AE"], adsl, analysis)}
    if unblinded:
        full["ADAE"] = pd.concat([full["ADAE"], treatment_at_onset(full["ADAE"], adsl)], axis=1)
        full["ADTTE"] = full["ADTTE"].merge(adsl[["USUBJID", "TRT01P", "TRT01PN"]], on="USUBJID", how="left")
    missing = sorted(set(spec.datasets) - set(full))
    if missing:
        raise ValueError(f"the ADaM spec lists datasets no builder makes: {missing}")
    del adlb                  # held by ``full`` only from here: released once conformed
    out = {}
    for name in sorted(spec.datasets):
        frame = full.pop(name)
        keys = [k for k in spec.datasets[name].keys if k in frame]
        out[name] = conform(sorted_consuming(frame, keys), spec.datasets[name])   # never in both orders
    return out
