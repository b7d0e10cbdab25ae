"""Interventions and events: EC (blinded exposure), PR (liver transplantation), AE, MH, DS."""
from __future__ import annotations

import numpy as np
import pandas as pd

from cdisc.sdtm.common import Context, date_part, epoch, lineage, sequence, study_day, visit_columns
from cdisc.sdtm.clinical import assessed_events, not_done
from cdisc.sdtm.ex import dose_forms, infusion_products, product_names
from cdisc.sdtm.special import screen_failed
from validation.rules_coding import submittable_aes


def _subject_frame(ctx: Context, domain: str, subjid: pd.Series, source: pd.DataFrame, **columns) -> pd.DataFrame:
    """A domain's rows for the given subjects, with the lineage of the source rows they come from."""
    return pd.DataFrame({"STUDYID": ctx.studyid, "DOMAIN": domain, "USUBJID": ctx.usubjid(subjid), **columns,
                         **lineage(source)})


def build_ec(ctx: Context) -> pd.DataFrame:
    """Infusions as collected. Blinded: the product and its dose form masked, the stage-2 (week 4-5)
    infusions withheld, since only hUC-MSC patients of stage 1 have them, and so are the kit numbers
    (ECREFID): kits come from one sequential list, so the gaps the stage-2 kits leave between
    patients' stage-1 kits date each stage-2 randomization and point at the patient. Unblinded: the
    product of each stage and its dose form."""
    inf = ctx.forms["infusion"]
    if ctx.blinded:
        inf = inf[~ctx.stage2("infusion")]
    inf = inf.reset_index(drop=True)
    codes = None if ctx.blinded else infusion_products(ctx, inf)
    treatment = ctx.design.blinding.treatment if ctx.blinded else product_names(ctx, codes)
    form = ctx.design.blinding.dose_form if ctx.blinded else dose_forms(ctx, codes)
    rfstdtc = inf["SUBJID"].map(ctx.reference["RFSTDTC"])
    done = inf["DONE"] == "Y"
    frame = _subject_frame(
        ctx, "EC", inf["SUBJID"], inf, ECREFID=inf["KIT_NO"], ECTRT=treatment, ECMOOD="PERFORMED",
        ECPRESP="Y", ECOCCUR=inf["DONE"],       # every infusion is planned: ECOCCUR answers a pre-specified question
        ECREASOC=inf["NOT_DONE_REASON"].where(~done, ""),
        ECDOSE=pd.to_numeric(inf["VOLUME_ML"], errors="coerce"),
        ECDOSU=np.where(inf["VOLUME_ML"] != "", ctx.design.dose_unit, ""),
        ECDOSFRM=np.where(done, form, ""), ECROUTE=np.where(done, ctx.design.route, ""),
        **visit_columns(inf["VISIT"], inf["INF_START"], inf["SUBJID"], ctx),
        EPOCH=epoch(inf["INF_START"], inf["SUBJID"], ctx), ECSTDTC=inf["INF_START"], ECENDTC=inf["INF_END"],
        ECSTDY=study_day(inf["INF_START"], rfstdtc), ECENDY=study_day(inf["INF_END"], rfstdtc))
    return sequence(frame, "EC", ["USUBJID", "VISITNUM", "ECSTDTC"])


def build_pr(ctx: Context) -> pd.DataFrame:
    """Liver transplantation (outcome form) and, at every clinical assessment, whether the patient was
    dialysed at least twice in the week before (pre-specified; PRSTAT NOT DONE where not answered;
    the MELD scores' creatinine rule)."""
    events = ctx.forms["outcome_events"]
    tx = events[events["EVENT"] == "LIVER TRANSPLANT"].reset_index(drop=True)
    q = ctx.design.dialysis
    dialysis = assessed_events(ctx, {q.column: q.term})
    visits = visit_columns(dialysis["VISIT_CODE"], dialysis["DTC"], dialysis["SUBJID"], ctx)
    rows = pd.concat([
        pd.DataFrame({"SUBJID": tx["SUBJID"], "PRTRT": "LIVER TRANSPLANTATION", "PRCAT": "", "PRPRESP": "",
                      "PROCCUR": "", "PRSTAT": "", "VISITNUM": np.nan, "VISIT": "", "PRDTC": "",
                      "PRSTDTC": tx["EVENT_DATE"], "PREVLINT": "", **lineage(tx)}),
        pd.DataFrame({"SUBJID": dialysis["SUBJID"], "PRTRT": q.term, "PRCAT": q.category, "PRPRESP": "Y",
                      "PROCCUR": dialysis["occur"], "PRSTAT": not_done(dialysis["occur"]), **visits,
                      "PRDTC": dialysis["DTC"], "PRSTDTC": "", "PREVLINT": q.interval, **lineage(dialysis)}),
    ], ignore_index=True)
    rfstdtc = rows["SUBJID"].map(ctx.reference["RFSTDTC"])
    when = rows["PRSTDTC"].where(rows["PRSTDTC"] != "", rows["PRDTC"])
    frame = _subject_frame(ctx, "PR", rows["SUBJID"], rows, **{c: rows[c] for c in (
        "PRTRT", "PRCAT", "PRPRESP", "PROCCUR", "PRSTAT", "VISITNUM", "VISIT", "PRDTC", "PRSTDTC", "PREVLINT")},
        EPOCH=epoch(when, rows["SUBJID"], ctx), PRDY=study_day(rows["PRDTC"], rfstdtc),
        PRSTDY=study_day(rows["PRSTDTC"], rfstdtc))
    return sequence(frame, "PR", ["USUBJID", "PRTRT", "PRSTDTC", "PRDTC"])


