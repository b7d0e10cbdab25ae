"""A subject-level dataset written again copies the rows of the subjects whose rows did not change
from the files in force (cdisc.splice), and its files are byte for byte those written whole."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest

import aclf.inputs
import cdisc.splice
import cdisc.xpt
import cdisc.xpt_v5
from cdisc import package
from cdisc.package import digests_path, rows_path, write_package
from cdisc.spec import load_spec
from cdisc.xpt import conform

STUDYID = "NCT05985863"
CREATED = "2026-11-21T10:00:00"
TESTS = ["ALB", "BILI", "CREAT", "INR"]


@pytest.fixture(scope="module")
def spec():
    return load_spec()


@pytest.fixture(autouse=True)
def clean_code(monkeypatch):
    """Rows are reused only from files written by committed code; one header stamp, so that files
    written a second apart compare byte for byte."""
    monkeypatch.setattr(aclf.inputs, "code_version", lambda: "1.0+gabc")
    monkeypatch.setattr(cdisc.xpt_v5, "timestamp", lambda when=None: "21NOV26:10:00:00")


@pytest.fixture
def copied(monkeypatch):
    """The rows copied from the files in force, by file name."""
    counts: dict[str, int] = {}
    copy = cdisc.splice.Reuse.copy

    def spy(self, out, start, stop):
        counts[self.source.name] = counts.get(self.source.name, 0) + stop - start
        copy(self, out, start, stop)
    monkeypatch.setattr(cdisc.splice.Reuse, "copy", spy)
    return counts


def _lb(spec, subjects: int = 40, change: dict | None = None) -> pd.DataFrame:
    """LB of ``subjects`` subjects, four tests at two visits each; ``change`` maps a subject number
    to what is done to its rows (a function of them)."""
    rows = []
    for number in range(1, subjects + 1):
        mine = [{"STUDYID": STUDYID, "DOMAIN": "LB", "USUBJID": f"{STUDYID}-01{number:03d}", "LBREFID": f"S{number}-{visit}",
                 "LBTESTCD": test, "LBTEST": test.title(), "LBORRES": str(number + seq), "LBSTRESC": str(number + seq),
                 "LBSTRESN": float(number + seq) / 3, "LBSTRESU": "g/L", "VISITNUM": float(visit), "VISIT": f"DAY {visit}",
                 "LBDTC": f"2025-03-{visit:02d}", "LBDY": float(visit), "LBNAM": "Site 01 lab"}
                for visit in (1, 8) for seq, test in enumerate(TESTS)]
        mine = (change or {}).get(number, lambda r: r)(mine)
        for seq, row in enumerate(mine, 1):
            rows.append({**row, "LBSEQ": float(seq)})
    ds = spec.datasets["LB"]
    return conform(pd.DataFrame(rows, columns=ds.names), ds)


def _write(spec, lb, folder, area, reuse=True):
    return write_package({"LB": lb}, spec, folder, CREATED, digests=digests_path(area, "sdtm") if reuse else None,
                         rows=rows_path(area, "sdtm") if reuse else None)


def _files(folder) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in ("lb.xpt", "lb.json")}


def _retyped(rows):
    return [{**row, "LBORRES": "99"} if row["LBTESTCD"] == "ALB" else row for row in rows]


def _dropped(rows):
    return rows[:-1]


def _longer(rows):
    return [{**row, "LBNAM": "A central laboratory with a longer name"} for row in rows]


CHANGES = {3: _retyped, 17: _dropped}


def test_unchanged_subjects_rows_are_copied_and_the_files_equal_those_written_whole(spec, tmp_path, copied):
    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    _write(spec, _lb(spec), folder, area)
    assert not copied                                         # nothing in force yet: written whole
    tonight = _lb(spec, subjects=41, change=CHANGES)          # a new subject, two changed
    _write(spec, tonight, folder, area)
    _write(spec, tonight, tmp_path / "whole", tmp_path / "whole_area", reuse=False)
    assert _files(folder) == _files(tmp_path / "whole")
    unchanged = 8 * (40 - len(CHANGES))
    assert copied == {"lb.xpt": unchanged, "lb.json": unchanged}
    back, _ = pyreadstat.read_xport(str(folder / "lb.xpt"))
    assert back["USUBJID"].tolist() == tonight["USUBJID"].tolist() and back.loc[16, "LBORRES"] == "99"


def test_a_wider_text_column_rewrites_the_xpt_rows_and_still_copies_the_json_ones(spec, tmp_path, copied):
    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    _write(spec, _lb(spec), folder, area)
    tonight = _lb(spec, change={5: _longer})                  # LBNAM's width grows: every XPT row moves
    _write(spec, tonight, folder, area)
    _write(spec, tonight, tmp_path / "whole", tmp_path / "whole_area", reuse=False)
    assert _files(folder) == _files(tmp_path / "whole")
    assert copied == {"lb.json": 8 * 39}


def test_a_file_in_force_that_is_not_the_one_indexed_is_not_copied_from(spec, tmp_path, copied):
    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    _write(spec, _lb(spec), folder, area)
    with (folder / "lb.json").open("ab") as edited:           # changed by hand since it was written
        edited.write(b" ")
    tonight = _lb(spec, change=CHANGES)
    _write(spec, tonight, folder, area)
    _write(spec, tonight, tmp_path / "whole", tmp_path / "whole_area", reuse=False)
    assert _files(folder) == _files(tmp_path / "whole")
    assert copied == {"lb.xpt": 8 * (40 - len(CHANGES))}


def test_a_file_in_force_changed_in_place_is_not_copied_from(spec, tmp_path, copied):
    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    tonight = _lb(spec, change=CHANGES)
    _write(spec, tonight, tmp_path / "whole", tmp_path / "whole_area", reuse=False)
    _write(spec, _lb(spec), folder, area)
    data = (folder / "lb.xpt").read_bytes()
    (folder / "lb.xpt").write_bytes(data.replace(b"Site 01 lab", b"Site 99 lab"))     # the same size
    _write(spec, tonight, folder, area)
    assert _files(folder) == _files(tmp_path / "whole") and copied == {"lb.json": 8 * (40 - len(CHANGES))}


def test_files_written_again_without_an_index_are_not_copied_from(spec, tmp_path, copied):
    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    tonight = _lb(spec, change=CHANGES)
    _write(spec, tonight, tmp_path / "whole", tmp_path / "whole_area", reuse=False)
    _write(spec, _lb(spec), folder, area)
    other = _lb(spec, change={n: lambda rows: [{**row, "LBSTRESN": 1.5} for row in rows] for n in range(1, 41)})
    write_package({"LB": other}, spec, folder, CREATED, digests=digests_path(area, "sdtm"))   # same sizes, no index
    _write(spec, tonight, folder, area)
    assert not copied and _files(folder) == _files(tmp_path / "whole")


def test_a_zero_whose_sign_changed_is_written_again(spec, tmp_path, copied):
    """pandas hashes -0.0 as 0.0; Dataset-JSON writes the sign: the row and the dataset's digest differ."""
    def signed(rows):
        return [{**row, "LBSTRESN": -0.0} for row in rows]

    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    _write(spec, _lb(spec, change={4: lambda rows: [{**row, "LBSTRESN": 0.0} for row in rows]}), folder, area)
    _write(spec, _lb(spec, change={4: signed}), folder, area)
    _write(spec, _lb(spec, change={4: signed}), tmp_path / "whole", tmp_path / "whole_area", reuse=False)
    assert _files(folder) == _files(tmp_path / "whole") and b"-0.0" in _files(folder)["lb.json"]
    assert copied == {"lb.xpt": 8 * 39, "lb.json": 8 * 39}


