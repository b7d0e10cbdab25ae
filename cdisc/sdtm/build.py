"""Build every SDTM domain of one area (blinded by default) in the spec's variable order."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import pandas as pd

from aclf.config import Study
from aclf.frames import isin
from aclf.isodate import valid_iso
from cdisc.by_subject import Previous, merge_hashed
from cdisc.design import Design
from cdisc.sdtm import clinical, events, ex, lb, rs, special, trial_design
from cdisc.sdtm.assignment import assignments
from cdisc.sdtm.common import LINEAGE, POSITION, Context, reference_dates
from cdisc.sdtm.trace import trace_of
from cdisc.spec import Dataset, Spec
from cdisc.xpt import conform

BUILDERS: dict[str, Callable[[Context], pd.DataFrame]] = {
    "DM": special.build_dm, "SUPPDM": special.build_suppdm, "SE": special.build_se, "SV": special.build_sv,
    "EC": events.build_ec, "PR": events.build_pr, "AE": events.build_ae, "MH": events.build_mh,
    "DS": events.build_ds, "RS": rs.build_rs, "EX": ex.build_ex,
    "IE": clinical.build_ie, "DD": clinical.build_dd, "CE": clinical.build_ce,
    "TA": trial_design.build_ta, "TE": trial_design.build_te, "TV": trial_design.build_tv,
    "TI": trial_design.build_ti, "TS": trial_design.build_ts,
}


LB_LINEAGE = [*LINEAGE, POSITION]    # LB's records carry their position among the subject's source rows too

# What of the context, beyond the forms and the configuration, each builder may read: the others are
# given a context without it, so a builder that starts reading one cannot be kept on a stale key.
READS_DATA_CUT = {"TS"}
READS_ELIGIBILITY = {"IE"}
# Built from the forms and then given LB's dates (special.span_findings): kept by a key of the forms and
# of those dates (span_key), known once LB is built
SPANS_LAB = {"SV"}


def _own_context(ctx: Context, name: str) -> Context:
    return replace(ctx, data_cut=ctx.data_cut if name in READS_DATA_CUT else None,
                   eligibility=ctx.eligibility if name in READS_ELIGIBILITY else None)


def dataset_keys(ctx: Context, forms_key: str | None) -> dict[str, str]:
    """Per dataset built from the context alone, what it is built from: ``forms_key`` (the form
    sources' transfers in force, the configuration, the code and the libraries; None: unknown, no
    keys), the blinding level, and the data cut or eligibility findings where the builder reads them."""
    if forms_key is None or not ctx.blinded:
        return {}
    eligibility = ctx.eligibility.sort_values(list(ctx.eligibility.columns)).to_csv(index=False) \
        if ctx.eligibility is not None else ""
    extra = {"TS": str(ctx.data_cut), "IE": eligibility}
    return {name: hashlib.sha256(f"{forms_key}|{ctx.level}|{name}|{extra.get(name, '')}".encode()).hexdigest()
            for name in BUILDERS if name not in SPANS_LAB}


def span_key(ctx: Context, forms_key: str | None, spans: pd.DataFrame) -> str | None:
    """SV's key: what a forms domain's is (``dataset_keys``), and each visit's first and last sample
    date (special.visit_spans), which widen it."""
    if forms_key is None or not ctx.blinded:
        return None
    dates = hashlib.sha256(pd.util.hash_pandas_object(spans, index=True).to_numpy().tobytes()).hexdigest()
    return hashlib.sha256(f"{forms_key}|{ctx.level}|SV|{dates}".encode()).hexdigest()


def lb_subject_key(ctx: Context, forms_key: str | None) -> str | None:
    """What LB's records of a subject are made from beside its harmonized rows: the forms, the
    configuration, the code and the libraries (``forms_key``) and the blinding level (blinded only;
    LB's builder is given a context without the data cut and the eligibility findings)."""
    if forms_key is None or not ctx.blinded:
        return None
    return hashlib.sha256(f"{forms_key}|{ctx.level}|LB by subject".encode()).hexdigest()


def submittable(forms: dict[str, pd.DataFrame], study: Study) -> dict[str, pd.DataFrame]:
    """The forms with every value a submission cannot carry blanked: invalid dates (a submission
    carries only real ISO 8601 dates) and values outside a column's allowed values (a submission
    carries only controlled terms). Each is a schema finding of its form, for the site to correct; a
    key column, or one the form keeps as sent (a derivation turns on it), is never blanked."""
    out = dict(forms)
    for name, frame in forms.items():
        _, spec = study.form(name)
        cleaned = frame.copy()
        for col in spec.dates:
            cleaned[col] = cleaned[col].where(valid_iso(cleaned[col], col in spec.partial_dates), "")
        for col, allowed in spec.values.items():
            if col not in spec.key and col not in spec.kept_if_invalid:
                cleaned[col] = cleaned[col].where(cleaned[col].isna() | isin(cleaned[col], [*allowed, ""]), "")
        out[name] = cleaned
    return out


def enrolled_only(forms: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The forms without records of subjects the enrollment form does not hold: every SDTM subject is
    in DM (each left-out record is an orphan_subject finding for the site)."""
    enrolled = set(forms["enrollment"]["SUBJID"])
    return {name: frame if name == "enrollment" else frame[isin(frame["SUBJID"], enrolled)]
            for name, frame in forms.items()}


def build_context(study: Study, design: Design, forms: dict[str, pd.DataFrame], level: str = "blinded",
                  key: pd.DataFrame | None = None, data_cut: str | None = None, ct_release: str = "",
                  eligibility: pd.DataFrame | None = None) -> Context:
    """The inputs of one area's build; an unblinded level needs the randomization key."""
    forms = enrolled_only(submittable(forms, study))
    blinded = level == "blinded"
    if not blinded and key is None:
        raise ValueError(f"the {level} level needs the randomization key")
    assignment = None if blinded else assignments(forms["randomization"], key, design, level)
    return Context(study=study, design=design, forms=forms, level=level,
                   reference=reference_dates(forms, study, blinded), assignment=assignment,
                   data_cut=data_cut, ct_release=ct_release, eligibility=eligibility)


def domain_order(spec: Spec) -> list[str]:
    """The order in which the domains are built (and their records traced): LB last."""
    return [name for name in BUILDERS if name in spec.datasets] + ["LB"]


class Domains(NamedTuple):
    datasets: dict[str, pd.DataFrame]   # every dataset of the spec, conformed
    trace: pd.DataFrame                 # each subject-level record built tonight: its source transfer and row
    lb_digests: pd.Series | None        # each enrolled subject's harmonized rows, digested (cdisc.by_subject)
    hashes: dict[str, np.ndarray]       # row hashes carried over (cdisc.by_subject.merge_hashed): LB's, or none
    keys: dict[str, str]                # the keys known only once LB is built (SV's: span_key)
    taken: list[str]                    # the datasets of those keys taken from ``previous``


def build_domains(ctx: Context, spec: Spec, load_lab: Callable[[], pd.DataFrame],
                  kept: Mapping[str, pd.DataFrame] | None = None, lb_before: Previous | None = None,
                  lb_digested: bool = True, forms_key: str | None = None,
                  previous: Callable[[str, str], pd.DataFrame | None] | None = None) -> Domains:
    """Every dataset of the spec, conformed to it (variable order and types), and the trace of each
    subject-level record (dataset, record number in the file) to its source transfer and row.
    ``load_lab`` reads the harmonized lab table, which lives only while LB's records are made.
    ``kept``: conformed datasets built from the same inputs on an earlier night, taken as they are
    (the trace then covers only the datasets built tonight). ``lb_before``: LB built from the same
    forms, configuration and code on an earlier night, with its records' lineage and each subject's
    digest; the records of a subject whose harmonized rows did not change are taken from it.
    ``lb_digested``: digest each subject's rows for a later night (cdisc.sdtm.lb.build_lb).
    ``previous(name, key)``: the dataset in force if it was built under that key (SV's, known once
    LB is built: ``forms_key`` and its visits' sample dates), else None."""
    kept = dict(kept or {})
    built = {name: build(_own_context(ctx, name)) for name, build in BUILDERS.items()
             if name in spec.datasets and name not in kept and name not in SPANS_LAB}
    missing = sorted(set(spec.datasets) - set(built) - set(kept) - SPANS_LAB - {"LB"})
    if missing:
        raise ValueError(f"the spec lists datasets no builder makes: {missing}")
    lab = lb.build_lb(_own_context(ctx, "LB"), load_lab, lb_before.digests if lb_before is not None else None,
                      lb_digested)
    records, hashes = lab.records, {}
    if lab.subjects is not None:     # the other subjects' records as they were, in key order
        unchanged = lab.digests.index[~isin(lab.digests.index, lab.subjects)]
        records, carried = merge_hashed(lb_before.datasets["LB"], _conformed_with_lineage(records, spec.datasets["LB"]),
                                        ctx.usubjid(pd.Series(unchanged, dtype="str")), unhashed=LB_LINEAGE)
        records = lb.relineage(records, lab.sources, ctx)
        hashes = {} if carried is None else {"LB": carried}
    built["LB"] = records
    keys, taken = {}, []
    if "SV" in spec.datasets and "SV" not in kept:
        spans = special.visit_spans(records, "LBDTC")
        key = span_key(ctx, forms_key, spans)
        sv = previous("SV", key) if key is not None and previous is not None else None
        if sv is not None:
            kept["SV"], taken = sv, ["SV"]
        else:
            built["SV"] = special.span_findings(special.build_sv(_own_context(ctx, "SV")), spans, ctx)
        keys = {"SV": key} if key is not None else {}
    built = {name: built[name] for name in [*BUILDERS, "LB"] if name in built}     # the trace's order
    trace = pd.concat([trace_of(name, frame) for name, frame in built.items() if LINEAGE[0] in frame],
                      ignore_index=True)
    # each built frame is let go as soon as it is conformed: never two copies of LB beside each other
    datasets = {}
    for name in sorted(spec.datasets):
        if name in kept:
            datasets[name] = kept[name]
        elif name == "LB" and lab.subjects is not None:    # conformed already
            datasets[name] = built.pop(name).drop(columns=LB_LINEAGE)
        else:
            datasets[name] = conform(built.pop(name), spec.datasets[name])
    return Domains(datasets, trace, lab.digests, hashes, keys, taken)


def _conformed_with_lineage(frame: pd.DataFrame, ds: Dataset) -> pd.DataFrame:
    """LB's records conformed to the spec, with their lineage and position kept beside."""
    return pd.concat([conform(frame, ds), frame[LB_LINEAGE]], axis=1)
