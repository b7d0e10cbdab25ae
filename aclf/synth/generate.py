"""Entry point: simulate the study once, then write each night's cumulative DTS transfers into a landing zone.

Night k is named with its date and holds the data collected up to the day before (data cut). Every
transfer gets its `sha256sum` manifest, except on the last night the sources named in `in_flight`,
whose data file is written without one (still being written, for the pipeline's purposes).

`subjects` counts screened patients (about 10 % are screen failures). Subject numbers: each site
numbers its patients 1, 2, ... in consent order with at least three digits (`01-007`); from 1000 on
(10,000-subject runs) sites 01–04 write four (`01-1234`, `2-1234`, `031234`, `SZ3-1234`), the
canonical SUBJID widening the same way. Site 05's numeric scheme
(site × 1000 + number) cannot widen, so site 05 is capped at 999 patients and the rest are spread
over sites 01–04.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import adverse, dialects, writers
from .adverse import simulate_aes
from .changes import choose_edc_corrections, choose_lab_changes, lab_snapshot
from .course import epoch_day, iso_dates, simulate
from .design import VISIT_CODES
from .dialects import DIALECTS, Context, site_text, test_label
from .edc import Edc, iwrs_snapshot
from .labs import CENSORED, MISSING, QNS, TEXT, simulate_labs
from .people import make_people

SOURCES = ("site01", "site02", "site03", "site04", "site05", "edc", "iwrs", "iwrs_key")
LAB_FILES = {"site01": "SITE01_{}.csv", "site02": "SITE02_{}.csv", "site03": "SITE03_{}.xlsx",
             "site04": "SITE04_{}.txt", "site05": "SITE05_{}.sav"}


@dataclass(frozen=True)
class GenerationSummary:
    """What was written and which defects were injected (nights as `YYYY-MM-DD`, files relative to landing)."""

    landing: Path
    screened: int
    randomized: int
    nights: list[str]
    files: dict[str, list[str]]
    in_flight: list[str]
    defects: dict = field(default_factory=dict)
    unit_variants: dict[str, list[str]] = field(default_factory=dict)


def generate(landing: str | Path, subjects: int = 150, seed: int = 0, nights: int = 3,
             last_night: dt.date = dt.date(2025, 6, 30), in_flight: tuple[str, ...] = ("site04",)) -> GenerationSummary:
    """Write `nights` nightly cumulative transfers of a synthetic study of `subjects` screened patients."""
    unknown = set(in_flight) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown in-flight source(s): {sorted(unknown)}; sources are {SOURCES}")
    if nights < 1 or subjects < 1:
        raise ValueError("nights and subjects must be at least 1")
    landing = Path(landing)
    rng = np.random.default_rng(seed)
    night_dates = [last_night - dt.timedelta(days=nights - 1 - j) for j in range(nights)]
    night_names = [d.isoformat() for d in night_dates]
    cuts = [epoch_day(d) - 1 for d in night_dates]

    course = simulate(rng, subjects, last_night)
    labs = simulate_labs(rng, course)
    aes = simulate_aes(rng, course)
    people = make_people(rng, course.pat, avoid=dialects.CHINESE + adverse.CHINESE)
    ctx = Context(labs.samples, labs.results, course.pat, people)
    lab_dialects = [d() for d in DIALECTS]
    recs = {d.source: d.render(ctx).reset_index(drop=True) for d in lab_dialects}
    corrected, vanished = choose_lab_changes(rng, recs, cuts, subjects)
    edc = Edc(course, labs, aes, people, rng)
    edc_corrected = choose_edc_corrections(rng, aes, cuts)

    files: dict[str, list[str]] = {s: [] for s in SOURCES}
    flying: list[str] = []
    for src in SOURCES:
        (landing / src).mkdir(parents=True, exist_ok=True)

    def done(source: str, data: list[Path], manifest: Path | None, last: bool) -> None:
        files[source] += [p.relative_to(landing).as_posix() for p in data]
        if last and source in in_flight:
            flying.extend(p.relative_to(landing).as_posix() for p in data)
            manifest.unlink(missing_ok=True)
            return
        files[source].append(writers.write_manifest(manifest, data).relative_to(landing).as_posix())

    last_snaps = {}
    for j, (night, cut) in enumerate(zip(night_dates, cuts)):
        tag, last = f"{night:%Y%m%d}", j == nights - 1
        stamp = dt.datetime(night.year, night.month, night.day, 0, 30)
        for d in lab_dialects:
            snap = lab_snapshot(d, recs[d.source], cut, j, corrected, vanished)
            path = landing / d.source / LAB_FILES[d.source].format(tag)
            if d.source == "site03":
                writers.write_site03(d.samples, snap, d.reference_rows(), cut, path, stamp)
            elif d.source == "site05":
                writers.write_site05(snap, path, stamp)
            else:
                getattr(writers, f"write_{d.source}")(snap, path)
            done(d.source, [path], path.with_name(path.name + ".sha256"), last)
            if last:
                last_snaps[d.source] = snap
        override = {row: old for row, k, old in edc_corrected if k > j}
        tables = edc.snapshot(cut, override)
        folder = landing / "edc" / f"EDC_{tag}"
        done("edc", writers.write_edc(tables, folder), folder / "MANIFEST.sha256", last)
        blind, key = iwrs_snapshot(course, cut)
        for source, frame, name in (("iwrs", blind, f"IWRS_{tag}.csv"), ("iwrs_key", key, f"RANDKEY_{tag}.csv")):
            path = landing / source / name
            writers.write_plain_csv(frame, path)
            done(source, [path], path.with_name(name + ".sha256"), last)
        if last:
            last_snaps["edc"] = tables

    defects = _defects(course, labs, aes, recs, lab_dialects, last_snaps, corrected, vanished, edc_corrected,
                       night_names, cuts[-1])
    return GenerationSummary(
        landing=landing, screened=subjects, randomized=int(course.pat.randomized.sum()), nights=night_names,
        files=files, in_flight=flying, defects=defects,
        unit_variants={d.source: d.unit_variants for d in lab_dialects if d.unit_variants})


def _written(source: str, rec, row: int, val: float):
    """A site-unit numeric value as the source writes it (text, or a number in site03/site05)."""
    if source in ("site03", "site05"):
        return float(val)
    return str(site_text(dialects.SPECS[source], np.array([int(rec._test.iat[row])]), np.array([val]))[0])


def _defects(course, labs, aes, recs, lab_dialects, last_snaps, corrected, vanished, edc_corrected, nights,
             last_cut) -> dict:
    def ident(c):
        rec = recs[c.source]
        return {"source": c.source, "subjid": rec._subjid.iat[c.row], "sample_id": rec._sample_id.iat[c.row],
                "test": test_label(c.source, int(rec._test.iat[c.row]))}

    out: dict = {
        "corrected": [{**ident(c), "old": _written(c.source, recs[c.source], c.row, c.old),
                       "new": _written(c.source, recs[c.source], c.row, float(recs[c.source]._num.iat[c.row])),
                       "night_old": nights[c.k - 1], "night_new": nights[c.k]} for c in corrected],
        "vanished": [{**ident(c), "last_night_present": nights[c.k - 1], "first_night_absent": nights[c.k]}
                     for c in vanished],
    }
    p, s = course.pat, labs.samples
    src_of = {d.site: d.source for d in lab_dialects}
    sample_ids = {k: v for d in lab_dialects for k, v in d.sample_ids.items()}
    s = s[s.date.to_numpy() <= last_cut]
    labels = {d.source: dialects.VISIT_LABELS.get(d.source) for d in lab_dialects}

    def sample_entry(r):
        src = src_of[r.site]
        visit = int(r.visit)
        written = float(r.visno) if src == "site05" else labels[src][visit]
        return {"source": src, "subjid": p.subjid.iat[int(r.pid)], "sample_id": sample_ids[int(r.Index)],
                "visit": VISIT_CODES[visit] if visit >= 0 else "UNSCHEDULED", "visit_as_written": written,
                "collection_date": iso_dates(np.array([r.date]))[0], "day": int(r.day),
                "kind": r.kind, "window_visit": VISIT_CODES[r.window_visit] if r.window_visit >= 0 else None}

    oow = s[s.kind.isin(["other_window", "no_window"])]
    out["out_of_window"] = [sample_entry(r) for r in oow.itertuples()]
    out["unscheduled"] = [sample_entry(r) for r in s[s.kind == "unscheduled"].itertuples()]

    nonnum, missing, qns = {}, {}, {}
    res = labs.results
    for d in lab_dialects:
        snap = last_snaps[d.source]
        st = snap._status.to_numpy()
        nonnum[d.source] = {"censored": int((st == CENSORED).sum()), "text": int((st == TEXT).sum())}
        in_site = (labs.samples.site.to_numpy() == d.site)[res["sample"].to_numpy()]
        in_cut = (labs.samples.date.to_numpy() <= last_cut)[res["sample"].to_numpy()]
        missing[d.source] = int(((res.status.to_numpy() == MISSING) & in_site & in_cut).sum())
        if d.source == "site04":
            qns["site04"] = int((st == QNS).sum())
    out["nonnumeric"] = nonnum
    out["qns"] = qns
    out["missing"] = missing

    out["ineligible"] = [dict(i, detail=_ineligible_detail(course, i["subjid"], i["rule"])) for i in course.ineligible]
    out["edc_corrected"] = [{
        "source": "edc", "file": "adverse_events.csv", "subjid": p.subjid.iat[int(aes.pid.iat[row])],
        "aespid": str(int(aes.spid.iat[row])), "field": "AETOXGR", "old": str(old), "new": str(int(aes.grade.iat[row])),
        "night_old": nights[k - 1], "night_new": nights[k]} for row, k, old in edc_corrected]
    ae_tab = last_snaps["edc"]["adverse_events.csv"]
    partial = []
    for fld in ("AESTDTC", "AEENDTC"):
        v = ae_tab[fld].astype(str)
        m = (v.str.len() > 0) & (v.str.len() < 10)
        partial += [{"subjid": a, "aespid": b, "field": fld, "value": c}
                    for a, b, c in zip(ae_tab.SUBJID[m], ae_tab.AESPID[m], v[m])]
    out["partial_dates"] = partial
    out["uncoded_ae"] = int((ae_tab.AEDECOD.astype(str) == "").sum())
    site03 = next(d for d in lab_dialects if d.source == "site03")
    out["site03_numeric_subject_rows"] = int(
        sum(isinstance(x, int) for x in site03.samples.Subject[site03.samples._date.to_numpy() <= last_cut]))
    return out


def _ineligible_detail(course, subjid: str, rule: str) -> str:
    p = course.pat[course.pat.subjid == subjid].iloc[0]
    return {
        "TBIL": "screening total bilirubin below 5 mg/dL (85.5 umol/L)",
        "INR": "screening INR below 1.5 and prothrombin activity at least 40%",
        "AGE": f"age {int(p.age)} at consent",
        "HE": "hepatic encephalopathy grade 2 at week 0 (baseline)",
        "PRIOR_PLT": f"PRIOR_PLT {int(p.prior_plt)} x10^9/L before onset",
    }[rule]

