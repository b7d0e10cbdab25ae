"""ADaM of one area: one asset per analysis dataset from one multi-asset, built from the SDTM that
the area's SDTM asset handed over, with spec checks, the define.xml check, and the figures."""
import base64
from graphlib import TopologicalSorter

import dagster as dg

from aclf.ingest import now_iso
from aclf.registry import data_night
from assets.catalog import column_schema, layer
from assets.resources import AclfResource
from assets.sdtm import sdtm_key, violations_md
from cdisc.area import Area, restricted
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
    config = aclf.config()
    spec = config.spec("adam", area.name)
    folders = aclf.folders(area)
    with restricted(area, folders.root):
        published = publish_adam(area, folders, aclf.output, config.study, config.design, config.analysis, spec,
                                 now_iso(config.study), data_night(aclf.engine()))
    km = config.analysis.figures.km
    for name in _in_build_order(spec, published.datasets):
        frame = published.datasets[name]
        meta = {"records": dg.MetadataValue.int(len(frame)), "refreshed": published.written}
        for key in figures_of.get(name, []):
            meta[key] = _image(published.figures[key]) if key in published.figures else "no data"
            if key == km.metadata:
                meta.update({f"{km.paramcd.lower()}_{k.replace(' ', '')}": round(v, 3)
                             for k, v in published.rates.items()})
        yield dg.MaterializeResult(asset_key=adam_key(area, name), metadata=meta)
        yield dg.AssetCheckResult(asset_key=adam_key(area, name), check_name="spec",
                                  passed=not published.violations[name],
                                  metadata={"violations": violations_md(published, name)})
    yield dg.AssetCheckResult(asset_key=adam_key(area, "ADSL"), check_name=DEFINE_CHECK, passed=published.written)
    if not published.written:
        context.log.error(f"ADaM package of the {area.name} area not written: {published.status.reason}")
