"""Which values a reason, note or finding may quote: a code-like text is shown, anything that could
identify a person is described instead (the finding's file, row and column still lead to it)."""
from __future__ import annotations

import re
from collections.abc import Collection

import pandas as pd

# characters of a code-like cell (a unit, a visit label, a result text): a longer one is not such a
# code, and may hold anything
SHOWN_UP_TO = 20
# a subject column is where a site types another identifier by mistake (a record number, a name):
# a reason about it names the column and the expected form, never the value
UNSHOWN_SUBJECT = "the value is not shown: a subject column may hold another identifier"

# The forms of the personal data the DTS lists, wherever a site types them by mistake:
# - seven or more digits in a row (not a number's decimals: 17.299999999999997 is a float a workbook
#   computed), or a phone's groups of digits split by spaces or hyphens: a phone, an ID card or
#   hospital record number (no lab result or code of this study has as many; an ISO date's groups
#   are shorter);
# - two to four Han characters alone: a Chinese name;
# - two or three capitalised words: a romanised name ("Wang Fang", "Zhang, Wei").
# A one-word name cannot be told from a code by its form, so it is still shown: docs/sources.md.
_IDENTIFIER = re.compile(r"(?<![.0-9])[0-9]{7,}|[0-9]{3,4}[ -][0-9]{3,4}[ -][0-9]{4}")
_HAN_NAME = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff·]{2,4}")
_ROMAN_NAME = re.compile(r"[A-Z][A-Za-z'-]+(?:,? [A-Z][A-Za-z'-]+){1,2}")

TOO_LONG = "(not shown: too long to be a code)"
PERSON_LIKE = "(not shown: it has the form of a name or an identifier)"


def person_like(values: pd.Series, known: Collection[str] = ()) -> pd.Series:
    """True where a value has the form of a name or an identifier the DTS lists as personal, unless
    the configuration knows it, in any case (a site's Chinese test name or visit label is a code)."""
    text = values.astype(str)
    shaped = text.str.contains(_IDENTIFIER) | text.str.fullmatch(_HAN_NAME) | text.str.fullmatch(_ROMAN_NAME)
    return (shaped.astype(bool) | (text == PERSON_LIKE)) & ~text.str.casefold().isin({k.casefold() for k in known})


def is_person_like(value: object) -> bool:
    """``person_like`` of one value."""
    return bool(person_like(pd.Series([value], dtype=object)).item())


def quoted(values: pd.Series, marks: str = "'", known: Collection[str] = (),
           up_to: int | None = SHOWN_UP_TO) -> pd.Series:
    """Each value between ``marks``, or in parentheses why it is not shown (``known``: configured
    texts, shown whatever their form; ``up_to``: the longest shown, None for clinical free text)."""
    text = values.astype(str)
    said = marks + text + marks
    said = said.mask(person_like(text, known), PERSON_LIKE)
    return said if up_to is None else said.mask((text.str.len() > up_to) & (text != PERSON_LIKE), TOO_LONG)


def key_shown(keys: pd.Series, sep: str = "|") -> pd.Series:
    """Record keys (parts joined by ``sep``) as they are, or described when a part has a personal form."""
    parts = keys.astype(str).str.split(sep, regex=False).explode()
    hidden = person_like(parts).groupby(level=0).any().reindex(keys.index, fill_value=False)
    return keys.astype(str).mask(hidden, PERSON_LIKE)


def shown_as_data(value: str) -> str:
    """A dataset's value in a check's message: as it is, of any length (a coded or clinical text the
    pipeline wrote), unless it has a personal form (a source value that reached the dataset)."""
    return PERSON_LIKE if is_person_like(value) else repr(value)


def quote(value: object) -> str:
    """One value, as `quoted` would give it."""
    return quoted(pd.Series([value], dtype=object)).iloc[0]
