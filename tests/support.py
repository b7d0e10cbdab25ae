"""Helpers the tests share: stores (SQLite or a PostgreSQL schema), landing-zone drops with manifests,
hand-made EDC forms, and one generated night run through the real nightly job.

Set ACLF_TEST_DATABASE_URL to a PostgreSQL URL to run every store test there, each in a schema
of its own (created and dropped around the test); otherwise each test gets a SQLite file.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from pathlib import Path

import sqlalchemy as sa

from aclf.ingest import Paths

FIXTURES = Path(__file__).parent / "fixtures"


def asset_named(name: str, study_dir: Path | None = None):
    """The assets definition (built from a study folder, the repo's by default) holding asset ``name``."""
    from aclf.config import DEFAULT_STUDY_DIR
    from assets.configuration import load_configuration
    from pipelines.definitions import build_assets

    for definition in build_assets(load_configuration(study_dir or DEFAULT_STUDY_DIR)):
        if any(key.to_user_string() == name for key in definition.keys) or definition.node_def.name == name:
            return definition
    raise KeyError(name)


@contextlib.contextmanager
def store_url(directory: Path):
    """A fresh store: a SQLite file in ``directory``, or a new schema of ACLF_TEST_DATABASE_URL."""
    base = os.environ.get("ACLF_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{directory / 'store.sqlite'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        from assets.resources import dispose_engines

        dispose_engines()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def write_manifest(path: Path) -> None:
    """A ``sha256sum``-format manifest beside a file, or MANIFEST.sha256 inside an EDC folder."""
    if path.is_dir():
        lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n"
                 for p in sorted(path.iterdir()) if p.name != "MANIFEST.sha256"]
        (path / "MANIFEST.sha256").write_text("".join(lines))
    else:
        path.with_name(path.name + ".sha256").write_text(
            f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n")


def land(paths: Paths, source: str, name: str, content: bytes | Path, manifest: bool = True) -> Path:
    """Drop one transfer file (bytes or a copy of a fixture) into the landing zone."""
    dest = paths.landing / source / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, Path):
        shutil.copyfile(content, dest)
    else:
        dest.write_bytes(content)
    if manifest:
        write_manifest(dest)
    return dest


def read_table(engine, name: str, where: str = "") -> "pd.DataFrame":
    import pandas as pd

    return pd.read_sql(sa.text(f"select * from {name} {where} order by id"), engine)


def building_every_step(monkeypatch) -> None:
    """Runs as code with uncommitted changes runs: no step is kept for unchanged inputs (aclf.inputs),
    so that a test re-running a night without a new transfer sees every step built again."""
    import aclf.inputs

    monkeypatch.setattr(aclf.inputs, "code_version", lambda: "0+g0.dirty")


@contextlib.contextmanager
def generated_night(root: Path, subjects: int, seed: int):
    """A generated study's first night delivered and run through the real nightly job; yields
    (settings, generation summary, store URL)."""
    import dagster as dg

    from pipelines.cli import deliver_night
    from aclf.settings import Settings
    from aclf.synth import generate
    from pipelines.nightly import run_nightly

    summary = generate(root / "incoming", subjects=subjects, seed=seed, nights=1, in_flight=())
    with store_url(root) as url:
        settings = Settings.resolve(landing=root / "landing", output=root / "output", archive=root / "archive",
                                    database_url=url)
        deliver_night(root / "incoming", settings.landing, summary.nights[0].replace("-", ""))
        assert run_nightly(settings, instance=dg.DagsterInstance.ephemeral()).success
        yield settings, summary, url


EDC_FILES = {
    "enrollment.csv": "SUBJID,SITEID,SCREEN_DATE,CONSENT_DATE,BRTHDTC,SEX,ETHNIC,RACE,ELIGIBLE,SCREEN_FAIL_REASON,"
                      "PATIENT_NAME,PHONE,ID_CARD_NO\n"
                      "01-007,01,2024-02-27,2024-02-27,1971-05-04,M,HAN,ASIAN,Y,,欧阳明轩,13912345678,11010519710504231X\n"
                      "01-008,01,2024-02-28,2024-02-28,1980-01-02,F,HAN,ASIAN,N,TBIL below 5 mg/dL,司马婉清,15887654321,110105198001021234\n"
                      "1-9,01,2024-02-28,2024-02-28,1980-01-02,F,HAN,ASIAN,N,,诸葛亮平,18611112222,110105198001025678\n",
    "medical_history.csv": "SUBJID,ETIOLOGY,CIRRHOSIS,ACLF_ONSET_DATE,PRIOR_PLT,PRIOR_CTP\n01-007,HBV,Y,2024-02-20,96,7\n",
    "clinical_assessment.csv": "SUBJID,VISIT,ASSESS_DATE,HE_GRADE,ASCITES,DIALYSIS_2X_WEEK,AKI,GI_BLEED,INFECTION_UNCONTROLLED\n"
                               "01-007,WEEK-1,2024-02-27,1,MILD,N,N,N,N\n01-007,WEEK0,2024-03-05,1,MILD,N,N,N,N\n",
    "infusion.csv": "SUBJID,VISIT,INF_START,INF_END,KIT_NO,VOLUME_ML,DONE,NOT_DONE_REASON\n"
                    "01-007,WEEK0,2024-03-05T10:00,2024-03-05T10:45,K0131,100,Y,\n",
    "adverse_events.csv": "SUBJID,AESPID,AETERM,AETERM_EN,AEDECOD,AEBODSYS,AESTDTC,AEENDTC,AESER,AETOXGR,AEREL,AEOUT,AEACN\n"
                          "01-007,1,发热,Fever,Pyrexia,General disorders and administration site conditions,2024-03,,N,1,"
                          "POSSIBLY RELATED,RECOVERED/RESOLVED,DOSE NOT CHANGED\n"
                          "01-007,1,发热,Fever,Pyrexia,General disorders,2024-03,,N,2,NOT RELATED,,\n",
    "outcome_events.csv": "SUBJID,EVENT,EVENT_DATE,DEATH_CAUSE\n",
    "end_of_study.csv": "SUBJID,STATUS,END_DATE,LAST_CONTACT_DATE\n",
    "visits.csv": "SUBJID,VISIT,VISIT_DATE\n01-007,WEEK-1,2024-02-27\n01-007,WEEK0,2024-03-05\n",
}
PERSONAL = ["欧阳明轩", "司马婉清", "诸葛亮平", "13912345678", "15887654321", "11010519710504231X"]


def land_edc(paths, name, files=EDC_FILES, manifest=True):
    folder = paths.landing / "edc" / name
    folder.mkdir(parents=True)
    for file, text in files.items():
        (folder / file).write_text(text, encoding="utf-8")
    if manifest:
        write_manifest(folder)
    return folder