def test_values_of_other_types_than_a_conformed_dataset_has_are_never_reused(spec, tmp_path, copied):
    """pandas hashes an object column's values by their text (1.0 as '1.0'), which the files show
    differently: such a dataset has no digest and no row index, and is written whole every time."""
    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    mixed = _lb(spec).astype({"LBORRES": object})
    mixed.loc[0, "LBORRES"] = 1.0
    assert package.row_hashes(mixed) is None and package.dataset_digest(mixed, spec, "LB") is None
    _write(spec, mixed, folder, area)
    numbered = mixed.assign(USUBJID=range(len(mixed))).astype({"LBORRES": "str"})    # subjects as numbers
    _write(spec, numbered, folder, area)
    assert not copied and not (rows_path(area, "sdtm") / "LB.parquet").exists()


def test_a_missing_or_unreadable_index_or_other_code_writes_everything(spec, tmp_path, copied, monkeypatch):
    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    tonight = _lb(spec, change=CHANGES)
    _write(spec, tonight, tmp_path / "whole", tmp_path / "whole_area", reuse=False)
    _write(spec, _lb(spec), folder, area)
    (rows_path(area, "sdtm") / "LB.parquet").write_bytes(b"not parquet")
    _write(spec, tonight, folder, area)
    assert not copied and _files(folder) == _files(tmp_path / "whole")
    _write(spec, _lb(spec), folder, area)                     # an index without what it must say
    index = rows_path(area, "sdtm") / "LB.parquet"
    table = pq.read_table(index)
    meta = json.loads(table.schema.metadata[b"splice"])
    del meta["files"]["json"]["size"]
    pq.write_table(table.replace_schema_metadata({"splice": json.dumps(meta)}), index)
    copied.clear()
    _write(spec, tonight, folder, area)
    assert not copied and _files(folder) == _files(tmp_path / "whole")
    _write(spec, _lb(spec), folder, area)                     # an index again, of other code than tonight's
    monkeypatch.setattr(aclf.inputs, "code_version", lambda: "1.1+gdef")
    copied.clear()
    _write(spec, tonight, folder, area)
    assert not copied and _files(folder) == _files(tmp_path / "whole")


