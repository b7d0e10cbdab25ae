"""The submission layout of an area and its writing: every dataset as XPT v5 and define.xml, written
into a fresh folder and swapped in whole, so a kill or a full disk never leaves half a package; and
the package's status (refreshed tonight, or why not) for the run report."""
from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from aclf.inputs import code_and_libraries
from aclf.version import PACKAGE, code_version
from cdisc.codelist_check import codelist_values
from cdisc.columns import TEXT
from cdisc.dataset_json import json_rows
from cdisc.define import build_define, validate_define, write_define
from cdisc.row_hash import hashes_hold, row_hashes
from cdisc.spec import Dataset, Spec
from cdisc.splice import SUBJECT, RowIndex, dtypes_of, identified, load_index, origins, plan, save_index
from cdisc.folders import fresh_folder, link_or_copy, swap_in
from cdisc.xpt import Violation, check_dataset, whole_dataset_checks, xpt_rows

SHOWN_VIOLATIONS = 20


def check_all(datasets: dict[str, pd.DataFrame], spec: Spec,
              known: dict[str, Known] | None = None) -> dict[str, list[Violation]]:
    """The writer's checks of every dataset and its values against the spec's codelists. The rows
    ``known`` to have passed them in the package in force are checked again only as part of the
    whole (keys, trailing blank rows): each value check asks of a row its own values only."""
    known = known or {}
    return {name: _checked(frame, spec.datasets[name], spec, known.get(name)) for name, frame in datasets.items()}


def _checked(frame: pd.DataFrame, ds: Dataset, spec: Spec, known: Known | None) -> list[Violation]:
    passed = known.passed if known is not None else None
    if passed is not None and passed.any():
        fresh = frame.take(np.flatnonzero(~passed))
        if not check_dataset(fresh, ds) and not codelist_values(fresh, ds, spec):
            return whole_dataset_checks(frame, ds, known.origin)
    # a full check, also when tonight's rows break a rule: the counts and row numbers are the whole's
    return [*check_dataset(frame, ds), *codelist_values(frame, ds, spec)]


def spec_fingerprint(spec: Spec) -> str:
    """What the checks of a dataset's rows depend on besides the code: the whole spec (variables,
    lengths, codelists)."""
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()


@dataclass(frozen=True)
class Known:
    """What the package in force tells of a dataset's rows tonight: their hashes (None: code with
    uncommitted changes, or inexact dtypes), its row index and the row of it each row copies (-1:
    none; both None when the file in force cannot be copied from), and which rows passed the checks
    of the same spec there (None: check every row)."""

    hashes: np.ndarray | None
    previous: RowIndex | None = None
    origin: np.ndarray | None = None
    passed: np.ndarray | None = None


def known_rows(datasets: dict[str, pd.DataFrame], spec: Spec, rows: Path | None,
               carried: Mapping[str, np.ndarray] | None = None) -> dict[str, Known]:
    """Each dataset's ``Known`` rows against the row indexes in ``rows`` (cdisc.splice): the hashes,
    origins and passed checks that ``check_all`` and then ``write_package`` use, made once. The
    ``carried`` hashes of a dataset merged by subject (cdisc.by_subject.merge_hashed) are used when
    they hold (``hashes_hold``), instead of hashing every row again."""
    code = code_and_libraries() if rows is not None else None
    fingerprint = spec_fingerprint(spec)
    carried = carried or {}
    known = {}
    for name, frame in datasets.items():
        hashes = None
        if code is not None:
            hashes = carried[name] if hashes_hold(frame, carried.get(name)) else row_hashes(frame)
        previous, origin = _origins(rows, name, frame, hashes, code)
        passed = origin >= 0 if previous is not None and previous.checked == fingerprint else None
        known[name] = Known(hashes, previous, origin, passed)
    return known


def dataset_digest(frame: pd.DataFrame, spec: Spec, name: str, rows=None) -> str | None:
    """What a dataset's files are made of: its values (``row_hashes``, made here unless given),
    columns and dtypes, its spec, and the code and libraries that write it. None for code with
    uncommitted changes, or values without exact hashes."""
    code = code_and_libraries()
    if code is None:
        return None
    rows = row_hashes(frame) if rows is None else rows
    if rows is None:
        return None
    head = f"{code}|{spec.study_name}|{spec.standard}|{spec.datasets[name].model_dump_json()}|" \
           f"{list(frame.columns)}|{[str(t) for t in frame.dtypes]}|{len(frame)}"
    return hashlib.sha256(head.encode() + rows.tobytes()).hexdigest()


