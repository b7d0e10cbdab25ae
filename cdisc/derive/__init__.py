"""Generic ADaM derivations in the spirit of admiral (pharmaverse), on pandas.

One verb per concept, named after its admiral counterpart; every study fact (visit rules and
windows, baseline rules and types, periods, event definitions, formulas) is a parameter, so the
study configuration decides them. Write ``from cdisc import derive; derive.derive_var_base(...)``.

Modules: ``dates`` (ADT/imputation, ADY, durations), ``visits`` (AVISIT/AVISITN), ``flags``
(extreme, ONTRTFL, TRTEMFL), ``baseline`` (ABLFL, BASE), ``change`` (CHG, PCHG), ``ranges``
(ANRIND), ``periods`` (APERIOD), ``parameters`` (derived parameters), ``records`` (summary,
extreme and basetype records), ``tte`` (time to event).

Conventions (admiral's, unless a docstring says otherwise):
- variable verbs (``derive_var*``) return *new* values - a Series for one variable, a DataFrame for
  several - aligned on the input's index; record verbs (``derive_param_*``, ``derive_*_records``)
  return a new frame with the added records; the input is never modified;
- dates are pandas ``datetime64`` values at midnight (``ADT``), date-times keep their time
  (``ADTM``); ISO 8601 text, ``datetime.date`` objects and tz-aware stamps are accepted on input;
- flags are ``"Y"`` or missing (never ``"N"``);
- a condition (``filter=``) is a boolean Series, a column name / ``DataFrame.eval`` expression,
  or a callable taking the frame; a missing condition value counts as false (like dplyr's
  ``filter``);
- "last by order" sorts ascending with missing values last (dplyr ``arrange``) and breaks ties by
  the input row order (dplyr's stable sort), then takes the last row of each by-group; an order
  item written ``"-COL"`` sorts that column descending (missing still last).
"""
from __future__ import annotations

from cdisc.derive._common import Condition, as_date
from cdisc.derive.baseline import derive_var_ablfl, derive_var_base, is_post_baseline
from cdisc.derive.change import derive_var_chg, derive_var_pchg
from cdisc.derive.dates import derive_var_dy, derive_vars_dt, derive_vars_duration
from cdisc.derive.flags import derive_var_extreme_flag, derive_var_ontrtfl, derive_var_trtemfl
from cdisc.derive.parameters import derive_param_computed
from cdisc.derive.periods import derive_var_aperiod
from cdisc.derive.ranges import derive_var_anrind
from cdisc.derive.records import derive_basetype_records, derive_extreme_records, derive_summary_records
from cdisc.derive.tte import CensorSource, EventSource, derive_param_tte
from cdisc.derive.visits import VisitRule, derive_vars_avisit, derive_vars_avisit_window

__all__ = [
    "Condition", "as_date",
    "derive_vars_dt", "derive_var_dy", "derive_vars_duration",
    "VisitRule", "derive_vars_avisit", "derive_vars_avisit_window",
    "derive_var_extreme_flag", "derive_var_ontrtfl", "derive_var_trtemfl",
    "derive_var_ablfl", "derive_var_base", "is_post_baseline",
    "derive_var_chg", "derive_var_pchg",
    "derive_var_anrind",
    "derive_var_aperiod",
    "derive_param_computed",
    "derive_summary_records", "derive_extreme_records", "derive_basetype_records",
    "EventSource", "CensorSource", "derive_param_tte",
]
