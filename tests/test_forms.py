"""EDC folder and IWRS list: required files, personal columns never read, keys, form audit."""
import json

from conftest import land, read_table, write_manifest

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


def test_edc_folder_loads_every_form_without_personal_data(ingest, engine, paths):
    land_edc(paths, "EDC_20250601")
    [outcome] = ingest("edc")
    assert outcome.status == "loaded" and outcome.balanced
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (11, 9, 2)
    forms = read_table(engine, "form_record")
    enrolled = {r["record_key"]: json.loads(r["data"]) for _, r in forms[forms["form"] == "enrollment"].iterrows()}
    assert set(enrolled) == {"01-007", "01-008"}
    assert "PATIENT_NAME" not in enrolled["01-007"] and enrolled["01-007"]["BRTHDTC"] == "1971-05-04"
    held = read_table(engine, "quarantine")
    assert dict(zip(held["rule"], held["file"])) == {"bad_subject": "EDC_20250601/enrollment.csv",
                                                     "duplicate_key": "EDC_20250601/adverse_events.csv"}
    with engine.connect() as conn:
        everything = json.dumps([forms.astype(str).values.tolist(), held.astype(str).values.tolist()],
                                ensure_ascii=False)
    assert not [value for value in PERSONAL if value in everything]


def test_edc_folder_missing_a_form_is_rejected(ingest, paths):
    files = {k: v for k, v in EDC_FILES.items() if k != "adverse_events.csv"}
    land_edc(paths, "EDC_20250601", files)
    [outcome] = ingest("edc")
    assert outcome.status == "rejected"
    assert "required file adverse_events.csv is not in MANIFEST.sha256" in outcome.reason


def test_edc_folder_without_manifest_is_in_flight(ingest, paths):
    land_edc(paths, "EDC_20250601", manifest=False)
    assert [o.status for o in ingest("edc")] == ["in_flight"]


def test_edc_correction_is_audited_per_field(ingest, engine, paths):
    land_edc(paths, "EDC_20250601")
    ingest("edc")
    files = dict(EDC_FILES)
    files["adverse_events.csv"] = files["adverse_events.csv"].replace(",N,1,POSSIBLY", ",N,2,POSSIBLY")
    land_edc(paths, "EDC_20250602", files)
    loaded = next(o for o in ingest("edc") if o.status == "loaded")
    assert loaded.changes["changed"] == 1
    audit = read_table(engine, "audit_event")
    assert audit[["entity", "record_key", "field", "old_value", "new_value"]].values.tolist() == \
        [["adverse_events", "01-007|1", "AETOXGR", "1", "2"]]


def test_iwrs_list_loads_blinded_rows_keyed_by_subject_and_stage(ingest, engine, paths):
    text = ("SUBJID,SITEID,STAGE,RAND_NO,RAND_DTM,KIT_NOS\n"
            "01-007,01,1,R1-0042,2024-03-05T09:12,K0131;K0132;K0133\n"
            "01-007,01,2,R2-0007,2024-04-02T09:00,K0901;K0902\n")
    land(paths, "iwrs", "IWRS_20250601.csv", text.encode())
    [outcome] = ingest("iwrs")
    assert outcome.status == "loaded" and outcome.rows_loaded == 2 and outcome.balanced
    forms = read_table(engine, "form_record")
    assert sorted(forms["record_key"]) == ["01-007|1", "01-007|2"] and set(forms["form"]) == {"randomization"}
