"""Figures for statisticians: the Kaplan-Meier curve with its number-at-risk table (statsmodels'
estimator; lifelines would pin pandas < 3) and a parameter's median and IQR over analysis visits.
Each figure is written as PNG at print resolution (300 dpi), SVG and PDF. Axis labels come from the
parameter's label and unit, and a footnote gives the population, N and the data cut. No spread
band is drawn where a visit has too few values for one. There is no treatment split in the blinded
area; the unblinded area draws by arm (cdisc.reports)."""
from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from statsmodels.duration.survfunc import SurvfuncRight  # noqa: E402

from aclf.config import Study  # noqa: E402
from cdisc.adam.analysis import Analysis  # noqa: E402
from cdisc.reports.survival import curves, logrank  # noqa: E402

AT_RISK_WEEKS = [0, 4, 8, 12, 24, 36, 53]   # columns of the number-at-risk table
FORMATS = ("png", "svg", "pdf")
PRINT_DPI = 300
MIN_N_FOR_SPREAD = 5                        # fewer values at a visit: its median only, no IQR band


def draw_figures(datasets: dict[str, pd.DataFrame], analysis: Analysis, study: Study, folder: Path, data_cut: str
                 ) -> tuple[dict[str, Path], dict[str, float]]:
    """The configured figures of the blinded area: the Kaplan-Meier curve (with its weekly estimates)
    and trajectories, each with its population, N and data cut in a footnote."""
    km = analysis.figures.km
    tte = datasets[km.dataset]
    tte = tte[tte["PARAMCD"] == km.paramcd].dropna(subset=["AVAL"])
    cut = f"Data cut {data_cut}; blinded: arms pooled."
    figures = {km.metadata: folder / f"{km.file}.png"}
    with ThreadPoolExecutor(1) as pool:
        pending = []

        def encoder(encode: Callable[[], None]) -> None:
            pending.append(pool.submit(encode))

        rates = km_plot(tte, figures[km.metadata], km.title, analysis.reporting_weeks,
                        f"Population: all stage-1 randomized subjects (N={len(tte)}). {cut}",
                        encoder) if len(tte) else {}
        if not rates:
            figures.pop(km.metadata)
        for fig in analysis.figures.trajectories:
            test = study.lab.tests.get(fig.paramcd) if fig.dataset == "ADLB" else None
            figures[fig.metadata] = folder / f"{fig.file}.png"
            trajectory_plot(datasets[fig.dataset], fig.paramcd, figures[fig.metadata], fig.title,
                            test.standard_unit if test else "",
                            f"Population: randomized subjects, analysis records (ANL01FL = Y). {cut}", encoder)
        for job in pending:      # every PNG written, or its error raised here
            job.result()
    return figures, rates