def test_the_index_describes_the_files_in_force(spec, tmp_path):
    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    lb = _lb(spec, subjects=5)
    _write(spec, lb, folder, area)
    index = cdisc.splice.load_index(rows_path(area, "sdtm") / "LB.parquet")
    assert index.subjects.tolist() == lb["USUBJID"].tolist() and len(index.hashes) == len(lb)
    for kind, separator in (("xpt", b""), ("json", b", ")):
        data = (folder / f"lb.{kind}").read_bytes()
        assert index.files[kind].size == len(data)
        starts, ends = index.files[kind].ends
        rows = [data[a:b] for a, b in zip(starts, ends)]
        assert separator.join(rows) == data[starts[0]:ends[-1]]
        if kind == "json":
            assert all(row.startswith(b'["NCT05985863", "LB", ') and row.endswith(b"]") for row in rows)
        else:
            assert all(row.startswith(b"NCT05985863LB") for row in rows) and len(set(map(len, rows))) == 1


def test_origins_take_a_subjects_block_whole_or_not_at_all():
    before = cdisc.splice.RowIndex(np.array([1, 2, 3, 4, 5], dtype=np.uint64), pd.Series(list("AABBC")), {}, "c")
    tonight = pd.Series(list("AABBBD"))
    origin = cdisc.splice.origins(before, np.array([1, 2, 3, 4, 9, 7], dtype=np.uint64), tonight)
    assert origin.tolist() == [0, 1, -1, -1, -1, -1]         # B gained a row; D is new
    runs, new = cdisc.splice.runs(np.array([0, 1, -1, 4, 2, 3, -1]))
    assert runs == [(True, 0, 2), (False, 0, 1), (True, 4, 5), (True, 2, 4), (False, 1, 2)]
    assert new.tolist() == [2, 6]


# ---- rows checked once: tonight's rows checked, the whole where a rule spans rows -------------------

def _known(spec, lb, area):
    return package.known_rows({"LB": lb}, spec, rows_path(area, "sdtm"))


def test_rows_that_passed_the_same_checks_in_the_package_in_force_are_not_checked_again(spec, tmp_path, monkeypatch):
    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    _write(spec, _lb(spec), folder, area)
    tonight = _lb(spec, subjects=41, change=CHANGES)          # a new subject, two changed
    known = _known(spec, tonight, area)
    assert known["LB"].passed.sum() == 8 * (40 - len(CHANGES))
    checked, real = [], package.check_dataset
    monkeypatch.setattr(package, "check_dataset", lambda frame, ds: checked.append(len(frame)) or real(frame, ds))
    assert package.check_all({"LB": tonight}, spec, known) == {"LB": []}
    assert checked == [8 + 8 + 7]                             # the new subject's rows and the two changed subjects'


def test_a_rule_broken_by_tonights_rows_is_reported_as_a_full_check_reports_it(spec, tmp_path):
    def broken(rows):
        return [{**row, "LBTESTCD": "NOPE", "LBORRES": "5 µmol"} for row in rows]

    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    _write(spec, _lb(spec), folder, area)
    tonight = _lb(spec, change={3: broken, 30: broken})
    found = package.check_all({"LB": tonight}, spec, _known(spec, tonight, area))
    assert found == package.check_all({"LB": tonight}, spec)
    assert {v.rule for v in found["LB"]} >= {"codelist_value", "value_ascii"}
    assert any("row 17" in v.message for v in found["LB"])   # the row in the whole dataset


