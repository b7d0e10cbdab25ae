"""The assets of one output area (SDTM and ADaM), built from the same code for every area."""
import dagster as dg

from assets.adam import adam_asset
from assets.configuration import Configuration
from assets.sdtm import sdtm_asset
from cdisc.area import Area


def area_assets(area: Area, config: Configuration) -> list[dg.AssetsDefinition]:
    """SDTM and ADaM of ``area``, with the specs as that area sees them."""
    figures = config.analysis.figures
    figures_of: dict[str, list[str]] = {}
    for fig in [figures.km, *figures.trajectories] if area.blinded else []:   # by-arm figures: assets/reports.py
        figures_of.setdefault(fig.dataset, []).append(fig.metadata)
    sdtm_spec = config.spec("sdtm", area.name)
    return [sdtm_asset(area, sdtm_spec), adam_asset(area, config.spec("adam", area.name), sdtm_spec, figures_of)]
