"""Each randomized subject's assignment, for the unblinded area: the stage-1 and stage-2 treatments
from the randomization key, and the arm they make at the unblinding level (stage 2 masked at the
stage-1-only level)."""
from __future__ import annotations

import pandas as pd

from cdisc.design import Design, arm_of

MASKED = "MASKED"
COLUMNS = ["TRT1", "TRT2", "RAND2DTC", "ARMCD", "ARM"]


class AssignmentError(ValueError):
    """The randomization list and key cannot assign a randomized subject (a data problem: the
    unblinded package is refused with this reason, never built on a guess)."""


def assignments(iwrs: pd.DataFrame, key: pd.DataFrame, design: Design, level: str) -> pd.DataFrame:
    """Per stage-1 randomized SUBJID: TRT1 and TRT2 (IWRS treatment codes; TRT2 '' when not
    randomized again, MASKED at the stage-1-only level), RAND2DTC, and the arm shown at ``level``."""
    treatment = key.set_index("RAND_NO")["TREATMENT"]
    # a row of no known stage, or of either stage whose number is missing or not in the key, stops the
    # area: a stage-2 randomization read as 'not randomized again' would show the subject in the wrong arm
    other = iwrs.loc[~iwrs["STAGE"].isin(["1", "2"]), "SUBJID"]
    if len(other):
        raise AssignmentError(f"randomizations of a stage other than 1 or 2: {', '.join(map(str, other[:5]))}")
    stages = {s: iwrs[iwrs["STAGE"] == s].drop_duplicates("SUBJID").set_index("SUBJID") for s in ("1", "2")}
    blank = [f"{subjid} stage {s}" for s in ("1", "2") for subjid, n in stages[s]["RAND_NO"].items()
             if pd.isna(n) or not str(n).strip()]
    if blank:
        raise AssignmentError(f"randomizations without a randomization number: {', '.join(blank[:5])}")
    unknown = [str(n) for s in ("1", "2") for n in stages[s]["RAND_NO"] if n not in treatment.index]
    if unknown:
        raise AssignmentError(f"randomization numbers missing from the key: {', '.join(unknown[:5])}")
    out = pd.DataFrame(index=pd.Index(stages["1"].index, name="SUBJID"))
    out["TRT1"] = stages["1"]["RAND_NO"].map(treatment)
    stage2 = stages["2"]["RAND_NO"].reindex(out.index)
    out["TRT2"] = stage2.map(treatment).fillna("")
    if level == "stage1":
        out["TRT2"] = out["TRT2"].where(out["TRT2"] == "", MASKED)
    out["RAND2DTC"] = stages["2"]["RAND_DTM"].reindex(out.index).fillna("")
    arms = arm_of(design, level)
    chosen = [arms.get((t1, t2 or None)) for t1, t2 in zip(out["TRT1"], out["TRT2"])]
    unknown = [f"{t1}/{t2 or '-'}" for (t1, t2), arm in zip(zip(out["TRT1"], out["TRT2"]), chosen) if arm is None]
    if unknown:
        raise ValueError(f"treatment paths the trial design has no arm for: {sorted(set(unknown))}")
    out["ARMCD"] = [a.armcd for a in chosen]
    out["ARM"] = [a.arm for a in chosen]
    return out[COLUMNS]
