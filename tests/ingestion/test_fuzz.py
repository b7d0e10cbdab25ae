"""Issue #10: property tests over every dialect reader and the manifest parser. Arbitrary bytes and
mutated valid files never raise out of ingestion (a file is read, or rejected as UnreadableTransfer),
the independent counter never raises on a file the reader accepted, and no value of a personal
column ever reaches a record, a quarantine row, a reason or a note. Derandomized, so a run is
repeatable; the mutations are those a careless export or transfer makes (bytes lost, doubled,
replaced by separators, quotes, line ends, NULs)."""
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from aclf.forms import read_form
from aclf.lab import read_lab
from aclf.landing import parse_manifest
from aclf.readers import UnreadableTransfer
from aclf.reconcile import count_source_records
from binary_files import write_site03, write_site05
from support import EDC_FILES, FIXTURES

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SPECIAL = [b",", b"\t", b'"', b"\n", b"\r\n", b"\x00", b"\xef\xbb\xbf", b"\xff", b"=", b"1e308", b"0" * 31]


def _personal_values(content: bytes, dialect) -> set[str]:
    """The values of the dialect's personal columns in a valid file, read with every column."""
    if dialect.file.format not in ("delimited", "folder"):
        return set()
    import io
    frame = pd.read_csv(io.BytesIO(content), sep=dialect.file.delimiter, encoding=dialect.file.encoding, dtype=str,
                        keep_default_na=False)
    personal = getattr(dialect, "personal", None) or next(iter(dialect.forms.values())).personal
    return {v for c in personal if c in frame for v in frame[c] if len(v) >= 4}


@st.composite
def mutated(draw, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "duplicate_line", "drop_line", "truncate"]))
        if kind == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(SPECIAL))
        elif kind == "replace":
            data[at:at + 1] = draw(st.binary(min_size=1, max_size=2))
        elif kind in ("duplicate_line", "drop_line"):
            lines = bytes(data).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines[i:i + 1] = [lines[i], lines[i]] if kind == "duplicate_line" else []
            data = bytearray(b"\n".join(lines))
        else:
            del data[at:]
    return bytes(data)


def _read(path: Path, source, study):
    """What ingestion does with one data file before writing: read it, then count it independently."""
    if source.kind == "lab":
        records, held, notes = read_lab(path, source, study.lab)
    else:
        form, spec = next(iter(source.forms.items())) if source.file.format != "folder" else \
            ("enrollment", source.forms["enrollment"])
        records, held, notes = read_form(path, spec, source.file, study.study.subjid_pattern)
    if source.file.format != "folder":
        count_source_records(path, source)
    return records, held, notes


def _assert_safe(path: Path, source, study, personal: set[str]) -> None:
    try:
        records, held, notes = _read(path, source, study)
    except UnreadableTransfer as exc:
        said = str(exc)
    else:
        said = records.to_json(force_ascii=False) + held.to_json(force_ascii=False) + json.dumps(notes)
    leaked = [v for v in personal if v in said]
    assert not leaked, (leaked, said[:2000])


VALID = {
    "site01": lambda tmp: (FIXTURES / "SITE01_20250601.csv").read_bytes(),
    "site02": lambda tmp: (FIXTURES / "SITE02_20250601.csv").read_bytes(),
    "site03": lambda tmp: write_site03(tmp / "valid.xlsx").read_bytes(),
    "site04": lambda tmp: (FIXTURES / "SITE04_20250601.txt").read_bytes(),
    "site05": lambda tmp: write_site05(tmp / "valid.sav").read_bytes(),
    "edc": lambda tmp: EDC_FILES["enrollment.csv"].encode("utf-8"),
    "iwrs": lambda tmp: b"SUBJID,SITEID,STAGE,RAND_NO,RAND_DTM,KIT_NOS\n01-007,01,1,R1-0042,2024-03-05T09:12,K1;K2\n",
}
NAME = {"site01": "SITE01_20250601.csv", "site02": "SITE02_20250601.csv", "site03": "SITE03_20250601.xlsx",
        "site04": "SITE04_20250601.txt", "site05": "SITE05_20250601.sav", "edc": "enrollment.csv",
        "iwrs": "IWRS_20250601.csv"}


@pytest.mark.parametrize("source_name", list(VALID))
def test_mutated_valid_files_never_raise_nor_leak(study, tmp_path, source_name):
    source = study.sources[source_name]
    original = VALID[source_name](tmp_path)
    personal = _personal_values(original, source)
    if source_name in ("site01", "site02", "site04", "edc"):
        assert personal                                   # the property below is about something
    path = tmp_path / NAME[source_name]

    @FUZZ
    @given(content=mutated(original))
    def check(content):
        path.write_bytes(content)
        _assert_safe(path, source, study, personal)

    check()


@pytest.mark.parametrize("source_name", list(VALID))
def test_arbitrary_bytes_never_raise(study, tmp_path, source_name):
    source = study.sources[source_name]
    path = tmp_path / NAME[source_name]

    @FUZZ
    @given(content=st.binary(max_size=600))
    def check(content):
        path.write_bytes(content)
        _assert_safe(path, source, study, set())

    check()


@FUZZ
@given(content=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_the_manifest_parser_accepts_or_refuses_plainly(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("m") / "MANIFEST.sha256"
    path.write_bytes(content)
    try:
        entries = parse_manifest(path)
    except (ValueError, UnicodeDecodeError):   # what discover() turns into a rejection
        return
    assert all("/" not in name and "\\" not in name and name not in (".", "..") for name in entries)


@pytest.mark.parametrize("source_name", ["site01", "edc"])
def test_mutated_transfers_never_raise_out_of_ingest_source_nor_leak(study, tmp_path_factory, source_name):
    """The same, through ingest_source with a fresh store each time: registry, quarantine and the
    ingestion findings (rejected transfer, quarantined row) hold no personal value."""
    import tempfile

    from aclf.ingest import Paths, ingest_source
    from aclf.store import make_engine
    from support import land, land_edc
    from validation.rules_ingestion import quarantined, rejected_transfers
    from validation.inputs import RuleInputs

    original = VALID[source_name](None)
    personal = _personal_values(original, study.sources[source_name])

    @settings(max_examples=15, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(content=mutated(original))
    def check(content):
        root = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp()))
        paths = Paths(root / "landing", root / "archive")
        if source_name == "edc":
            land_edc(paths, "EDC_20250601", {**EDC_FILES, "enrollment.csv": content.decode("utf-8", "replace")})
        else:
            land(paths, source_name, NAME[source_name], content)
        engine = make_engine(f"sqlite:///{root / 'store.sqlite'}")
        try:
            ingest_source(engine, study, source_name, paths)
            from support import read_table
            transfers, held = read_table(engine, "transfer"), read_table(engine, "quarantine")
        finally:
            engine.dispose()
        inputs = RuleInputs(study, pd.DataFrame(), {}, transfers, held, pd.DataFrame())
        said = (transfers.to_json(force_ascii=False) + held.to_json(force_ascii=False)
                + rejected_transfers(inputs).to_json(force_ascii=False) + quarantined(inputs).to_json(force_ascii=False))
        assert not [v for v in personal if v in said]

    check()
