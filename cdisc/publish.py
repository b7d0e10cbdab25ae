"""Publish an area's packages: build, check against the spec, write atomically, record the status.

SDTM is built from the harmonized lab table and the forms in force; when it passes its spec check
the package, the hand-off for ADaM and the trace are written together. ADaM is built from that
hand-off only, so the two packages of an area always come from the same night's SDTM.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from aclf.config import Study
from aclf.pending import Pending, settle_all
from aclf.warm_worker import submit
from cdisc.acrf import AcrfConfig, drawing, pages
from cdisc.adam.analysis import Analysis
from cdisc.adam.build import BY_SUBJECT, build_adam
from cdisc.adam.previous import load_previous, save_previous
from cdisc.area import Area, AreaFolders
from cdisc.define import ACRF_FILE
from cdisc.design import Design
from cdisc.handoff import handoff_keys, handoff_lb, handoff_trace, load_handoff, save_handoff
from cdisc.package import (Known, PackageStatus, check_all, digests_path, known_rows, refused, rows_path,
                           violations_status, write_package, write_status)
from cdisc.reviewer_guide import load_guide_config, render_guide
from cdisc.row_hash import hashes_hold, keep_hashes
from cdisc.sdtm.assignment import AssignmentError
from cdisc.sdtm.build import build_context, build_domains, dataset_keys, domain_order, lb_subject_key
from cdisc.sdtm.clinical import unmapped_screen_failures
from cdisc.sdtm.trace import in_order
from cdisc.spec import Spec
from cdisc.xpt import Violation


@dataclass
class Published:
    """What one package step did: the datasets built, their violations, the status, the files."""

    datasets: dict[str, pd.DataFrame]
    violations: dict[str, list[Violation]]
    status: PackageStatus
    paths: dict[str, Path] = field(default_factory=dict)
    trace: pd.DataFrame | None = None                      # SDTM: each record's source transfer and row
    figures: dict[str, Path] = field(default_factory=dict)  # ADaM: figure name -> PNG
    rates: dict[str, float] = field(default_factory=dict)   # ADaM: KM estimates at the protocol weeks
    unmapped_screen_failures: list[str] = field(default_factory=list)   # SDTM: SUBJIDs IE cannot show
    keys: dict[str, str] = field(default_factory=dict)      # SDTM: what each dataset was built from (blinded)

    @property
    def written(self) -> bool:
        return self.status.refreshed


def lb_value_level(study: Study) -> dict:
    """define.xml value-level metadata of LB: each test's standard unit and name."""
    return {"LB": {code: {"unit": t.standard_unit, "label": t.name} for code, t in study.lab.tests.items()}}


def _check_by_difference(package: str, folders: AreaFolders, datasets: dict[str, pd.DataFrame], spec: Spec,
                         carried: dict[str, np.ndarray]) -> tuple[dict[str, list[Violation]], dict[str, Known]]:
    """The violations of ``datasets``, checked by what the package in force's row indexes know of
    their rows, and what they know (for the writer); ``carried``: row hashes carried over by a merge."""
    known = known_rows(datasets, spec, rows_path(folders.root, package), carried)
    return check_all(datasets, spec, known), known


def _finish(package: str, folders: AreaFolders, output: Path, folder: Path, datasets, violations, spec: Spec,
            created: str, value_level: dict | None = None, documents: dict[str, str | bytes] | None = None,
            known: dict[str, Known] | None = None, crf_pages: dict[str, list[int]] | None = None
            ) -> tuple[PackageStatus, dict[str, Path]]:
    base = output if folder.is_relative_to(output) else folders.root   # the unblinded root is apart
    relative = str(folder.relative_to(base))
    if any(violations.values()):
        reason, shown = violations_status(violations)
        status = refused(folders.root, package, relative, created, reason, shown)
        paths: dict[str, Path] = {}
    else:
        paths = write_package(datasets, spec, folder, created, value_level, documents,
                              digests=digests_path(folders.root, package), rows=rows_path(folders.root, package),
                              known=known, crf_pages=crf_pages)
        status = PackageStatus(package=package, folder=relative, refreshed=True, checked_at=created,
                               written_at=created, datasets=sorted(datasets))
    write_status(folders.root, status)
    return status, paths


