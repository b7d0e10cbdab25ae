"""SDTM (blinded area): one asset per domain from one multi-asset, since every domain shares the same
inputs and the define.xml that describes them all. Each dataset's spec check is an asset check."""
import dagster as dg

from aclf.current import forms_in_force
from aclf.ingest import now_iso
from assets.harmonized import harmonized_lab
from assets.resources import AclfResource
from assets.validation import findings
from cdisc.design import load_design
from cdisc.package import check_all, sdtm_folder, write_package
from cdisc.sdtm.build import build_context, build_domains
from cdisc.spec import load_spec
from aclf.harmonized_lab import load_harmonized_lab
from cdisc.sdtm.trace import save_trace

SPEC = load_spec()
AREA = "blinded"
DEFINE_CHECK = "define_xml_valid"


def _key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["sdtm", name.lower()])


@dg.multi_asset(
    specs=[dg.AssetSpec(_key(name), group_name="sdtm", kinds={"xpt"}, deps=[harmonized_lab, findings],
                        description=f"{ds.label} ({ds.class_}); {ds.structure}.",
                        automation_condition=dg.AutomationCondition.eager())
           for name, ds in SPEC.datasets.items()],
    check_specs=[dg.AssetCheckSpec("spec", asset=_key(name),
                                   description="names, labels, lengths, ASCII, types, required variables, keys")
                 for name in SPEC.datasets]
    + [dg.AssetCheckSpec(DEFINE_CHECK, asset=_key("DM"), description="define.xml validates against the XSD")],
)
def sdtm_blinded(context: dg.AssetExecutionContext, aclf: AclfResource):
    """The blinded SDTM package: every domain as SAS transport v5 and define.xml 2.1 in the
    submission layout; nothing from which a patient's assignment could be read."""
    study, engine = aclf.study(), aclf.engine()
    ctx = build_context(study, load_design(), forms_in_force(engine, study), blinded=True)
    lab = load_harmonized_lab(engine)
    datasets, trace = build_domains(ctx, SPEC, lab)
    violations = check_all(datasets, SPEC)
    folder = sdtm_folder(aclf.output, AREA, study.study.studyid)
    value_level = {"LB": {code: {"unit": t.standard_unit, "label": t.name} for code, t in study.lab.tests.items()}}
    written = {}
    if not any(violations.values()):
        written = write_package(datasets, SPEC, folder, now_iso(study), value_level)
        save_trace(engine, AREA, trace)
    for name, frame in datasets.items():
        problems = violations[name]
        yield dg.MaterializeResult(
            asset_key=_key(name),
            metadata={"records": dg.MetadataValue.int(len(frame)),
                      "path": dg.MetadataValue.path(str(written.get(name, folder / f"{name.lower()}.xpt")))})
        yield dg.AssetCheckResult(
            asset_key=_key(name), check_name="spec", passed=not problems,
            metadata={"violations": dg.MetadataValue.int(len(problems)),
                      "details": dg.MetadataValue.md("\n".join(f"- {v.rule}: {v.message}" for v in problems[:50])
                                                     or "none")})
    yield dg.AssetCheckResult(asset_key=_key("DM"), check_name=DEFINE_CHECK, passed=bool(written),
                              metadata={"define": dg.MetadataValue.path(str(folder / "define.xml"))})
    if not written:
        bad = {n: len(v) for n, v in violations.items() if v}
        context.log.error(f"SDTM package not written: spec violations {bad}")
