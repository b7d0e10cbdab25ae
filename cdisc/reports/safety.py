"""Treatment-emergent adverse events by arm and stage: subjects with at least one event, overall,
serious, related, and by system organ class and preferred term (subject counts, not events)."""
from __future__ import annotations

import pandas as pd

RELATED = {"POSSIBLY RELATED", "PROBABLY RELATED", "DEFINITELY RELATED"}


def denominators(adsl: pd.DataFrame) -> dict[tuple[str, str], int]:
    """(stage, arm) -> subjects of the safety population at risk: stage 1 by TRT01A; stage 2 by the
    period-2 treatment (TRT02A, else TRT01A) among those who entered period 2 (ADSL AP02SDT)."""
    safety = adsl[adsl["SAFFL"] == "Y"]
    stage2 = safety[safety["AP02SDT"].notna()]
    arm2 = stage2["TRT02A"].where(stage2["TRT02A"] != "", stage2["TRT01A"])
    out = {("stage 1", arm): n for arm, n in safety.groupby("TRT01A")["USUBJID"].nunique().items()}
    out |= {("stage 2", arm): n for arm, n in stage2.groupby(arm2)["USUBJID"].nunique().items()}
    return out


def teae_incidence(adae: pd.DataFrame, adsl: pd.DataFrame, arm: str = "TRTA") -> pd.DataFrame:
    """Rows: stage (APERIOD), arm, category (any / serious / related / SOC / SOC and PT), term;
    subjects with the event, subjects at risk in that stage and arm, percent."""
    emergent = adae[adae["TRTEMFL"] == "Y"].copy()
    emergent["stage"] = emergent["APERIOD"].map(lambda p: f"stage {int(p)}" if pd.notna(p) else "unknown")
    at_risk = denominators(adsl)
    parts = []
    for category, rows, term in (
            ("any TEAE", emergent, None), ("serious", emergent[emergent["AESER"] == "Y"], None),
            ("related", emergent[emergent["AEREL"].isin(RELATED)], None),
            ("system organ class", emergent, ["AEBODSYS"]), ("preferred term", emergent, ["AEBODSYS", "AEDECOD"])):
        keys = ["stage", arm] + (term or [])
        counts = rows.groupby(keys)["USUBJID"].nunique().rename("subjects").reset_index()
        counts["category"] = category
        counts["term"] = counts[term].agg(" / ".join, axis=1) if term else ""
        parts.append(counts[["stage", arm, "category", "term", "subjects"]])
    table = pd.concat(parts, ignore_index=True).rename(columns={arm: "arm"})
    table["N"] = pd.array([at_risk.get((s, a)) for s, a in zip(table["stage"], table["arm"])], dtype="Int64")
    table["percent"] = (100 * table["subjects"] / table["N"].astype(float)).round(1)
    return table.sort_values(["stage", "category", "term", "arm"]).reset_index(drop=True)