def _unassignable(folders: AreaFolders, output: Path, spec: Spec, created: str, error: AssignmentError) -> Published:
    """The unblinded SDTM package refused, as by a failed spec check, when the randomization cannot
    assign every randomized subject: the reason is DM.ARMCD's, the package in force stays."""
    datasets = {name: pd.DataFrame(columns=ds.names) for name, ds in spec.datasets.items()}
    violations = {name: [] for name in datasets}
    violations["DM"] = [Violation("DM", "ARMCD", "assignment", f"DM.ARMCD [assignment]: {error}")]
    status, paths = _finish("sdtm", folders, output, folders.sdtm, datasets, violations, spec, created)
    return Published(datasets, violations, status, paths)


def publish_sdtm(area: Area, folders: AreaFolders, output: Path, study: Study, design: Design, spec: Spec,
                 forms: dict[str, pd.DataFrame], load_lab: Callable[[], pd.DataFrame], created: str,
                 level: str = "blinded", key: pd.DataFrame | None = None, data_cut: str | None = None,
                 eligibility: pd.DataFrame | None = None, forms_key: str | None = None,
                 store_trace: Callable[[pd.DataFrame, dict[str, str]], Pending] | None = None,
                 acrf: AcrfConfig | None = None) -> Published:
    """The area's SDTM package and, only when it is written, the hand-off to its ADaM. The unblinded
    area is built at an unblinding level with the randomization key. ``load_lab`` reads the
    harmonized lab table: a loader, so that the table lives only while LB's records are made.
    ``forms_key`` fingerprints the forms in force (aclf.inputs): a blinded dataset built from the
    forms alone whose key is that of the hand-off in force is taken from it, not built again (nor
    checked again: it passed the same checks when it was written). ``store_trace`` starts the store's
    write of the trace and keys as soon as they are known (aclf.pending: LB's 800,000 rows at 10,000
    subjects take 1-1.7 s), kept only if the package is written. ``acrf``: the annotated CRF written
    beside define.xml, drawn while the package is built."""
    acrf_pdf = drawing(acrf, study, spec.study_name, folders.root / "documents") if acrf is not None else None
    try:
        ctx = build_context(study, design, forms, level=level, key=key, data_cut=data_cut,
                            ct_release=spec.ct_version, eligibility=eligibility)
    except AssignmentError as error:
        return _unassignable(folders, output, spec, created, error)
    keys = dataset_keys(ctx, forms_key)
    before = handoff_keys(folders.handoff) if keys else {}
    same = sorted(name for name in spec.datasets if name in keys and before.get(name) == keys[name])
    handoff = load_handoff(folders.handoff) if same else {}
    lb_key = lb_subject_key(ctx, forms_key)

    def previous(name: str, key: str) -> pd.DataFrame | None:
        """A dataset whose key is known once LB is built (SV), from the hand-off in force if built under it."""
        return load_handoff(folders.handoff)[name] if before.get(name) == key else None

    datasets, trace, lb_digests, carried, later_keys, taken = build_domains(
        ctx, spec, load_lab, {name: handoff[name] for name in same}, handoff_lb(folders.handoff, lb_key),
        lb_digested=lb_key is not None, forms_key=forms_key, previous=previous)
    keys.update(later_keys)
    if taken:
        same = sorted([*same, *taken])
        handoff = load_handoff(folders.handoff)
    if same:
        trace = in_order([handoff_trace(folders.handoff, same), trace], domain_order(spec))
    # the hand-off and the store's trace are written while the package is checked and written, and
    # kept only if it is
    pending = [save_handoff(folders.handoff, datasets, trace, keys, (lb_key, lb_digests) if lb_key else None,
                            taken=same)]
    try:
        if store_trace is not None:
            pending.append(store_trace(trace, keys))
        built = {name: frame for name, frame in datasets.items() if name not in same}
        checked, known = _check_by_difference("sdtm", folders, built, spec, carried)
        for name in same:      # taken from the hand-off with its rows' hashes: the writer's digest hashes nothing
            hashes = handoff.hashes(name)
            if hashes_hold(datasets[name], hashes):
                known[name] = Known(hashes)
        keep_hashes(pending[0], {name: made.hashes for name, made in known.items()}, under="sdtm")
        violations = {name: checked.get(name, []) for name in datasets}
        guide = render_guide(spec, datasets, datasets["TA"], load_guide_config(), area=area.name, created=created,
                             data_cut=data_cut)
        documents = dict([guide, *([(ACRF_FILE, acrf_pdf())] if acrf_pdf is not None else [])])
        status, paths = _finish("sdtm", folders, output, folders.sdtm, datasets, violations, spec, created,
                                lb_value_level(study), documents, known,
                                crf_pages=pages(acrf) if acrf is not None else None)
    except BaseException:
        settle_all(pending, False)
        raise
    settle_all(pending, status.refreshed)
    return Published(datasets, violations, status, paths, trace=trace,
                     unmapped_screen_failures=unmapped_screen_failures(ctx), keys=keys)


