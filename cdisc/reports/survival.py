"""Transplant-free survival by stage-1 arm: Kaplan-Meier estimates (statsmodels), the log-rank test,
the rates at the protocol weeks with 95% confidence intervals, and the numbers at risk."""
from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

Z95 = 1.959963984540054


def _fit(tte: pd.DataFrame) -> SurvfuncRight:
    return SurvfuncRight((tte["AVAL"] / 7).to_numpy(float), (tte["CNSR"] == 0).to_numpy(int))


def _estimate(fit: SurvfuncRight, week: float) -> tuple[float, float]:
    """(survival, its standard error) at ``week``: the step function's value just after it."""
    times = np.asarray(fit.surv_times)
    position = np.searchsorted(times, week, side="right") - 1
    if position < 0:
        return 1.0, 0.0
    return float(fit.surv_prob[position]), float(fit.surv_prob_se[position])


def loglog_ci(surv: float, se: float) -> tuple[float, float]:
    """The log(-log) 95% interval of a survival estimate (Kalbfleisch-Prentice), bounded in (0, 1)."""
    if surv <= 0 or surv >= 1 or se == 0:
        return surv, surv
    theta = se / (surv * abs(np.log(surv)))
    return float(surv ** np.exp(Z95 * theta)), float(surv ** np.exp(-Z95 * theta))


def rates_by_arm(tte: pd.DataFrame, arm: str, weeks: list[int]) -> pd.DataFrame:
    """One row per arm and protocol week: n, estimate, 95% CI, number still at risk."""
    rows = []
    for name, group in tte.groupby(arm, sort=True):
        fit = _fit(group)
        for week in weeks:
            surv, se = _estimate(fit, week)
            low, high = loglog_ci(surv, se)
            rows.append({"arm": name, "week": week, "n": len(group), "survival": surv, "ci_low": low,
                         "ci_high": high, "at_risk": int(((group["AVAL"] / 7) >= week).sum())})
    return pd.DataFrame(rows)


def logrank(tte: pd.DataFrame, arm: str) -> tuple[float, float]:
    """(chi-square, p-value) of the log-rank test between the arms."""
    chisq, p = survdiff((tte["AVAL"] / 7).to_numpy(float), (tte["CNSR"] == 0).to_numpy(int), tte[arm].to_numpy())
    return float(chisq), float(p)


def curves(tte: pd.DataFrame, arm: str) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per arm: step times (weeks, from 0), survival, and the censoring times."""
    out = {}
    for name, group in tte.groupby(arm, sort=True):
        fit = _fit(group)
        last = float((group["AVAL"] / 7).max())      # the curve runs on to the last follow-up
        times = np.concatenate([[0.0], fit.surv_times, [last]])
        surv = np.concatenate([[1.0], fit.surv_prob, fit.surv_prob[-1:] if len(fit.surv_prob) else [1.0]])
        out[name] = (times, surv, (group.loc[group["CNSR"] != 0, "AVAL"] / 7).to_numpy(float))
    return out
