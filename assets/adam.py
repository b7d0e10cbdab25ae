"""ADaM (blinded area): one asset per analysis dataset from one multi-asset, with spec checks, the
define.xml check, and the statistician's figures as metadata."""
import base64

import dagster as dg

from aclf.current import forms_in_force
from aclf.ingest import now_iso
from assets.resources import AclfResource
from assets.sdtm import AREA, SPEC as SDTM_SPEC, _key as sdtm_key
from cdisc.adam.build import build_adam
from cdisc.adam.analysis import load_analysis
from cdisc.design import load_design
from cdisc.figures import km_plot, trajectory_plot
from cdisc.package import adam_folder, check_all, write_package
from cdisc.sdtm.build import build_context, build_domains
from cdisc.spec import for_area, load_spec
from aclf.config import DEFAULT_STUDY_DIR
from aclf.harmonized_lab import load_harmonized_lab

SPEC = for_area(load_spec(DEFAULT_STUDY_DIR / "adam"), AREA)
DEFINE_CHECK = "define_xml_valid"


def _key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["adam", name.lower()])


def _image(path) -> dg.MetadataValue:
    data = base64.b64encode(path.read_bytes()).decode()
    return dg.MetadataValue.md(f"![{path.stem}](data:image/png;base64,{data})")


@dg.multi_asset(
    specs=[dg.AssetSpec(_key(name), group_name="adam", kinds={"xpt"},
                        deps=[sdtm_key(n) for n in SDTM_SPEC.datasets],
                        description=f"{ds.label}; {ds.structure}.",
                        automation_condition=dg.AutomationCondition.eager())
           for name, ds in SPEC.datasets.items()],
    check_specs=[dg.AssetCheckSpec("spec", asset=_key(name), description="the ADaM spec's checks")
                 for name in SPEC.datasets]
    + [dg.AssetCheckSpec(DEFINE_CHECK, asset=_key("ADSL"), description="define.xml validates against the XSD")],
)
def adam_blinded(context: dg.AssetExecutionContext, aclf: AclfResource):
    """The blinded ADaM package (ADSL, ADLB, ADSCORE, ADTTE, ADAE) as XPT v5 with define.xml, and the
    figures: Kaplan-Meier of transplant-free survival (overall), protocol MELD and bilirubin by visit."""
    study, engine = aclf.study(), aclf.engine()
    forms = forms_in_force(engine, study)
    ctx = build_context(study, load_design(), forms, blinded=True)
    sdtm, _ = build_domains(ctx, SDTM_SPEC, load_harmonized_lab(engine))
    analysis = load_analysis()
    datasets, full = build_adam(sdtm, ctx.forms, study, analysis, SPEC)   # dates made submittable
    violations = check_all(datasets, SPEC)
    folder = adam_folder(aclf.output, AREA, study.study.studyid)
    written = write_package(datasets, SPEC, folder, now_iso(study)) if not any(violations.values()) else {}
    figures = aclf.output / AREA / "figures"
    tfs = full["ADTTE"][full["ADTTE"]["PARAMCD"] == "TFS"].dropna(subset=["AVAL"])
    plots = {"km_tfs": figures / "km_transplant_free_survival.png",
             "meld": figures / "meld_protocol_by_visit.png", "bili": figures / "bilirubin_by_visit.png"}
    rates = km_plot(tfs, plots["km_tfs"], "Transplant-free survival (all randomized, blinded)") if len(tfs) else {}
    trajectory_plot(full["ADSCORE"], "MELDPROT", plots["meld"], "Protocol MELD by analysis visit", "")
    trajectory_plot(full["ADLB"], "BILI", plots["bili"], "Total bilirubin by analysis visit", "mg/dL")
    for name, frame in datasets.items():
        meta = {"records": dg.MetadataValue.int(len(frame))}
        if name == "ADTTE":
            meta["km_transplant_free_survival"] = _image(plots["km_tfs"]) if rates else "no data"
            meta.update({f"tfs_{k.replace(' ', '')}": round(v, 3) for k, v in rates.items()})
        if name == "ADSCORE":
            meta["meld_by_visit"] = _image(plots["meld"])
        if name == "ADLB":
            meta["bilirubin_by_visit"] = _image(plots["bili"])
        yield dg.MaterializeResult(asset_key=_key(name), metadata=meta)
        problems = violations[name]
        yield dg.AssetCheckResult(asset_key=_key(name), check_name="spec", passed=not problems,
                                  metadata={"violations": dg.MetadataValue.md(
                                      "\n".join(f"- {v.rule}: {v.message}" for v in problems[:50]) or "none")})
    yield dg.AssetCheckResult(asset_key=_key("ADSL"), check_name=DEFINE_CHECK, passed=bool(written))
