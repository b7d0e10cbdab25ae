"""The query listings as they are sent: each item to whoever can answer it, in the site's languages,
laid out for print (read back with openpyxl)."""
import openpyxl
import pandas as pd

from aclf.config import load_study
from validation.listing import HEADER_ROW, RESPONSE_COLUMNS


def _rows(path) -> pd.DataFrame:
    sheet = openpyxl.load_workbook(path).active
    values = list(sheet.iter_rows(min_row=HEADER_ROW, values_only=True))
    return pd.DataFrame(values[1:], columns=values[0])


def test_each_open_item_goes_to_whoever_can_answer_it(two_nights):
    settings, _ = two_nights
    folder, study = settings.output / "findings", load_study()
    findings = pd.read_csv(folder / "findings.csv", dtype=str, keep_default_na=False)
    open_ = findings[findings["status"] == "open"]
    audience = open_["rule"].map({n: r.audience for n, r in study.rules.items()})
    sites = pd.concat([_rows(folder / f"site{s}_queries.xlsx") for s in study.site_ids])
    assert set(sites["Finding"]) == set(open_.loc[audience == "site", "finding_id"])
    assert set(_rows(folder / "coding_queries.xlsx")["Finding"]) == set(open_.loc[audience == "coder", "finding_id"])
    assert set(_rows(folder / "data_manager_items.xlsx")["Finding"]) == \
        set(open_.loc[audience == "data_manager", "finding_id"])
    assert (audience != "site").any()              # the generated nights have coding or informational items
    assert not sites["Query"].str.contains("_").any()   # words, not rule codes


def test_a_chinese_speaking_site_reads_its_queries_in_chinese_and_english(two_nights):
    settings, nights = two_nights
    study = load_study()
    for site in study.site_ids:
        rows = _rows(settings.output / "findings" / f"site{site}_queries.xlsx")
        if rows.empty:
            continue
        chinese = rows["Query"].str.contains("[\u4e00-\u9fff]")
        assert chinese.all() if "zh" in study.query_languages[site] else not chinese.any()
        assert set(rows["First seen"]) <= set(nights)
        assert list(rows.columns[-3:]) == RESPONSE_COLUMNS and (rows[RESPONSE_COLUMNS].fillna("") == "").all().all()


def test_a_listing_prints_landscape_fitted_to_width_with_its_header_on_every_page(two_nights):
    settings, nights = two_nights
    sheet = openpyxl.load_workbook(settings.output / "findings" / "site01_queries.xlsx").active
    setup = sheet.page_setup
    assert setup.orientation == "landscape" and int(setup.paperSize) == int(sheet.PAPERSIZE_A4)
    width = 1 if setup.fitToWidth is None else int(setup.fitToWidth)          # absent: OOXML's default, 1
    assert (width, int(setup.fitToHeight)) == (1, 0) and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
    title = [sheet.cell(row=r, column=1).value for r in range(1, 4)]
    assert "NCT05985863" in title[0] and "site 01" in title[0] and nights[-1] in title[1]
    assert sheet.freeze_panes == f"A{HEADER_ROW + 1}"
    details = [c.value for c in sheet[HEADER_ROW]].index("Details") + 1
    for row in range(HEADER_ROW + 1, sheet.max_row + 1):
        cell = sheet.cell(row=row, column=details)
        assert cell.alignment.wrap_text and sheet.row_dimensions[row].height >= 17


def test_the_response_columns_are_shaded_for_the_site_to_fill_in(two_nights):
    settings, _ = two_nights
    sheet = openpyxl.load_workbook(settings.output / "findings" / "site01_queries.xlsx").active
    headers = [c.value for c in sheet[HEADER_ROW]]
    assert sheet.max_row > HEADER_ROW
    for row in sheet.iter_rows(min_row=HEADER_ROW, max_row=sheet.max_row):
        for cell, header in zip(row, headers):
            shaded = cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb[-6:] == "FFF2CC"   # ARGB
            assert shaded == (header in RESPONSE_COLUMNS), (cell.coordinate, header)
            assert cell.alignment.wrap_text and cell.alignment.vertical == "top", cell.coordinate
        assert not any(c.font.b for c in row[:len(headers)]) or row[0].row == HEADER_ROW


def test_eligibility_items_say_where_the_value_is(two_nights):
    settings, _ = two_nights
    findings = pd.read_csv(settings.output / "findings" / "findings.csv", dtype=str, keep_default_na=False)
    located = findings[findings["rule"].str.startswith("eligibility_") & (findings["rule"] != "eligibility_unverifiable")]
    assert len(located)                                          # the generated study has some
    assert (located["file"] != "").all() and located["row_number"].str.fullmatch(r"\d+").all()
    assert located.loc[located["file"].str.startswith("EDC_"), "file"].str.endswith(".csv").all()
    by_lab = located[located["rule"].isin(["eligibility_tbil", "eligibility_coagulopathy", "eligibility_he_grade"])]
    assert (by_lab["visit"] != "").all()
