"""EDC folder and IWRS list: required files, personal columns never read, keys, form audit."""
import json

from support import EDC_FILES, PERSONAL, land, land_edc, read_table, write_manifest

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