def digests_path(area_root: Path, package: str) -> Path:
    """The digests of the datasets of the package in force: in the area, not in the package."""
    return area_root / "digests" / f"{package}.json"


def rows_path(area_root: Path, package: str) -> Path:
    """The row indexes of the package in force's datasets (cdisc.splice): in the area, not in the package."""
    return area_root / "rows" / package


def _read_digests(path: Path | None) -> dict[str, str]:
    return json.loads(path.read_text(encoding="utf-8")) if path is not None and path.exists() else {}


def write_package(datasets: dict[str, pd.DataFrame], spec: Spec, folder: Path, created: str,
                  value_level: dict | None = None, documents: dict[str, str | bytes] | None = None,
                  digests: Path | None = None, rows: Path | None = None,
                  known: dict[str, Known] | None = None,
                  crf_pages: dict[str, list[int]] | None = None) -> dict[str, Path]:
    """Write every dataset (XPT v5 and Dataset-JSON 1.1 beside it), define.xml (XSD-valid, or this
    raises) and the ``documents`` (file name -> text or bytes), and swap the package in; returns the paths
    written. Files of an earlier night that the spec no longer has are gone. The datasets have
    passed ``check_all``: the writer does not check them a second time, and their row indexes say
    that they passed the checks of ``spec`` (``known_rows``).

    With ``digests`` (a file), a dataset whose digest equals that of the package in force keeps its
    files as they are (written on the night its values last changed) instead of being written
    again: a night in which one site sent labs rewrites LB, not the domains made from the forms.
    The digests are removed before the swap and saved after it, so a crash leaves none (no reuse).

    With ``rows`` (a folder), a subject-level dataset written again copies the rows of the subjects
    whose rows did not change from the files in force (cdisc.splice); its row index, like the
    digests, is removed before the swap and saved after it. ``known`` holds what ``known_rows`` found
    of some datasets against the same ``rows``: not made a second time, and each entry let go once
    its dataset's files are queued (the row indexes in force of LB, ADLB and ADSCORE are 30-40 MB each)."""
    fresh = fresh_folder(folder)
    file_oid = f"DEFINE.{spec.study_name}.{spec.standard}"
    before, after = _read_digests(digests), {}
    code = code_and_libraries() if digests is not None or rows is not None else None
    fingerprint = spec_fingerprint(spec)
    known = known if known is not None else {}
    indexes: dict[str, RowIndex] = {}
    jobs: dict[str, dict] = {}
    # the datasets' files are queued at once and written two at a time, while define.xml is built
    # and written here: the writers spend their time in numpy, Arrow and file writes, which release
    # the GIL (LB at 10,000 subjects: 1.9 s instead of 2.8 s on two cores, for about 150 MB more
    # while both run); no file waits for the other file of its dataset, nor define.xml for the files
    with ThreadPoolExecutor(max_workers=2) as pool:
        for name, frame in datasets.items():
            files = [f"{name.lower()}.xpt", f"{name.lower()}.json"]
            made = known.pop(name, None)
            hashes = made.hashes if made else row_hashes(frame) if code is not None else None   # none: code with changes
            after[name] = dataset_digest(frame, spec, name, hashes) if digests is not None else None
            if after[name] is not None and before.get(name) == after[name] and \
                    all((folder / f).is_file() for f in files):
                for f in files:
                    link_or_copy(folder / f, fresh / f)
                continue
            previous, origin = (made.previous, made.origin) if made else _origins(rows, name, frame, hashes, code)
            ds = spec.datasets[name]
            reuse = {kind: plan(previous, kind, folder / f, origin) for kind, f in zip(("xpt", "json"), files)}
            jobs[name] = {"xpt": pool.submit(xpt_rows, frame, ds, fresh / files[0], reuse["xpt"]),
                          "json": pool.submit(json_rows, frame, ds, spec, fresh / files[1], reuse["json"],
                                              created=created, file_oid=file_oid, originator=PACKAGE,
                                              system_version=code_version())}
            if rows is not None and _spliceable(frame, hashes, code):
                indexes[name] = RowIndex(hashes, frame[SUBJECT], {}, code, dtypes_of(frame), fingerprint)
        tree = build_define(spec, datasets, value_level=value_level, created=created, file_oid=file_oid,
                            crf_pages=crf_pages)
        errors = validate_define(tree)
        if not errors:
            write_define(tree, fresh)
            for name, content in (documents or {}).items():       # the reviewer's guide, the aCRF
                if isinstance(content, bytes):
                    (fresh / name).write_bytes(content)
                else:
                    (fresh / name).write_text(content, encoding="utf-8")
        for name, started in jobs.items():
            laid = {kind: identified(job.result(), fresh / f"{name.lower()}.{kind}") for kind, job in started.items()}
            if name in indexes:
                indexes[name] = replace(indexes[name], files=laid)
    if errors:
        shutil.rmtree(fresh, ignore_errors=True)
        raise ValueError("define.xml does not validate against the Define-XML 2.1 schema:\n" + "\n".join(errors))
    if digests is not None:
        digests.unlink(missing_ok=True)
    for name in jobs if rows is not None else []:       # the index of a file replaced tonight goes
        _index_file(rows, name).unlink(missing_ok=True)
    swap_in(fresh, folder)
    if digests is not None and None not in after.values():
        digests.parent.mkdir(parents=True, exist_ok=True)
        digests.write_text(json.dumps(after, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    for name, index in indexes.items():
        save_index(index, _index_file(rows, name))
    return {**{name: folder / f"{name.lower()}.xpt" for name in datasets}, "define": folder / "define.xml",
            **{name: folder / name for name in documents or {}}}


def _index_file(rows: Path, name: str) -> Path:
    return rows / f"{name}.parquet"


def _spliceable(frame: pd.DataFrame, hashes, code: str | None) -> bool:
    """Whether a dataset's rows can be found again by subject: exact hashes, text subjects, known code."""
    return code is not None and hashes is not None and SUBJECT in frame and frame[SUBJECT].dtype == TEXT


def _origins(rows: Path | None, name: str, frame: pd.DataFrame, hashes, code: str | None):
    """The row index of the dataset in force when the same code wrote it from frames of the same
    columns, and for each of tonight's rows the row of it that it copies (-1: none); else Nones."""
    if rows is None or not _spliceable(frame, hashes, code):
        return None, None
    previous = load_index(_index_file(rows, name))
    if previous is None or previous.code != code or previous.columns != dtypes_of(frame):
        return None, None
    return previous, origins(previous, hashes, frame[SUBJECT])


@dataclass
class PackageStatus:
    """Whether a package was refreshed by tonight's run, and if not, why (which dataset, rule, row)."""

    package: str                       # "sdtm" | "adam"
    folder: str                        # relative to the output root
    refreshed: bool
    checked_at: str                    # when tonight's run decided
    written_at: str | None             # when the package in force was written (None: never)
    datasets: list[str] = field(default_factory=list)
    reason: str = ""
    violations: list[dict] = field(default_factory=list)
    unchanged: bool = False            # refreshed by keeping it: tonight's inputs are those it was written from


def violations_status(violations: dict[str, list[Violation]]) -> tuple[str, list[dict]]:
    """A one-line reason and the first violations, for a package the spec check refused."""
    found = [v for vs in violations.values() for v in vs]
    bad = sorted({v.dataset for v in found})
    reason = f"spec check failed: {len(found)} violation(s) in {', '.join(bad)}; the package of an earlier night stays"
    return reason, [{"dataset": v.dataset, "variable": v.variable, "rule": v.rule, "message": v.message}
                    for v in found[:SHOWN_VIOLATIONS]]


def status_path(area_root: Path, package: str) -> Path:
    return area_root / "status" / f"{package}.json"


def read_status(area_root: Path, package: str) -> PackageStatus | None:
    path = status_path(area_root, package)
    return PackageStatus(**json.loads(path.read_text(encoding="utf-8"))) if path.exists() else None


def write_status(area_root: Path, status: PackageStatus) -> Path:
    path = status_path(area_root, status.package)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(status), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def kept_in_force(area_root: Path, package: str, folder: Path, datasets, checked_at: str) -> PackageStatus | None:
    """The package in force as tonight's, when it was written and its files are all there (None: build
    it). The caller knows that tonight's inputs are those it was written from."""
    before = read_status(area_root, package)
    files = [folder / "define.xml", *(folder / f"{name.lower()}.xpt" for name in datasets)]
    if before is None or not before.refreshed or sorted(before.datasets) != sorted(datasets) or \
            not all(path.exists() for path in files):
        return None
    status = replace(before, checked_at=checked_at, unchanged=True)
    write_status(area_root, status)
    return status


def refused(area_root: Path, package: str, folder: str, checked_at: str, reason: str,
            violations: list[dict] | None = None) -> PackageStatus:
    """The status of a package not refreshed tonight: the one in force (if any) stays, with its date."""
    before = read_status(area_root, package)
    return PackageStatus(package=package, folder=folder, refreshed=False, checked_at=checked_at,
                         written_at=before.written_at if before else None,
                         datasets=before.datasets if before else [], reason=reason, violations=violations or [])
