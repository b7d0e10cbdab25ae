"""SDTM of one area: one asset per domain from one multi-asset, since every domain shares the same
inputs and the define.xml that describes them all. Each dataset's spec check is a blocking asset
check: a package that breaks its spec is not written, and the ADaM of the area is not built from it."""
from contextlib import nullcontext

import dagster as dg

from aclf.current import form_sources, forms_in_force
from aclf.harmonized_lab import let_go, load_harmonized_lab
from aclf.ingest import now_iso
from aclf.inputs import kept, night_inputs, remember
from aclf.pending import Pending
from aclf.registry import data_night
from assets.harmonized import harmonized_lab
from assets.catalog import column_schema, layer
from assets.resources import AclfResource
from cdisc.area import Area, restricted
from cdisc.package import kept_in_force
from cdisc.publish import publish_sdtm
from cdisc.sdtm.trace import write_trace
from cdisc.spec import Spec
from validation.findings import open_findings

DEFINE_CHECK = "define_xml_valid"
IE_CHECK = "screen_failure_reasons_mapped"
SPEC_CHECK = "spec"


def sdtm_key(area: Area, name: str) -> dg.AssetKey:
    return dg.AssetKey([*area.key_prefix, "sdtm", name.lower()])


def define_holder(names) -> str:
    """The dataset whose asset carries the define.xml check: DM, else the first of the package."""
    names = list(names)
    return "DM" if "DM" in names else names[0]


def violations_md(problems: list) -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(f"- {v.rule}: {v.message}" for v in problems[:50]) or "none")


def sdtm_asset(area: Area, spec: Spec) -> dg.AssetsDefinition:
    """The area's SDTM multi-asset: a dataset per asset, spec checks that block ADaM, define.xml check."""
    @dg.multi_asset(
        name=f"sdtm_{area.name}",
        specs=[dg.AssetSpec(sdtm_key(area, name), kinds={"xpt"}, **layer("sdtm", area=area.name),
                            deps=[harmonized_lab, dg.AssetKey("findings")], metadata=column_schema(ds),
                            description=f"{ds.label} ({ds.class_}); {ds.structure}.",
                            automation_condition=dg.AutomationCondition.eager())
               for name, ds in spec.datasets.items()],
        check_specs=[dg.AssetCheckSpec(SPEC_CHECK, asset=sdtm_key(area, name), blocking=True,
                                       description="names, labels, lengths, ASCII, types, required variables, keys")
                     for name in spec.datasets]
        + [dg.AssetCheckSpec(DEFINE_CHECK, asset=sdtm_key(area, define_holder(spec.datasets)),
                             description="define.xml validates against the XSD")]
        + ([dg.AssetCheckSpec(IE_CHECK, asset=sdtm_key(area, "IE"),
                              description="every screen failure's EDC reason maps to a criterion (trial_design.yaml ie)")]
           if "IE" in spec.datasets else []),
    )
    def sdtm(context: dg.AssetExecutionContext, aclf: AclfResource):
        """The SDTM package of the area: every domain as SAS transport v5 and define.xml 2.1 in the
        submission layout; in the blinded area nothing from which an assignment could be read."""
        try:
            yield from _publish(context, aclf, area)
        finally:
            let_go()      # SDTM is the harmonized table's last reader in a night

    return sdtm


def _publish(context: dg.AssetExecutionContext, aclf: AclfResource, area: Area):
    config, engine = aclf.config(), aclf.engine()
    study = config.study
    spec = config.spec("sdtm", area.name)
    folders = aclf.folders(area)
    created = now_iso(study)
    step = f"sdtm_{area.name}"
    inputs = night_inputs(engine, aclf.study_dir) if area.blinded else None   # the unblinded area keeps no store
    forms_key = night_inputs(engine, aclf.study_dir, form_sources(study)) if area.blinded else None
    summary = kept(engine, step, inputs)
    if summary is not None and folders.handoff.exists() and \
            kept_in_force(folders.root, "sdtm", folders.sdtm, summary["records"], created):
        context.log.info("no transfer, configuration or code changed since the SDTM package in force: kept")
        yield from _results(area, folders, summary["records"], {}, {}, True, summary["unmapped"], kept=True)
        return
    level = aclf.unblinding().level if not area.blinded else "blinded"
    key = aclf.randomization_key() if not area.blinded else None
    # the blinded area's trace is written beside the package, its transaction open (on SQLite, the
    # store's write lock held) until the package is written: other runs wait for the run lock instead
    with aclf.locked() if area.blinded else nullcontext(), restricted(area, folders.root):
        published = publish_sdtm(area, folders, aclf.output, study, config.design, spec,
                                 forms_in_force(engine, study, aclf.mirror(), aclf.study_dir),
                                 lambda: load_harmonized_lab(engine, aclf.mirror(), take=True),
                                 created, level=level, key=key, data_cut=data_night(engine),
                                 eligibility=open_findings(engine, "eligibility"), forms_key=forms_key,
                                 store_trace=_trace_writer(engine, area) if area.blinded else None,
                                 acrf=config.acrf)
    records = {name: len(frame) for name, frame in published.datasets.items()}
    if area.blinded:
        remember(engine, step, inputs if published.written else None,
                 {"records": records, "unmapped": published.unmapped_screen_failures})
    yield from _results(area, folders, records, published.paths, published.violations, published.written,
                        published.unmapped_screen_failures)
    if not published.written:
        context.log.error(f"SDTM package of the {area.name} area not written: {published.status.reason}")


def _trace_writer(engine, area: Area):
    """The blinded area's trace, written to the store while the package is checked and written (the
    unblinded area's trace stays in its hand-off)."""
    return lambda trace, keys: Pending(engine, lambda conn, trace=trace.copy(deep=False): write_trace(
        conn, area.name, trace, keys))


def _results(area: Area, folders, records: dict[str, int], paths: dict, violations: dict, written: bool,
             unmapped: list[str], kept: bool = False):
    """The materializations and check results of the package: built tonight, or kept (then written and
    without violations, as it was when built from the same inputs)."""
    for name, count in records.items():
        yield dg.MaterializeResult(
            asset_key=sdtm_key(area, name),
            metadata={"records": dg.MetadataValue.int(count),
                      "path": dg.MetadataValue.path(str(paths.get(name, folders.sdtm / f"{name.lower()}.xpt"))),
                      "refreshed": written, "kept": kept})
        problems = violations.get(name, [])
        yield dg.AssetCheckResult(asset_key=sdtm_key(area, name), check_name=SPEC_CHECK, passed=not problems,
                                  metadata={"violations": dg.MetadataValue.int(len(problems)),
                                            "details": violations_md(problems)})
    yield dg.AssetCheckResult(asset_key=sdtm_key(area, define_holder(records)), check_name=DEFINE_CHECK,
                              passed=written, metadata={"define": dg.MetadataValue.path(str(folders.sdtm / "define.xml"))})
    if "IE" in records:
        yield dg.AssetCheckResult(   # a warning: the subject is in DS; IE needs the reason mapped
            asset_key=sdtm_key(area, "IE"), check_name=IE_CHECK, passed=not unmapped,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"subjects": dg.MetadataValue.int(len(unmapped)),
                      "subjids": dg.MetadataValue.text(", ".join(unmapped[:50]) or "none")})
