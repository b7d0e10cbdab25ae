"""ADaM of one area: one asset per analysis dataset from one multi-asset, built from the SDTM that
the area's SDTM asset handed over, with spec checks, the define.xml check, and the figures."""
import base64
from graphlib import TopologicalSorter

import dagster as dg

from aclf.ingest import now_iso
from aclf.inputs import built_by, kept, night_inputs, remember
from aclf.registry import data_night
from assets.catalog import column_schema, layer
from assets.resources import AclfResource
from assets.sdtm import sdtm_key, violations_md
from cdisc.area import Area, restricted
from cdisc.package import kept_in_force
from cdisc.publish import publish_adam
from cdisc.spec import Spec

DEFINE_CHECK = "define_xml_valid"


def adam_key(area: Area, name: str) -> dg.AssetKey:
    return dg.AssetKey([*area.key_prefix, "adam", name.lower()])


def _image(path) -> dg.MetadataValue:
    data = base64.b64encode(path.read_bytes()).decode()
    return dg.MetadataValue.md(f"![{path.stem}](data:image/png;base64,{data})")


def _inputs(area: Area, dataset, spec: Spec, sdtm_spec: Spec) -> list[dg.AssetKey]:
    """The SDTM and ADaM datasets the spec says this one is built from (the readable lineage)."""
    return [sdtm_key(area, n) for n in dataset.inputs if n in sdtm_spec.datasets] + \
        [adam_key(area, n) for n in dataset.inputs if n in spec.datasets]


def _in_build_order(spec: Spec, names) -> list[str]:
    """Datasets after their inputs: Dagster wants a multi-asset's outputs in topological order."""
    graph = {n: [i for i in spec.datasets[n].inputs if i in names] for n in names}
    return list(TopologicalSorter(graph).static_order())


def adam_asset(area: Area, spec: Spec, sdtm_spec: Spec, figures_of: dict[str, list[str]]) -> dg.AssetsDefinition:
    """The area's ADaM multi-asset; ``figures_of`` names, per dataset, the figure metadata keys shown
    on it (the KM estimates go with the dataset of the KM figure)."""

    @dg.multi_asset(
        name=f"adam_{area.name}",
        specs=[dg.AssetSpec(adam_key(area, name), kinds={"xpt"}, **layer("adam", area=area.name),
                            deps=_inputs(area, ds, spec, sdtm_spec), metadata=column_schema(ds),
                            description=f"{ds.label}; {ds.structure}.",
                            automation_condition=dg.AutomationCondition.eager())
               for name, ds in spec.datasets.items()],
        check_specs=[dg.AssetCheckSpec("spec", asset=adam_key(area, name), description="the ADaM spec's checks")
                     for name in spec.datasets]
        + [dg.AssetCheckSpec(DEFINE_CHECK, asset=adam_key(area, "ADSL"), description="define.xml validates against the XSD")],
    )
    def adam(context: dg.AssetExecutionContext, aclf: AclfResource):
        """The ADaM package of the area (ADSL, ADLB, ADSCORE, ADTTE, ADAE) as XPT v5 with define.xml, and
        the figures: Kaplan-Meier of transplant-free survival, protocol MELD and bilirubin by visit."""
        yield from _publish(context, aclf, area, figures_of)

    return adam


def _publish(context: dg.AssetExecutionContext, aclf: AclfResource, area: Area, figures_of: dict[str, list[str]]):
    config, engine = aclf.config(), aclf.engine()
    spec = config.spec("adam", area.name)
    folders = aclf.folders(area)
    created, km = now_iso(config.study), config.analysis.figures.km
    step = f"adam_{area.name}"
    inputs = night_inputs(engine, aclf.study_dir) if area.blinded else None   # the unblinded area keeps no store
    summary = kept(engine, step, inputs)
    figures = {k: folders.figures / v for k, v in summary["figures"].items()} if summary is not None else {}
    if summary is not None and all(p.exists() for p in figures.values()) and \
            kept_in_force(folders.root, "adam", folders.adam, summary["records"], created):
        context.log.info("no transfer, configuration or code changed since the ADaM package in force: kept")
        yield from _results(area, spec, km, figures_of, summary["records"], {}, True, figures, summary["rates"], kept=True)
        return
    with restricted(area, folders.root):
        published = publish_adam(area, folders, aclf.output, config.study, config.design, config.analysis, spec,
                                 created, data_night(engine),
                                 reuse_key=built_by(aclf.study_dir) if area.blinded else None)
    records = {name: len(frame) for name, frame in published.datasets.items()}
    if area.blinded:
        remember(engine, step, inputs if published.written else None,
                 {"records": records, "rates": published.rates,
                  "figures": {k: str(p.relative_to(folders.figures)) for k, p in published.figures.items()}})
    yield from _results(area, spec, km, figures_of, records, published.violations, published.written,
                        published.figures, published.rates)
    if not published.written:
        context.log.error(f"ADaM package of the {area.name} area not written: {published.status.reason}")


def _results(area: Area, spec: Spec, km, figures_of: dict[str, list[str]], records: dict[str, int], violations: dict,
             written: bool, figures: dict, rates: dict[str, float], kept: bool = False):
    """The materializations (with the figures and ``km``'s estimates) and check results: built tonight,
    or kept (then written and without violations, as when it was built from the same inputs)."""
    for name in _in_build_order(spec, records):
        meta = {"records": dg.MetadataValue.int(records[name]), "refreshed": written, "kept": kept}
        for key in figures_of.get(name, []):
            meta[key] = _image(figures[key]) if key in figures else "no data"
            if key == km.metadata:
                meta.update({f"{km.paramcd.lower()}_{k.replace(' ', '')}": round(v, 3) for k, v in rates.items()})
        yield dg.MaterializeResult(asset_key=adam_key(area, name), metadata=meta)
        yield dg.AssetCheckResult(asset_key=adam_key(area, name), check_name="spec",
                                  passed=not violations.get(name),
                                  metadata={"violations": violations_md(violations.get(name, []))})
    yield dg.AssetCheckResult(asset_key=adam_key(area, "ADSL"), check_name=DEFINE_CHECK, passed=written)
