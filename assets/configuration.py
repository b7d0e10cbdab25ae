"""Everything a deployment's study folder configures, read once per folder: the study (sources,
visits, lab, rules), the trial design, the analysis conventions, the SDTM and ADaM specs and the
annotated CRF's annotations."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from aclf.config import Study, load_study
from cdisc.acrf import AcrfConfig, load_acrf
from cdisc.adam.analysis import Analysis, load_analysis
from cdisc.design import Design, load_design
from cdisc.spec import Spec, for_area, load_spec


@dataclass(frozen=True)
class Configuration:
    study: Study
    design: Design
    analysis: Analysis
    sdtm: Spec            # the full specs; ``spec(kind, area)`` gives one area's view
    adam: Spec
    acrf: AcrfConfig      # the annotated CRF's annotations

    def spec(self, kind: str, area: str) -> Spec:
        """The SDTM or ADaM spec as one output area sees it (assignment variables only where allowed)."""
        return for_area(self.sdtm if kind == "sdtm" else self.adam, area)


@lru_cache(maxsize=8)
def load_configuration(study_dir: str | Path) -> Configuration:
    """Read and validate every configuration file of a study folder (cached per folder: a running
    code location picks up a changed folder when it is reloaded)."""
    folder = Path(study_dir)
    study = load_study(folder)
    return Configuration(study=study, design=load_design(folder / "sdtm"),
                         analysis=load_analysis(folder / "adam"), sdtm=load_spec(folder / "sdtm"),
                         adam=load_spec(folder / "adam"), acrf=load_acrf(study))