def blinded_action(ae: pd.DataFrame, ctx: Context) -> pd.Series:
    """AEACN as the blinded area shows it: kept for an AE that starts (full date) on or before the
    subject's last stage-1 infusion, blank for every other AE of every subject. After stage 1 only
    the re-randomized (all hUC-MSC in stage 1) have infusions ahead, so any action other than NOT
    APPLICABLE would reveal the stage-1 arm; blanking all of them, whatever the value, leaves the
    arms nothing to differ in. The unblinded area keeps the value as collected."""
    last = date_part(ae["SUBJID"].map(ctx.reference["RFXENDTC"]))     # blinded: stage-2 visits ignored
    return ae["AEACN"].where(date_part(ae["AESTDTC"]) <= last, "")


# MedDRA's levels and codes that the EDC's coding export does not carry (the spec's COM.MEDDRA): empty
MEDDRA_NOT_TRANSFERRED = {**dict.fromkeys(["AELLT", "AEHLT", "AEHLGT"], ""),
                          **dict.fromkeys(["AELLTCD", "AEPTCD", "AEHLTCD", "AEHLGTCD", "AEBDSYCD", "AESOCCD"], np.nan)}


def build_ae(ctx: Context) -> pd.DataFrame:
    ae = ctx.forms["adverse_events"]
    ae = ae[submittable_aes(ae)].reset_index(drop=True)   # the others are findings (validation)
    rfstdtc = ae["SUBJID"].map(ctx.reference["RFSTDTC"])
    frame = _subject_frame(
        ctx, "AE", ae["SUBJID"], ae, AESPID=ae["AESPID"], AETERM=ae["AETERM_EN"], AEDECOD=ae["AEDECOD"],
        AEBODSYS=ae["AEBODSYS"], AESOC=ae["AEBODSYS"], **MEDDRA_NOT_TRANSFERRED, AESER=ae["AESER"],
        AESDTH=np.select([ae["AEOUT"] == "FATAL", (ae["AESER"] == "Y") & (ae["AEOUT"] != "")], ["Y", "N"], ""),
        AEACN=blinded_action(ae, ctx) if ctx.blinded else ae["AEACN"], AEREL=ae["AEREL"], AEOUT=ae["AEOUT"],
        AETOXGR=ae["AETOXGR"], EPOCH=epoch(ae["AESTDTC"], ae["SUBJID"], ctx, event=True), AESTDTC=ae["AESTDTC"],
        AEENDTC=ae["AEENDTC"], AESTDY=study_day(ae["AESTDTC"], rfstdtc), AEENDY=study_day(ae["AEENDTC"], rfstdtc))
    return sequence(frame, "AE", ["USUBJID", "AEDECOD", "AESTDTC", "AESPID"])


