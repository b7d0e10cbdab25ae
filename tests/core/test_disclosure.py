"""What a reason may quote (aclf.disclosure): codes are shown, the forms of the DTS's personal data
are described instead, whatever column they were typed in."""
import pandas as pd
import pytest

from aclf.disclosure import PERSON_LIKE, TOO_LONG, key_shown, person_like, quote, quoted


@pytest.mark.parametrize("value", [
    "13800138000", "138 0013 8000", "138-0013-8000",     # phones
    "11010519710504231X", "H302-2291847", "YA0098123",   # ID card and hospital record numbers
    "张伟", "欧阳明轩", "Wang Fang", "Zhang, Wei", "Xiahou Dun",   # names
])
def test_the_forms_of_personal_data_are_not_quoted(value):
    assert quote(value) == PERSON_LIKE


@pytest.mark.parametrize("value", [
    "umol/L", "10^9/L", "×10^9/L", "<0.1", "Hemolyzed", "第4周", "W4", "123456", "2024-05-17",
    "2024-05-17T10:00", "17.299999999999997", "0.30000000000000004", "1.234567890123e+30",
    "Total bilirubin", "=HYPERLINK(A1,\"x\")",
])
def test_codes_numbers_and_dates_are_quoted(value):
    assert quote(value) == f"'{value}'"


def test_a_known_text_is_a_code_whatever_its_form_and_a_long_one_is_not_shown():
    values = pd.Series(["肌酐", "Not Done", "not done", "x" * 21])
    assert person_like(values, known=["肌酐", "NOT DONE"]).tolist() == [False, False, False, False]
    assert person_like(values).tolist() == [True, True, False, False]
    assert quoted(values).tolist() == [PERSON_LIKE, PERSON_LIKE, "'not done'", TOO_LONG]
    assert quoted(pd.Series(["12.5"]), marks="").item() == "12.5"
    digits = pd.Series(["1234567890123456789012345678901"])     # an identifier's form, and too long
    assert person_like(digits).item() and quoted(digits).item() == TOO_LONG


def test_a_configured_text_is_quoted_and_a_key_is_shown_unless_a_part_has_a_personal_form():
    assert quoted(pd.Series(["溶血", "张伟"]), known={"溶血"}).tolist() == ["'溶血'", PERSON_LIKE]
    keys = pd.Series(["01-007|WEEK0|2024-03-05", "01-007|13800138000"], index=[3, 7])
    assert key_shown(keys).tolist() == ["01-007|WEEK0|2024-03-05", PERSON_LIKE]
