"""Build every ADaM dataset of one area from that area's SDTM, conformed to the ADaM spec."""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from aclf.config import Study
from cdisc.adam.adae import build_adae
from cdisc.adam.adsl import build_adsl
from cdisc.adam.adtte import build_adtte
from cdisc.adam.bds import LB_USED, build_adlb, build_adscore
from cdisc.adam.analysis import Analysis
from cdisc.adam.treatment import adsl_treatments, blinded_treatments, treatment_at_onset
from cdisc.by_subject import Previous, changed_subjects, merge_hashed, subject_digests
from cdisc.design import Design
from cdisc.handoff import columns_of
from aclf.frames import isin, sorted_consuming
from cdisc.spec import Spec
from cdisc.xpt import conform


BY_SUBJECT = ("ADLB", "ADSCORE")    # each subject's records from its own LB, RS, PR and ADSL rows


class Adam(NamedTuple):
    datasets: dict[str, pd.DataFrame]   # every dataset of the spec, conformed
    digests: pd.Series | None           # each subject's inputs to the BDS datasets, digested (cdisc.by_subject)
    hashes: dict[str, np.ndarray]       # row hashes carried over (cdisc.by_subject.merge_hashed)


def build_adam(sdtm: Mapping[str, pd.DataFrame], study: Study, analysis: Analysis, spec: Spec, design: Design,
               previous: Previous | None = None, digested: bool = True) -> Adam:
    """The datasets conformed to ``spec`` (already the area's view), sorted by their keys, and the
    digest of each subject's inputs to the BDS datasets; each working frame is released once
    conformed. From an unblinded SDTM (it has EX) the treatment variables are added. With
    ``previous`` (built under the same code and configuration), the BDS records of a subject whose
    digest did not change are taken from it instead of being derived again. Without ``previous`` and
    not ``digested`` (no later night will use them), the digests are not made (None)."""
    adsl = build_adsl(sdtm, analysis, design.etiology_category)
    if adsl.empty:  # nobody randomized yet: an empty but valid package
        empty = {name: pd.DataFrame(columns=ds.names) for name, ds in spec.datasets.items()}
        return Adam({name: conform(frame, spec.datasets[name]) for name, frame in empty.items()},
                    pd.Series(dtype="uint64"), {})
    unblinded = "EX" in sdtm
    treatments = adsl_treatments(adsl, sdtm, design) if unblinded else blinded_treatments(adsl, sdtm, design)
    adsl = pd.concat([adsl, treatments], axis=1)
    lb, rs, pr = columns_of(sdtm, "LB", LB_USED), sdtm["RS"], sdtm["PR"]    # only what ADLB reads
    digests = subject_digests([lb, rs, pr, adsl]) if digested or previous is not None else None
    reuse = previous is not None and set(BY_SUBJECT) <= set(previous.datasets)
    changed = isin(adsl["USUBJID"], changed_subjects(previous.digests, digests)) if reuse else None
    derived = adsl if changed is None else adsl[changed]
    adlb = build_adlb(lb, derived, study, analysis) if len(derived) else None
    del lb
    full = {"ADSL": adsl, "ADTTE": build_adtte(adsl, analysis), "ADAE": build_adae(sdtm["AE"], adsl)}
    if adlb is not None:
        full.update(ADLB=adlb, ADSCORE=build_adscore(adlb, rs, pr, derived, study, analysis))
    del adlb                  # held by ``full`` only from here: released once conformed
    planned = adsl.set_index("USUBJID")["TRT01P"]     # ADaMIG: every analysis dataset names a treatment
    for name in ("ADLB", "ADSCORE", "ADAE", "ADTTE"):
        if name in full:
            full[name]["TRT01P"] = full[name]["USUBJID"].map(planned)
    if unblinded:
        full["ADAE"] = pd.concat([full["ADAE"], treatment_at_onset(full["ADAE"], adsl)], axis=1)
        full["ADTTE"] = full["ADTTE"].merge(adsl[["USUBJID", "TRT01PN"]], on="USUBJID", how="left")
    missing = sorted(set(spec.datasets) - set(full) - (set(BY_SUBJECT) if reuse else set()))
    if missing:
        raise ValueError(f"the ADaM spec lists datasets no builder makes: {missing}")
    out, hashes = {}, {}
    for name in sorted(spec.datasets):
        frame, ds = full.pop(name, None), spec.datasets[name]
        if frame is not None:
            out[name] = conform(sorted_consuming(frame, [k for k in ds.keys if k in frame]), ds)   # never in both orders
        if changed is not None and name in BY_SUBJECT:
            out[name], carried = merge_hashed(previous.datasets[name], out.get(name), adsl.loc[~changed, "USUBJID"])
            if carried is not None:
                hashes[name] = carried
    return Adam(out, digests, hashes)
