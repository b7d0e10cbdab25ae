"""The unblinded report folder: KM of transplant-free survival by stage-1 arm with the numbers at risk
and the log-rank test, rates at the protocol weeks with 95% CIs, TEAE incidence by arm and stage;
PNG and SVG figures, CSV tables, and one self-contained HTML report (figures inlined as SVG)."""
from __future__ import annotations

import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from cdisc.figures import km_figure  # noqa: E402
from cdisc.reports.safety import teae_incidence  # noqa: E402
from cdisc.reports.survival import logrank, rates_by_arm  # noqa: E402

def _svg(fig: plt.Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def write_reports(adsl: pd.DataFrame, adtte: pd.DataFrame, adae: pd.DataFrame, folder: Path, level: str,
                  data_cut: str, weeks: list[int], tte_param: str) -> dict[str, Path]:
    """Every report file under ``folder``; returns them by name."""
    folder.mkdir(parents=True, exist_ok=True)
    tte = adtte[(adtte["PARAMCD"] == tte_param) & adtte["AVAL"].notna()]
    footnote = (f"Population: all stage-1 randomized subjects (N={len(adsl)}), by planned stage-1 treatment. "
                f"Data cut {data_cut}; unblinding level: {level}.")
    paths: dict[str, Path] = {}
    sections = []
    if len(tte) and tte["TRT01P"].nunique() > 0:
        fig = km_figure(tte, "TRT01P", "Transplant-free survival by stage-1 arm", footnote, max(weeks))
        for ext in ("png", "svg", "pdf"):
            paths[f"km_{ext}"] = folder / f"km_transplant_free_survival_by_arm.{ext}"
            fig.savefig(paths[f"km_{ext}"], dpi=300 if ext == "png" else None)
        sections.append(("Transplant-free survival by stage-1 arm", _svg(fig)))
        plt.close(fig)
        rates = rates_by_arm(tte, "TRT01P", weeks)
        chisq, p = logrank(tte, "TRT01P")
        paths["rates_csv"] = folder / "tfs_rates_by_arm.csv"
        rates.to_csv(paths["rates_csv"], index=False, encoding="utf-8-sig")
        sections.append((f"Transplant-free survival rates (95% CI, log-log); log-rank chi-square {chisq:.2f}, "
                         f"p = {p:.3g}", rates.round(3).to_html(index=False)))
    teae = teae_incidence(adae, adsl)
    paths["teae_csv"] = folder / "teae_incidence_by_arm_and_stage.csv"
    teae.to_csv(paths["teae_csv"], index=False, encoding="utf-8-sig")
    summary = teae[teae["category"].isin(["any TEAE", "serious", "related"])]
    sections.append(("Treatment-emergent adverse events: subjects by arm and stage", summary.to_html(index=False)))
    sections.append(("By system organ class and preferred term",
                     teae[~teae["category"].isin(["any TEAE", "serious", "related"])].to_html(index=False)))
    body = "\n".join(f"<h2>{html.escape(title)}</h2>\n{content}" for title, content in sections)
    paths["html"] = folder / "unblinded_report.html"
    paths["html"].write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Unblinded report</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #999;padding:2px 6px}</style></head><body>"
        f"<h1>NCT05985863: unblinded report (restricted)</h1><p>{html.escape(footnote)}</p>{body}</body></html>",
        encoding="utf-8")
    return paths
