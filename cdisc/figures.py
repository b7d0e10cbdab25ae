"""Figures for the statistician's eye: Kaplan-Meier of transplant-free survival (statsmodels'
estimator; lifelines would pin pandas < 3) and a parameter's median and IQR over analysis visits.
PNG files; no treatment split in the blinded area."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from statsmodels.duration.survfunc import SurvfuncRight  # noqa: E402

def km_plot(tte: pd.DataFrame, path: Path, title: str, reporting_weeks: list[int]) -> dict[str, float]:
    """Kaplan-Meier curve of one time-to-event parameter (AVAL days, CNSR 0 = event) with its 95%
    pointwise band; returns the estimated survival at each reporting week, shown on the figure."""
    weeks = (tte["AVAL"] / 7).to_numpy(float)
    fit = SurvfuncRight(weeks, (tte["CNSR"] == 0).to_numpy(int))
    last = float(weeks.max()) if len(weeks) else 0.0
    times, surv = [0.0, *fit.surv_times, last], [1.0, *fit.surv_prob, *fit.surv_prob[-1:]]
    low, high = _loglog_band(fit.surv_prob, fit.surv_prob_se)
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.step(times[: len(surv)], surv, where="post", label=f"all randomized (n={len(tte)})")
    ax.fill_between(fit.surv_times, low, high, step="post", alpha=0.2, label="95% pointwise CI (log-log)")
    censored = weeks[(tte["CNSR"] != 0).to_numpy()]
    ax.plot(censored, [_at(times, surv, t) for t in censored], "|", ms=6, color="black", label="censored")
    rates = {f"week {w}": _at(times, surv, w) for w in reporting_weeks}
    ax.set(title=title, xlabel="Weeks since stage-1 randomization", ylabel="Probability", ylim=(0, 1.02),
           xlim=(0, max(reporting_weeks) + 1))
    ax.set_xticks(reporting_weeks)
    ax.legend(loc="upper right", fontsize=8)
    ax.text(0.99, 0.02, "  ".join(f"wk{w}: {rates[f'week {w}']:.2f}" for w in reporting_weeks[:5]),
            transform=ax.transAxes, ha="right", fontsize=7)
    _save(fig, path)
    return rates


def _loglog_band(surv, se, z: float = 1.96):
    """Pointwise confidence limits of S(t) on the log(-log) scale (stays within 0..1)."""
    import numpy as np

    surv, se = np.asarray(surv, float), np.asarray(se, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.log(-np.log(surv))
        half = z * se / (surv * np.abs(np.log(surv)))
        low, high = np.exp(-np.exp(theta + half)), np.exp(-np.exp(theta - half))
    done = surv >= 1.0
    return np.where(done, 1.0, np.nan_to_num(low, nan=0.0)), np.where(done, 1.0, np.nan_to_num(high, nan=1.0))


def _at(times: list[float], surv: list[float], t: float) -> float:
    """The step function's value at time t (the last step at or before t)."""
    value = surv[0]
    for time, s in zip(times, surv):
        if time > t:
            break
        value = s
    return float(value)


def trajectory_plot(bds: pd.DataFrame, paramcd: str, path: Path, title: str, unit: str) -> pd.DataFrame:
    """Median and interquartile range of AVAL per analysis visit (ANL01FL records); returns the table."""
    rows = bds[(bds["PARAMCD"] == paramcd) & bds["AVAL"].notna() & (bds["AVISIT"] != "UNSCHEDULED")]
    if "ANL01FL" in rows:
        rows = rows[rows["ANL01FL"] == "Y"]
    table = rows.groupby(["AVISITN", "AVISIT"])["AVAL"].describe(percentiles=[0.25, 0.5, 0.75]).reset_index()
    fig, ax = plt.subplots(figsize=(8, 5))
    if not table.empty:
        x = range(len(table))
        ax.plot(x, table["50%"], marker="o", label="median")
        ax.fill_between(x, table["25%"], table["75%"], alpha=0.25, label="interquartile range")
        ax.set_xticks(list(x), [f"{v}\n(n={int(n)})" for v, n in zip(table["AVISIT"], table["count"])], fontsize=7)
        ax.legend()
    ax.set(title=title, ylabel=f"{paramcd} ({unit})" if unit else paramcd, xlabel="Analysis visit")
    _save(fig, path)
    return table


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