def test_a_key_repeated_by_rows_that_each_passed_is_found_in_the_whole(spec, tmp_path):
    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    lb = _lb(spec)
    _write(spec, lb, folder, area)
    tonight = pd.concat([lb, lb[lb["USUBJID"] == lb["USUBJID"].iloc[40]]], ignore_index=True)   # subject 6 twice
    known = _known(spec, tonight, area)
    assert known["LB"].passed.all()
    found = package.check_all({"LB": tonight}, spec, known)
    assert found == package.check_all({"LB": tonight}, spec) and [v.rule for v in found["LB"]] == ["duplicate_key"]


def test_a_fresh_row_repeating_a_copied_rows_key_is_found_in_the_whole(spec, tmp_path):
    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    lb = _lb(spec)
    _write(spec, lb, folder, area)
    again = lb.iloc[[40]].assign(LBORRES="77")                       # subject 6's first key, another value
    tonight = pd.concat([lb, again], ignore_index=True)
    known = _known(spec, tonight, area)
    assert known["LB"].passed.sum() == len(lb)
    found = package.check_all({"LB": tonight}, spec, known)
    assert found == package.check_all({"LB": tonight}, spec) and [v.rule for v in found["LB"]] == ["duplicate_key"]


def test_the_whole_keys_are_not_looked_at_when_no_key_can_repeat(spec, tmp_path, monkeypatch):
    """Tonight's rows were found distinct on their own, the copied rows copy distinct rows of a
    package whose keys were distinct, and no subject has rows of both: the whole needs no key check."""
    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    _write(spec, _lb(spec), folder, area)
    tonight = _lb(spec, subjects=41, change=CHANGES)
    known = _known(spec, tonight, area)
    looked, keys = [], cdisc.xpt._keys
    monkeypatch.setattr(cdisc.xpt, "_keys", lambda ds, frame: looked.append(len(frame)) or keys(ds, frame))
    assert package.check_all({"LB": tonight}, spec, known) == {"LB": []}
    assert looked == [8 + 8 + 7]                                     # the fresh rows' own check only
    origin = known["LB"].origin
    assert not cdisc.xpt.keys_may_repeat(tonight, spec.datasets["LB"], origin)
    assert cdisc.xpt.keys_may_repeat(tonight, spec.datasets["LB"], np.where(origin == 5, 4, origin))  # one row twice
    copies = np.flatnonzero(origin >= 0)
    backwards = origin.copy()
    backwards[copies] = origin[copies][::-1]                         # copied out of order, none twice
    assert not cdisc.xpt.keys_may_repeat(tonight, spec.datasets["LB"], backwards)
    backwards[copies[-1]] = backwards[copies[0]]                     # out of order, one row twice, far apart
    assert cdisc.xpt.keys_may_repeat(tonight, spec.datasets["LB"], backwards)
    mixed = origin.copy()
    mixed[np.flatnonzero(origin >= 0)[0]] = -1                       # a subject with rows of both kinds
    assert cdisc.xpt.keys_may_repeat(tonight, spec.datasets["LB"], mixed)
    no_subject = spec.datasets["LB"].model_copy(update={"keys": ["STUDYID", "LBREFID", "LBTESTCD"]})
    assert cdisc.xpt.keys_may_repeat(tonight, no_subject, origin)


def test_a_changed_spec_checks_every_row_again(spec, tmp_path):
    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    lb = _lb(spec)
    _write(spec, lb, folder, area)
    dumped = spec.datasets["LB"].model_dump(by_alias=True)
    dumped["variables"] = [{**v, "length": 5} if v["name"] == "LBNAM" else v for v in dumped["variables"]]
    shorter = spec.model_copy(update={"datasets": {**spec.datasets, "LB": type(spec.datasets["LB"]).model_validate(dumped)}})
    known = _known(shorter, lb, area)
    assert known["LB"].passed is None and known["LB"].origin is not None
    assert [v.rule for v in package.check_all({"LB": lb}, shorter, known)["LB"]] == ["value_length"]