def km_figure(tte: pd.DataFrame, arm: str, title: str, footnote: str, last_week: int) -> plt.Figure:
    """Kaplan-Meier curves per group of ``arm``, censoring marks, the log-rank test when there are two
    groups or more, and a number-at-risk table under the axis."""
    fig, (ax, table) = plt.subplots(2, 1, figsize=(8, 6), gridspec_kw={"height_ratios": [4, 1]}, sharex=True)
    for name, (times, surv, censored) in curves(tte, arm).items():
        line, = ax.step(times, surv, where="post", label=f"{name} (n={int((tte[arm] == name).sum())})")
        at = [surv[max(0, (times <= t).sum() - 1)] for t in censored]
        ax.plot(censored, at, "|", ms=6, color=line.get_color())
    groups = sorted(tte[arm].unique())
    legend_title = None
    if len(groups) > 1:
        chisq, p = logrank(tte, arm)
        legend_title = f"log-rank chi-square {chisq:.2f}, p = {p:.3g}"
    ax.set(title=title, ylabel="Transplant-free survival probability", ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=8, title=legend_title, title_fontsize=8)
    for row, name in enumerate(groups):
        weeks = tte.loc[tte[arm] == name, "AVAL"] / 7
        for t in AT_RISK_WEEKS:
            table.text(t, row, str(int((weeks >= t).sum())), ha="center", va="center", fontsize=8)
    table.set(yticks=range(len(groups)), yticklabels=groups, ylim=(-0.5, len(groups) - 0.5),
              xlabel="Weeks since stage-1 randomization", xlim=(-2, last_week + 2))
    table.tick_params(axis="y", length=0, pad=14)
    table.set_title("Number at risk", fontsize=8, loc="left")
    table.set_xticks(AT_RISK_WEEKS)
    for side in ("top", "right", "left"):
        table.spines[side].set_visible(False)
    fig.text(0.01, 0.005, footnote, fontsize=7, ha="left", va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def km_plot(tte: pd.DataFrame, path: Path, title: str, reporting_weeks: list[int], footnote: str,
            encoder: Callable[[Callable[[], None]], None] | None = None) -> dict[str, float]:
    """The pooled (blinded) Kaplan-Meier curve of one time-to-event parameter (AVAL days, CNSR 0 =
    event) with its 95% pointwise band and the number at risk; returns the estimated survival at each
    reporting week."""
    group = "All randomized (arms pooled)"
    fig = km_figure(tte.assign(GROUP=group), "GROUP", title, footnote, max(AT_RISK_WEEKS[-1], max(reporting_weeks)))
    weeks = (tte["AVAL"] / 7).to_numpy(float)
    fit = SurvfuncRight(weeks, (tte["CNSR"] == 0).to_numpy(int))
    low, high = _loglog_band(fit.surv_prob, fit.surv_prob_se)
    fig.axes[0].fill_between(fit.surv_times, low, high, step="post", alpha=0.2, label="95% pointwise CI (log-log)")
    fig.axes[0].legend(loc="lower left", fontsize=8)
    last = float(weeks.max()) if len(weeks) else 0.0
    times, surv = [0.0, *fit.surv_times, last], [1.0, *fit.surv_prob, *fit.surv_prob[-1:]]
    save(fig, path, encoder)
    return {f"week {w}": _at(times, surv, w) for w in reporting_weeks}


def _loglog_band(surv, se, z: float = 1.96):
    """Pointwise confidence limits of S(t) on the log(-log) scale (stays within 0..1)."""
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


def trajectory_plot(bds: pd.DataFrame, paramcd: str, path: Path, title: str, unit: str, footnote: str,
                    encoder: Callable[[Callable[[], None]], None] | None = None) -> pd.DataFrame:
    """Median and interquartile range of AVAL per analysis visit (ANL01FL records), the band only
    where a visit has ``MIN_N_FOR_SPREAD`` values or more; returns the table."""
    rows = bds[(bds["PARAMCD"] == paramcd) & bds["AVAL"].notna() & (bds["AVISIT"] != "UNSCHEDULED")]
    if "ANL01FL" in rows:
        rows = rows[rows["ANL01FL"] == "Y"]
    table = rows.groupby(["AVISITN", "AVISIT"])["AVAL"].describe(percentiles=[0.25, 0.5, 0.75]).reset_index()
    label = rows["PARAM"].dropna().iloc[0] if "PARAM" in rows and rows["PARAM"].notna().any() else paramcd
    fig, ax = plt.subplots(figsize=(10, 5.5))
    if not table.empty:
        x = np.arange(len(table))
        ax.plot(x, table["50%"], marker="o", label="median")
        enough = (table["count"] >= MIN_N_FOR_SPREAD).to_numpy()
        ax.fill_between(x, table["25%"], table["75%"], where=enough, alpha=0.25,
                        label=f"interquartile range (visits with n >= {MIN_N_FOR_SPREAD})")
        ax.set_xticks(list(x), [f"{v}\n(n={int(n)})" for v, n in zip(table["AVISIT"], table["count"])],
                      fontsize=7, rotation=45, ha="right", rotation_mode="anchor")
        ax.legend(fontsize=8)
    with_unit = f"{label} ({unit})" if unit and f"({unit})" not in label else label
    ax.set(title=title, ylabel=with_unit, xlabel="Analysis visit")
    subjects = rows["USUBJID"].nunique() if "USUBJID" in rows else len(rows)
    fig.text(0.01, 0.005, f"{footnote} Subjects with a value: N={subjects}.", fontsize=7, ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    save(fig, path, encoder)
    return table


def save(fig: plt.Figure, path: Path, encoder: Callable[[Callable[[], None]], None] | None = None
         ) -> dict[str, Path]:
    """The figure as PNG (300 dpi), SVG and PDF beside each other; ``path`` names the PNG. With
    ``encoder``, the PNG's compression is handed to it (to run while the other formats are drawn)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = {ext: path.with_suffix(f".{ext}") for ext in FORMATS}
    for ext in FORMATS:
        if ext == "png":
            (encoder or (lambda encode: encode()))(png_encoding(fig, written[ext]))
        else:
            fig.savefig(written[ext])
    plt.close(fig)
    return written


def png_encoding(fig: plt.Figure, path: Path) -> Callable[[], None]:
    """What ``fig.savefig(path, dpi=PRINT_DPI)`` does (matplotlib's FigureCanvasAgg._print_pil), in
    two halves: the figure drawn into an RGBA buffer now, and the function that compresses it into
    ``path`` (Pillow releases the GIL meanwhile). Run beside the other formats' drawing, it took the
    three figures from 1.3 to 0.95 s at 150 subjects; tests/cdisc/test_figures.py: the same bytes."""
    raw = io.BytesIO()
    fig.savefig(raw, format="rgba", dpi=PRINT_DPI)
    width, height = int(fig.get_figwidth() * PRINT_DPI), int(fig.get_figheight() * PRINT_DPI)
    pixels = np.frombuffer(raw.getbuffer(), np.uint8).reshape(height, width, 4)
    return partial(matplotlib.image.imsave, path, pixels, format="png", origin="upper", dpi=PRINT_DPI)
