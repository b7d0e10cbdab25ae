"""A result of -0.0 keeps its sign through a night whose table has lost its Parquet copy: SQLite
keeps a REAL -0.0 as 0.0, so harmonization builds such a table again rather than reuse the store's
rows (a kept row would carry 0.0 where a full build has -0.0)."""
import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import dagster as dg
import numpy as np

from aclf.harmonized_lab import load_harmonized_lab
from aclf.mirror import mirror_folder
from aclf.settings import Settings
from aclf.store import make_engine
from aclf.synth import generate
from pipelines.cli import deliver_night
from pipelines.nightly import run_nightly
from support import store_url

SDTM = ("blinded", "m5", "datasets", "nct05985863", "tabulations", "sdtm")


def _minus_zero(site: Path) -> str:
    """One bilirubin result of each of the site's snapshots made '-0.0', the same record in each (its
    checksum file made again); returns the record's sample id."""
    sample = None
    for path in sorted(site.glob("*.csv")):
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        header = rows[0]
        at = {name: header.index(name) for name in ("SAMPLE_ID", "TEST_CODE", "UNIT", "RESULT")}
        if sample is None:
            sample = next(r[at["SAMPLE_ID"]] for r in rows[1:] if r[at["TEST_CODE"]] == "TBIL" and r[at["UNIT"]] == "umol/L")
        [row] = [r for r in rows[1:] if r[at["SAMPLE_ID"]] == sample and r[at["TEST_CODE"]] == "TBIL"]
        row[at["RESULT"]] = "-0.0"
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        path.write_text(out.getvalue(), encoding="utf-8-sig")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return sample


def test_a_minus_zero_result_keeps_its_sign_when_the_tables_copy_is_gone(tmp_path):
    summary = generate(tmp_path / "incoming", subjects=20, seed=5, nights=2, in_flight=())
    sample = _minus_zero(tmp_path / "incoming" / "site01")
    first, second = (n.replace("-", "") for n in summary.nights)
    with store_url(tmp_path) as url:
        settings = Settings.resolve(landing=tmp_path / "landing", output=tmp_path / "output",
                                    archive=tmp_path / "archive", database_url=url)
        deliver_night(tmp_path / "incoming", settings.landing, first)
        assert run_nightly(settings, instance=dg.DagsterInstance.ephemeral(), log_level="ERROR").success
        copies = list(mirror_folder(settings.archive).glob("lab_harmonized_*.parquet"))
        assert len(copies) == 1
        copies[0].unlink()                                              # the copy lost between nights
        staged = tmp_path / "site01_only"
        shutil.copytree(tmp_path / "incoming" / "site01", staged / "site01")
        deliver_night(staged, settings.landing, second)
        assert run_nightly(settings, instance=dg.DagsterInstance.ephemeral(), log_level="ERROR").success
        lab = load_harmonized_lab(make_engine(url), mirror_folder(settings.archive))
    [value] = lab.loc[(lab["sample_id"] == sample) & (lab["lbtestcd"] == "BILI"), "lbstresn"].tolist()
    assert value == 0 and np.signbit(value)
    # the package's Dataset-JSON writes the sign (XPT's IBM floats have no negative zero)
    lb = json.loads(settings.output.joinpath(*SDTM, "lb.json").read_text(encoding="utf-8"))
    names = [column["name"] for column in lb["columns"]]
    at = {name: names.index(name) for name in ("LBREFID", "LBTESTCD", "LBSTRESN")}
    [written] = [row[at["LBSTRESN"]] for row in lb["rows"] if row[at["LBREFID"]] == sample and row[at["LBTESTCD"]] == "BILI"]
    assert written == 0 and np.signbit(written)
