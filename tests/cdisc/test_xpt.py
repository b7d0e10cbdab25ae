"""cdisc.xpt: XPT v5 files written with pyreadstat, read back by pyreadstat and pandas, and the
checks that stop a frame pyreadstat would write wrongly."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from cdisc.spec import Dataset, Variable, load_spec
from cdisc.xpt import XptSpecError, check_dataset, conform, read_xpt, write_xpt

V5_LIBRARY_HEADER = b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!000000000000000000000000000000  "
V5_FIRST_REAL_HEADER = b"SAS     SAS     SASLIB"


@pytest.fixture(scope="module")
def spec():
    return load_spec()


@pytest.fixture(scope="module")
def dm(spec):
    return spec.datasets["DM"]


def dm_frame() -> pd.DataFrame:
    """Three subjects with every DM variable, columns deliberately not in spec order."""
    rows = [
        {"USUBJID": "NCT05985863-001", "SUBJID": "001", "RFSTDTC": "2024-03-04T09:30", "RFENDTC": "2024-06-01",
         "RFXSTDTC": "2024-03-04T09:30", "RFXENDTC": "2024-03-18T10:00", "RFICDTC": "2024-02-27",
         "RFPENDTC": "2024-06-01", "DTHDTC": "", "DTHFL": "", "BRTHDTC": "1969-05", "AGE": 54,
         "ARMCD": "BLINDED", "ARM": "Blinded", "ACTARMCD": "BLINDED", "ACTARM": "Blinded"},
        {"USUBJID": "NCT05985863-002", "SUBJID": "002", "RFSTDTC": "2024-03-11T08:00", "RFENDTC": "2024-04-02",
         "RFXSTDTC": "2024-03-11T08:00", "RFXENDTC": "2024-03-25T08:15", "RFICDTC": "2024-03-05",
         "RFPENDTC": "2024-04-02", "DTHDTC": "2024-04-02", "DTHFL": "Y", "BRTHDTC": "1980-11-23", "AGE": 43,
         "ARMCD": "BLINDED", "ARM": "Blinded", "ACTARMCD": "BLINDED", "ACTARM": "Blinded"},
        {"USUBJID": "NCT05985863-003", "SUBJID": "003", "RFSTDTC": "", "RFENDTC": "2024-03-20",
         "RFXSTDTC": "", "RFXENDTC": "", "RFICDTC": "2024-03-14", "RFPENDTC": "2024-03-20", "DTHDTC": "",
         "DTHFL": "", "BRTHDTC": "", "AGE": None, "ARMCD": "", "ARM": "",
         "ACTARMCD": "", "ACTARM": ""},
    ]
    frame = pd.DataFrame(rows)
    frame["AGEU"] = ["YEARS", "YEARS", ""]
    frame["SEX"] = ["M", "F", "M"]
    frame["RACE"] = "ASIAN"
    frame["ETHNIC"] = "NOT HISPANIC OR LATINO"
    frame["ARMNRS"] = ["", "", "SCREEN FAILURE"]
    frame["ACTARMUD"] = ""
    frame["SITEID"] = "01"
    frame["COUNTRY"] = "CHN"
    frame["DOMAIN"] = "DM"
    frame["STUDYID"] = "NCT05985863"
    return frame


def text(name: str, core: str = "Req", **kw) -> Variable:
    return Variable(name=name, label=kw.pop("label", f"Label of {name}"), type="text", core=core,
                    origin="Collected", **kw)


def number(name: str, type_: str = "float", core: str = "Exp", **kw) -> Variable:
    return Variable(name=name, label=kw.pop("label", f"Label of {name}"), type=type_, core=core,
                    origin="Collected", **kw)


def dataset(*variables: Variable, name: str = "XX", label: str = "Test Dataset", keys=("USUBJID",)) -> Dataset:
    variables = variables or (text("USUBJID"), text("XXTEST", core="Exp"), number("XXVAL"))
    return Dataset(name=name, label=label, class_="FINDINGS", structure="One record per test",
                   keys=list(keys), variables=list(variables))


def frame(**columns) -> pd.DataFrame:
    base = {"USUBJID": ["S-1", "S-2"], "XXTEST": ["A", "B"], "XXVAL": [1.0, 2.5]}
    return pd.DataFrame({**base, **columns})


# ---- a valid dataset ----------------------------------------------------------------------------

def test_valid_dm_round_trips_through_pyreadstat_and_pandas(dm, tmp_path):
    source = dm_frame()
    assert list(source.columns) != dm.names
    assert check_dataset(source, dm) == []

    path = write_xpt(source, dm, tmp_path / "dm.xpt")

    expected = conform(source, dm).reset_index(drop=True)
    back, meta = read_xpt(path)
    assert list(back.columns) == dm.names
    assert meta.column_labels == [v.label for v in dm.variables]
    assert meta.file_label == dm.label
    assert meta.table_name == "DM"
    assert len(back) == len(source)
    by_pandas = pd.read_sas(path, format="xport", encoding="ascii")
    assert list(by_pandas.columns) == dm.names
    assert len(by_pandas) == len(source)
    for var in dm.variables:
        want = expected[var.name].tolist()
        if var.is_numeric:
            assert back[var.name].dtype == np.float64
            np.testing.assert_array_equal(back[var.name].to_numpy(), np.array(want, dtype=float))
            np.testing.assert_allclose(by_pandas[var.name].to_numpy(), np.array(want, dtype=float),
                                       rtol=1e-15, atol=1e-70)
        else:
            assert back[var.name].tolist() == want, var.name
            assert by_pandas[var.name].tolist() == want, var.name
    assert back["AGE"].tolist()[:2] == [54.0, 43.0] and math.isnan(back["AGE"][2])
    assert back["BRTHDTC"].tolist() == ["1969-05", "1980-11-23", ""]


def test_file_is_transport_version_5(dm, tmp_path):
    path = write_xpt(dm_frame(), dm, tmp_path / "dm.xpt")
    head = path.read_bytes()[:480]
    assert head[:80] == V5_LIBRARY_HEADER                       # v8 says "LIBV8   HEADER RECORD"
    assert head[80:80 + len(V5_FIRST_REAL_HEADER)] == V5_FIRST_REAL_HEADER
    assert head[240:288].startswith(b"HEADER RECORD*******MEMBER  HEADER RECORD")   # v8: "MEMBV8"
    assert b"LIBV8" not in head and b"MEMBV8" not in head
    assert head[400:416] == b"SAS     DM      "


def test_numbers_are_exact_with_pyreadstat_and_near_with_pandas(tmp_path):
    ds = dataset()
    values = [0.0, 0.1, -2.5, 1 / 3, 1e10, np.nan, 123456.789]
    source = pd.DataFrame({"USUBJID": [f"S-{i}" for i in range(len(values))], "XXTEST": "A", "XXVAL": values})
    path = write_xpt(source, ds, tmp_path / "xx.xpt")
    back, _ = read_xpt(path)
    np.testing.assert_array_equal(back["XXVAL"].to_numpy(), np.array(values))
    by_pandas = pd.read_sas(path, format="xport", encoding="ascii")
    assert 0 < by_pandas["XXVAL"][0] < 1e-78                    # pandas issue 50670: 0 comes back as 5.4e-79
    np.testing.assert_allclose(by_pandas["XXVAL"].to_numpy(), np.array(values), rtol=1e-15, atol=1e-70)


def test_integers_are_written_as_doubles(tmp_path):
    ds = dataset(text("USUBJID"), number("XXSEQ", "integer", core="Req"))
    source = pd.DataFrame({"USUBJID": ["S-1", "S-2"], "XXSEQ": pd.array([1, 2], dtype="Int64")})
    back, meta = read_xpt(write_xpt(source, ds, tmp_path / "xx.xpt"))
    assert back["XXSEQ"].dtype == np.float64 and back["XXSEQ"].tolist() == [1.0, 2.0]
    assert meta.variable_storage_width["XXSEQ"] == 8


def test_conform_orders_and_types_without_adding_variables():
    ds = dataset(text("USUBJID"), text("XXORRES", core="Exp"), number("XXVAL"), text("XXNOTE", core="Perm"))
    source = pd.DataFrame({"XXVAL": [1, None], "XXORRES": [12, 2.5],
                           "USUBJID": pd.array(["S-1", None], dtype="str")})
    out = conform(source, ds)
    assert list(out.columns) == ["USUBJID", "XXORRES", "XXVAL"]
    assert out["USUBJID"].dtype == "str" and out["USUBJID"].tolist() == ["S-1", ""]
    assert out["XXORRES"].dtype == "str" and out["XXORRES"].tolist() == ["12", "2.5"]
    assert out["XXVAL"].dtype == np.float64 and out["XXVAL"][0] == 1.0 and math.isnan(out["XXVAL"][1])


def test_conform_writes_dates_as_iso_8601_and_drops_trailing_blanks():
    ds = dataset(text("USUBJID"), text("XXDTC", core="Exp"))
    source = pd.DataFrame({"USUBJID": [" S-1  ", "S-2"],
                           "XXDTC": pd.to_datetime(["2024-03-04 09:30", None])})
    out = conform(source, ds)
    assert out["USUBJID"].tolist() == [" S-1", "S-2"]
    assert out["XXDTC"].tolist() == ["2024-03-04T09:30:00", ""]


def test_perm_variable_absent_is_not_written(dm, tmp_path):
    source = dm_frame().drop(columns=["ETHNIC", "BRTHDTC"])
    assert check_dataset(source, dm) == []
    back, meta = read_xpt(write_xpt(source, dm, tmp_path / "dm.xpt"))
    assert list(back.columns) == [n for n in dm.names if n not in ("ETHNIC", "BRTHDTC")]
    assert len(meta.column_labels) == len(dm.names) - 2


def test_empty_text_column_is_written_with_length_one(tmp_path):
    ds = dataset()
    source = frame(XXTEST=["", None])
    back, meta = read_xpt(write_xpt(source, ds, tmp_path / "xx.xpt"))
    assert back["XXTEST"].tolist() == ["", ""]
    assert meta.variable_storage_width["XXTEST"] == 1
    assert meta.readstat_variable_types["XXTEST"] == "string"


def test_text_variable_holding_numbers_is_written_as_text(tmp_path):
    ds = dataset()
    back, _ = read_xpt(write_xpt(frame(XXTEST=[7, 0.5]), ds, tmp_path / "xx.xpt"))
    assert back["XXTEST"].tolist() == ["7", "0.5"]


def test_real_spec_passes_its_own_name_and_label_checks(spec):
    for ds in spec.datasets.values():
        assert check_dataset(pd.DataFrame(columns=ds.names), ds) == [], ds.name


# ---- one rule each ------------------------------------------------------------------------------

LONG_LABEL = "A label that is forty-one characters long"
assert len(LONG_LABEL) == 41

BROKEN = {
    "name_format (dataset, lower case)": ("name_format", None, dataset(name="xx"), frame()),
    "name_format (9 characters)": (
        "name_format", "XXLONGVAR",
        dataset(text("USUBJID"), text("XXLONGVAR", core="Exp")),
        pd.DataFrame({"USUBJID": ["S-1"], "XXLONGVAR": ["A"]})),
    "name_format (lower case variable)": (
        "name_format", "xxtest",
        dataset(text("USUBJID"), text("xxtest", core="Exp")),
        pd.DataFrame({"USUBJID": ["S-1"], "xxtest": ["A"]})),
    "name_format (starts with a digit)": (
        "name_format", "1XX",
        dataset(text("USUBJID"), text("1XX", core="Exp")),
        pd.DataFrame({"USUBJID": ["S-1"], "1XX": ["A"]})),
    "label_length (variable)": (
        "label_length", "XXTEST",
        dataset(text("USUBJID"), text("XXTEST", core="Exp", label=LONG_LABEL)), frame()[["USUBJID", "XXTEST"]]),
    "label_length (dataset)": ("label_length", None, dataset(label=LONG_LABEL), frame()),
    "label_missing": ("label_missing", None, dataset(label="  "), frame()),
    "label_ascii": (
        "label_ascii", "XXVAL",
        dataset(text("USUBJID"), number("XXVAL", label="Concentration (\u00b5mol/L)")),
        frame()[["USUBJID", "XXVAL"]]),
    "value_ascii (micro sign)": ("value_ascii", "XXTEST", dataset(), frame(XXTEST=["A", "\u00b5mol/L"])),
    "value_ascii (Greek mu)": ("value_ascii", "XXTEST", dataset(), frame(XXTEST=["\u03bcmol/L", "B"])),
    "value_ascii (Chinese)": ("value_ascii", "XXTEST", dataset(), frame(XXTEST=["A", "\u6eb6\u8840"])),
    "value_length (201 bytes)": ("value_length", "XXTEST", dataset(), frame(XXTEST=["A", "x" * 201])),
    "value_length (spec length)": (
        "value_length", "XXTEST",
        dataset(text("USUBJID"), text("XXTEST", core="Exp", length=3), number("XXVAL")),
        frame(XXTEST=["ABC", "ABCD"])),
    "unknown_variable": ("unknown_variable", "XXEXTRA", dataset(), frame(XXEXTRA=["a", "b"])),
    "missing_variable (Req)": (
        "missing_variable", "XXTESTCD",
        dataset(text("USUBJID"), text("XXTESTCD"), text("XXTEST", core="Exp"), number("XXVAL")), frame()),
    "missing_variable (Exp)": ("missing_variable", "XXVAL", dataset(), frame().drop(columns="XXVAL")),
    "required_empty (text)": ("required_empty", "XXTEST",
                              dataset(text("USUBJID"), text("XXTEST"), number("XXVAL")), frame(XXTEST=["A", " "])),
    "required_empty (number)": ("required_empty", "XXVAL",
                                dataset(text("USUBJID"), text("XXTEST", core="Exp"), number("XXVAL", core="Req")),
                                frame(XXVAL=[1.0, np.nan])),
    "type (integer 1.5)": ("type", "XXVAL",
                           dataset(text("USUBJID"), text("XXTEST", core="Exp"), number("XXVAL", "integer")),
                           frame(XXVAL=[1, 1.5])),
    "type (text in a number)": ("type", "XXVAL", dataset(), frame(XXVAL=pd.Series([1.0, "2.5"], dtype=object))),
    "duplicate_key": ("duplicate_key", None, dataset(), frame(USUBJID=["S-1", "S-1"])),
    "value_range (inf)": ("value_range", "XXVAL", dataset(), frame(XXVAL=[1.0, np.inf])),
    "duplicate_variable": ("duplicate_variable", "XXTEST", dataset(),
                           pd.concat([frame(), frame()[["XXTEST"]]], axis=1)),
    "blank_row": ("blank_row", None, dataset(text("USUBJID", core="Exp"), text("XXTEST", core="Exp")),
                  pd.DataFrame({"USUBJID": ["S-1", ""], "XXTEST": ["A", ""]})),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_rule_stops_the_write(case, tmp_path):
    rule, variable, ds, source = BROKEN[case]
    with pytest.raises(XptSpecError) as caught:
        write_xpt(source, ds, tmp_path / "xx.xpt")
    violations = caught.value.violations
    assert [(v.rule, v.dataset, v.variable) for v in violations] == [(rule, ds.name, variable)]
    message = violations[0].message
    assert ds.name in message and f"[{rule}]" in message
    if variable is not None:
        assert variable in message
    assert str(caught.value) == message
    assert list(tmp_path.iterdir()) == []


def test_value_messages_give_row_and_value():
    [violation] = check_dataset(frame(XXTEST=["A", "\u00b5mol/L"]), dataset())
    assert "row 2" in violation.message and "'\u00b5mol/L'" in violation.message and "U+00B5" in violation.message
    [violation] = check_dataset(frame(USUBJID=["S-1", "S-1"]), dataset())
    assert "USUBJID='S-1'" in violation.message and "row 2" in violation.message and "row 1" in violation.message
    [violation] = check_dataset(frame(XXTEST=["", ""]), dataset(text("USUBJID"), text("XXTEST"), number("XXVAL")))
    assert "2 of 2 rows empty, the first row 1" in violation.message


def test_a_value_with_a_personal_form_is_not_shown_nor_spelled_out():
    """A patient's name that reached a dataset (typed in a coded EDC column): the ASCII check names
    the row, not the name, nor its characters one by one."""
    [violation] = check_dataset(frame(XXTEST=["A", "\u5f20\u4f1f"]), dataset())
    assert "row 2" in violation.message and "\u5f20" not in violation.message and "U+5F20" not in violation.message
    assert "(not shown: it has the form of a name or an identifier) (characters not shown)" in violation.message


def test_only_trailing_blank_rows_are_a_violation(tmp_path):
    ds = dataset(text("USUBJID", core="Exp"), text("XXTEST", core="Exp"))
    middle = pd.DataFrame({"USUBJID": ["S-1", "", "S-3"], "XXTEST": ["A", None, "C"]})
    back, _ = read_xpt(write_xpt(middle, ds, tmp_path / "xx.xpt"))
    assert back["USUBJID"].tolist() == ["S-1", "", "S-3"]
    violations = check_dataset(pd.DataFrame({"USUBJID": ["S-1", "", " "], "XXTEST": ["A", "", None]}), ds)
    [blank] = [v for v in violations if v.rule == "blank_row"]      # two blank rows also repeat the key
    assert "rows 2-3" in blank.message
    with_number = dataset(text("USUBJID", core="Exp"), number("XXVAL"))
    assert check_dataset(pd.DataFrame({"USUBJID": ["S-1", ""], "XXVAL": [1.0, None]}), with_number) == []


def test_conform_refuses_what_a_number_cannot_hold():
    with pytest.raises(ValueError, match="XXVAL"):
        conform(frame(XXVAL=["1", 2.0]), dataset())
    assert conform(frame(XXVAL=["", None]), dataset())["XXVAL"].isna().all()


def test_all_violations_are_collected(tmp_path):
    ds = dataset(text("USUBJID"), text("XXTEST", core="Exp", label=LONG_LABEL), number("XXVAL", "integer"))
    source = pd.DataFrame({"USUBJID": ["S-1", "S-1"], "XXTEST": ["\u03bc", "x" * 300], "XXVAL": [1.5, 2],
                           "extra": [1, 2]})
    with pytest.raises(XptSpecError) as caught:
        write_xpt(source, ds, tmp_path / "xx.xpt")
    rules = sorted(v.rule for v in caught.value.violations)
    assert rules == sorted(["name_format", "unknown_variable", "label_length", "value_ascii", "value_length",
                            "type", "duplicate_key"])
    assert len(str(caught.value).splitlines()) == len(rules)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_check_leaves_an_existing_file_alone(tmp_path):
    path = write_xpt(frame(), dataset(), tmp_path / "xx.xpt")
    before = path.read_bytes()
    with pytest.raises(XptSpecError):
        write_xpt(frame(XXTEST=["\u00b5", "B"]), dataset(), path)
    assert path.read_bytes() == before


def test_pyreadstat_itself_lets_these_through(tmp_path):
    """Why the checks exist: pyreadstat 1.3.7 truncates long labels and writes non-ASCII and long values."""
    path = tmp_path / "raw.xpt"
    pyreadstat.write_xport(pd.DataFrame({"lower": ["\u00b5" + "x" * 250]}), str(path), file_format_version=5,
                           table_name="RAW", file_label=LONG_LABEL, column_labels=[LONG_LABEL])
    back, meta = pyreadstat.read_xport(str(path))
    assert meta.file_label == LONG_LABEL[:40] and meta.column_labels == [LONG_LABEL[:40]]
    assert back["lower"][0] == "\u00b5" + "x" * 250


def test_pyreadstat_drops_trailing_blank_rows(tmp_path):
    """Why blank_row exists: an all-blank last record cannot be told from v5's blank padding."""
    path = tmp_path / "raw.xpt"
    pyreadstat.write_xport(pd.DataFrame({"A": ["x" * 30, ""], "B": ["b", ""]}), str(path), file_format_version=5,
                           table_name="RAW")
    assert len(pyreadstat.read_xport(str(path))[0]) == 1
