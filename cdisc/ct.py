"""The pinned CDISC controlled terminology: the subset of one SDTM CT release that the study uses
(``study/ct/sdtm_ct.yaml``), the check of a spec's codelists against it, and the NCI codes it fills in.

A spec codelist that names an NCI code is a CDISC codelist: its terms must be in that codelist of the
pinned release, or be declared ``extended: true`` in an extensible one (Define-XML's
def:ExtendedValue). The NCI codes of terms come from here, so the spec does not repeat them.
CORE/Pinnacle 21 equivalents: CT2001 (value not in a non-extensible codelist), CT2002 (extensible).
"""
from __future__ import annotations

import lzma
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from aclf.config import ConfigError, DEFAULT_STUDY_DIR, safe_load

DEFAULT_CT_FILE = DEFAULT_STUDY_DIR / "ct" / "sdtm_ct.yaml"


@dataclass(frozen=True)
class CtCodelist:
    nci: str
    name: str
    submission_value: str
    extensible: bool
    terms: dict[str, str]            # submission value -> NCI code of the term


@dataclass(frozen=True)
class Terminology:
    release: str                     # the release date, e.g. 2025-03-28
    codelists: dict[str, CtCodelist]


def load_ct(path: str | Path = DEFAULT_CT_FILE) -> Terminology:
    path = Path(path)
    try:
        raw = safe_load(path.read_text(encoding="utf-8"))
        return Terminology(release=str(raw["release"]), codelists={
            code: CtCodelist(nci=code, name=c["name"], submission_value=c["submission_value"],
                             extensible=bool(c["extensible"]), terms=dict(c.get("terms") or {}))
            for code, c in raw["codelists"].items()})
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: cannot read the pinned controlled terminology: {exc}") from None


def check_codelists(codelists, ct: Terminology) -> list[str]:
    """Every departure of the spec's CDISC codelists from the pinned release, in words."""
    problems = []
    for cl in codelists:
        if not cl.nci:
            continue
        ref = ct.codelists.get(cl.nci)
        if ref is None:
            problems.append(f"{cl.id}: codelist {cl.nci} is not in the pinned CT release {ct.release}")
            continue
        if cl.extensible != ref.extensible:
            problems.append(f"{cl.id}: extensible is {cl.extensible} but {ref.extensible} in CT {ct.release}")
        for term in cl.terms:
            code = ref.terms.get(term.value)
            if code is None and not term.extended:
                problems.append(f"{cl.id}: term {term.value!r} is not in codelist {cl.nci} ({ref.name}) of "
                                f"CT {ct.release} and is not declared an extension")
            elif code is None and not ref.extensible:
                problems.append(f"{cl.id}: extension {term.value!r} of non-extensible codelist {cl.nci}")
            elif code is not None and term.extended:
                problems.append(f"{cl.id}: {term.value!r} is declared an extension but is {code} in CT {ct.release}")
            elif code is not None and term.nci and term.nci != code:
                problems.append(f"{cl.id}: {term.value!r} has NCI code {term.nci}, CT {ct.release} says {code}")
    return problems


def with_ct_codes(codelists: dict, ct: Terminology) -> dict:
    """The codelists with each CDISC term's NCI code filled in from the pinned release."""
    out = {}
    for key, cl in codelists.items():
        ref = ct.codelists.get(cl.nci) if cl.nci else None
        if ref is not None:
            cl = cl.model_copy(update={"terms": [
                t.model_copy(update={"nci": ref.terms.get(t.value, t.nci)}) for t in cl.terms]})
        out[key] = cl
    return out


def subset(source: Path, specs) -> dict:
    """The part of CDISC's full terminology file that the specs use: their CDISC codelists and, of
    each, only the terms they list (what ``study/ct/sdtm_ct.yaml`` ships)."""
    import pandas as pd          # only the pinning tool needs it

    full = pd.read_csv(lzma.open(source), sep="\t", dtype=str, keep_default_na=False)
    heads = full[full["Codelist Code"] == ""].set_index("Code")
    used: dict[str, set[str]] = {}
    for spec in specs:
        for cl in spec.codelists.values():
            if cl.nci:
                used.setdefault(cl.nci, set()).update(t.value for t in cl.terms)
    codelists = {}
    for code in sorted(used):
        if code not in heads.index:
            continue
        terms = full[(full["Codelist Code"] == code) & full["CDISC Submission Value"].isin(used[code])]
        codelists[code] = {
            "name": heads.at[code, "Codelist Name"],
            "submission_value": heads.at[code, "CDISC Submission Value"],
            "extensible": heads.at[code, "Codelist Extensible (Yes/No)"] == "Yes",
            "terms": dict(sorted(zip(terms["CDISC Submission Value"], terms["Code"])))}
    return codelists


def main(argv: list[str] | None = None) -> int:
    """``python -m cdisc.ct <SDTM Terminology.txt.xz> <release date>``: re-pin study/ct/sdtm_ct.yaml."""
    from cdisc.spec import load_spec

    source, release = (argv or sys.argv[1:])[:2]
    specs = [load_spec(DEFAULT_STUDY_DIR / d, check_ct=False) for d in ("sdtm", "adam")]
    body = {"release": release,
            "source": f"CDISC SDTM Controlled Terminology {release} (NCI EVS 'SDTM Terminology.txt'); "
                      "only the codelists and terms the study's specs use",
            "codelists": subset(Path(source), specs)}
    DEFAULT_CT_FILE.parent.mkdir(exist_ok=True)
    DEFAULT_CT_FILE.write_text("# Generated by `python -m cdisc.ct`; do not edit by hand.\n"
                               + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=120),
                               encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