def test_rows_are_copied_by_the_kernel_or_else_in_chunks_to_the_same_bytes(spec, tmp_path, copied, monkeypatch):
    """``copy_file_range`` copies the rows where the system offers it; where it is absent or refused
    (another file system), they are read and written in chunks, to the same bytes."""
    import os
    offered = os.copy_file_range
    moved: list[int] = []

    def counted(*args):
        moved.append(offered(*args))
        return moved[-1]

    def refused(*args):
        raise OSError(18, "Invalid cross-device link")

    tonight = _lb(spec, subjects=41, change=CHANGES)
    _write(spec, tonight, tmp_path / "whole", tmp_path / "whole_area", reuse=False)
    for number, kernel in enumerate([counted, refused, None]):
        area, folder = tmp_path / f"area{number}", tmp_path / f"area{number}" / "sdtm"
        _write(spec, _lb(spec), folder, area)
        if kernel is None:
            monkeypatch.delattr(cdisc.splice.os, "copy_file_range")
        else:
            monkeypatch.setattr(cdisc.splice.os, "copy_file_range", kernel)
        copied.clear()
        _write(spec, tonight, folder, area)
        assert _files(folder) == _files(tmp_path / "whole") and copied == {"lb.xpt": 8 * 38, "lb.json": 8 * 38}
    assert sum(moved) > 0


def test_rows_copied_into_a_stream_without_a_file(spec, tmp_path):
    """A writer may lay rows out into memory: the kernel's copy needs a file, the chunks do not."""
    import io

    area, folder = tmp_path / "area", tmp_path / "area" / "sdtm"
    _write(spec, _lb(spec), folder, area)
    before = cdisc.splice.load_index(rows_path(area, "sdtm") / "LB.parquet")
    reuse = cdisc.splice.Reuse(folder / "lb.xpt", before.files["xpt"], [], np.array([], dtype=np.int64))
    out = io.BytesIO(b"head")
    out.seek(4)
    reuse.copy(out, 0, 8)
    begins, ends = before.files["xpt"].ends
    rows = (folder / "lb.xpt").read_bytes()[begins[0]:ends[7]]
    assert out.getvalue() == b"head" + rows and len(rows) == 8 * int(before.files["xpt"].lengths[0])


def _origins_block_by_block(before, hashes, subjects):
    """The rule of ``origins`` said one block at a time: the oracle of its vectorized form."""
    origin = np.full(len(hashes), -1, dtype=np.int64)
    old, new = before.subjects.tolist(), subjects.tolist()

    def blocks(values):
        out, start = [], 0
        for i in range(1, len(values) + 1):
            if i == len(values) or values[i] != values[start]:
                out.append((values[start], start, i))
                start = i
        return out

    previous = blocks(old)
    for subject, start, stop in blocks(new):
        mine = [(a, b) for s, a, b in previous if s == subject]
        if len(mine) == 1 and mine[0][1] - mine[0][0] == stop - start and \
                list(before.hashes[mine[0][0]:mine[0][1]]) == list(hashes[start:stop]):
            origin[start:stop] = np.arange(*mine[0])
    return origin


@pytest.mark.parametrize("seed", range(20))
def test_origins_match_every_block_as_one_block_at_a_time_does(seed):
    """Random nights: subjects gained, lost, split into two blocks, reordered; rows changed, added, dropped."""
    rng = np.random.default_rng(seed)
    subjects = [f"S{n:03d}" for n in range(rng.integers(0, 40))]
    old = [s for s in subjects for _ in range(rng.integers(1, 6))]
    if old and rng.random() < 0.5:
        old.append(old[0])                                    # a subject in two blocks: never copied
    hashes = rng.integers(0, 5, len(old)).astype(np.uint64)
    before = cdisc.splice.RowIndex(hashes, pd.Series(old, dtype="str"), {}, "c")
    keep = rng.random(len(old)) < 0.9
    new = [s for s, k in zip(old, keep) if k] + [f"N{n}" for n in range(rng.integers(0, 4))]
    tonight_hashes = np.concatenate([hashes[keep], rng.integers(0, 5, len(new) - keep.sum())]).astype(np.uint64)
    flip = rng.random(len(new)) < 0.05
    tonight_hashes[flip] += np.uint64(7)
    tonight = pd.Series(new, dtype="str")
    expected = _origins_block_by_block(before, tonight_hashes, tonight)
    assert cdisc.splice.origins(before, tonight_hashes, tonight).tolist() == expected.tolist()