def publish_adam(area: Area, folders: AreaFolders, output: Path, study: Study, design: Design, analysis: Analysis,
                 spec: Spec, created: str, data_cut: str | None = None, reuse_key: str | None = None) -> Published:
    """The area's ADaM package from the SDTM hand-off, and the statistician's figures. ``reuse_key``
    names the code and configuration (aclf.inputs.built_by): the BDS records of the subjects whose
    inputs did not change since a package written under the same key are taken from it."""
    sdtm = load_handoff(folders.handoff)
    datasets, digests, carried = build_adam(sdtm, study, analysis, spec, design,
                                            load_previous(folders.adam_by_subject, reuse_key),
                                            digested=reuse_key is not None)
    # the blinded area's figures are drawn in the night's warm worker while the package is checked
    # and written (inline without one); the unblinded area's are by arm: cdisc.reports
    drawn = submit("cdisc.figures", "draw_figures", figure_records(datasets, analysis), analysis, study,
                   folders.figures, data_cut or created[:10]) if area.blinded else None
    # the subject-level datasets kept for the next night are written while the package is checked and
    # written, and kept only if it is
    pending = [save_previous(folders.adam_by_subject, reuse_key, digests, {name: datasets[name] for name in BY_SUBJECT})
               ] if reuse_key is not None else []
    try:
        violations, known = _check_by_difference("adam", folders, datasets, spec, carried)
        if pending:
            keep_hashes(pending[0], {name: known[name].hashes for name in BY_SUBJECT if name in known})
        guide = render_guide(spec, datasets, sdtm["TA"], load_guide_config(), area=area.name, created=created,
                             data_cut=data_cut)
        status, paths = _finish("adam", folders, output, folders.adam, datasets, violations, spec, created,
                                documents=dict([guide]), known=known)
    except BaseException:
        settle_all(pending, False)
        raise
    settle_all(pending, status.refreshed)
    if drawn is None:
        return Published(datasets, violations, status, paths)
    figures, rates = drawn.result()
    return Published(datasets, violations, status, paths, figures=figures, rates=rates)


# what cdisc.figures reads of a record: the Kaplan-Meier its time and censoring, a trajectory the
# visit, the value, the analysis flag, the parameter's label and the subject
FIGURE_VARIABLES = ("USUBJID", "PARAMCD", "PARAM", "AVISITN", "AVISIT", "AVAL", "ANL01FL", "CNSR")


def figure_records(datasets: dict[str, pd.DataFrame], analysis: Analysis) -> dict[str, pd.DataFrame]:
    """Of each dataset a figure draws from, the records of the parameters drawn, with the variables
    the figures read: all that is sent to the worker (ADLB's other 50-odd variables would be pickled,
    sent and held there for nothing)."""
    drawn: dict[str, set[str]] = {}
    for fig in [analysis.figures.km, *analysis.figures.trajectories]:
        drawn.setdefault(fig.dataset, set()).add(fig.paramcd)
    records = {}
    for name, codes in drawn.items():
        frame = datasets[name]
        records[name] = frame.loc[frame["PARAMCD"].isin(codes), [v for v in FIGURE_VARIABLES if v in frame]]
    return records