def build_mh(ctx: Context) -> pd.DataFrame:
    """Per subject: the etiology of the chronic liver disease, cirrhosis (pre-specified: MHSTAT NOT DONE
    when the form has no Y/N answer), ACLF onset."""
    mh = ctx.forms["medical_history"].reset_index(drop=True)
    terms = ctx.design.etiology_terms
    known = mh[mh["ETIOLOGY"].fillna("") != ""]      # no etiology (a finding if not a code): no record yet
    parts = [
        pd.DataFrame({"SUBJID": known["SUBJID"], "MHTERM": known["ETIOLOGY"].map(terms).fillna(known["ETIOLOGY"]),
                      "MHCAT": ctx.design.etiology_category, "MHPRESP": "", "MHOCCUR": "", "MHSTDTC": ""}),
        pd.DataFrame({"SUBJID": mh["SUBJID"], "MHTERM": "CIRRHOSIS", "MHCAT": "CHRONIC LIVER DISEASE",
                      "MHPRESP": "Y", "MHOCCUR": mh["CIRRHOSIS"], "MHSTDTC": "",
                      "MHSTAT": not_done(mh["CIRRHOSIS"])}),
        pd.DataFrame({"SUBJID": mh["SUBJID"], "MHTERM": "ACUTE-ON-CHRONIC LIVER FAILURE", "MHCAT": "ACLF",
                      "MHPRESP": "", "MHOCCUR": "", "MHSTDTC": mh["ACLF_ONSET_DATE"]}),
    ]
    rows = pd.concat([p.assign(**lineage(mh.loc[p.index])) for p in parts], ignore_index=True)
    frame = _subject_frame(ctx, "MH", rows["SUBJID"], rows, MHTERM=rows["MHTERM"], MHCAT=rows["MHCAT"],
                           MHPRESP=rows["MHPRESP"], MHOCCUR=rows["MHOCCUR"], MHSTAT=rows["MHSTAT"].fillna(""),
                           MHSTDTC=rows["MHSTDTC"],
                           MHSTDY=study_day(rows["MHSTDTC"], rows["SUBJID"].map(ctx.reference["RFSTDTC"])))
    return sequence(frame, "MH", ["USUBJID", "MHCAT", "MHTERM"])


def build_ds(ctx: Context) -> pd.DataFrame:
    """Consent and stage-1 randomization (milestones), screen failure or end of study (disposition).
    Blinded: the stage-2 randomization is not shown (it reveals the stage-1 assignment)."""
    enrol, eos, iwrs = ctx.forms["enrollment"], ctx.forms["end_of_study"], ctx.forms["randomization"]
    stages = ["1"] if ctx.blinded else ["1", "2"]
    rand = iwrs[iwrs["STAGE"].isin(stages)]
    failed = enrol[screen_failed(ctx)]
    rows = pd.concat([
        pd.DataFrame({"SUBJID": enrol["SUBJID"], "DSTERM": "INFORMED CONSENT OBTAINED",
                      "DSDECOD": "INFORMED CONSENT OBTAINED", "DSCAT": "PROTOCOL MILESTONE", "DSSCAT": "",
                      "DSSTDTC": enrol["CONSENT_DATE"], **lineage(enrol)}),
        pd.DataFrame({"SUBJID": rand["SUBJID"], "DSTERM": "RANDOMIZED", "DSDECOD": "RANDOMIZED",
                      "DSCAT": "PROTOCOL MILESTONE", "DSSCAT": "STAGE " + rand["STAGE"], "DSSTDTC": rand["RAND_DTM"],
                      **lineage(rand)}),
        pd.DataFrame({"SUBJID": failed["SUBJID"], "DSTERM": failed["SCREEN_FAIL_REASON"].where(
                          failed["SCREEN_FAIL_REASON"] != "", "SCREEN FAILURE"),
                      "DSDECOD": "SCREEN FAILURE", "DSCAT": "DISPOSITION EVENT", "DSSCAT": "",
                      "DSSTDTC": failed["SCREEN_DATE"], **lineage(failed)}),
        pd.DataFrame({"SUBJID": eos["SUBJID"], "DSTERM": eos["STATUS"], "DSDECOD": eos["STATUS"],
                      "DSCAT": "DISPOSITION EVENT", "DSSCAT": "", "DSSTDTC": eos["END_DATE"], **lineage(eos)}),
    ], ignore_index=True)
    frame = _subject_frame(ctx, "DS", rows["SUBJID"], rows, DSTERM=rows["DSTERM"], DSDECOD=rows["DSDECOD"],
                           DSCAT=rows["DSCAT"], DSSCAT=rows["DSSCAT"], EPOCH=epoch(rows["DSSTDTC"], rows["SUBJID"], ctx),
                           DSSTDTC=rows["DSSTDTC"],
                           DSSTDY=study_day(rows["DSSTDTC"], rows["SUBJID"].map(ctx.reference["RFSTDTC"])))
    return sequence(frame, "DS", ["USUBJID", "DSSTDTC", "DSDECOD"])
