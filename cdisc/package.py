"""The submission layout: ``<output>/<area>/m5/datasets/nct05985863/tabulations/sdtm/`` and
``.../analysis/adam/datasets/``, each holding the lower-case .xpt files, define.xml and its HTML view.
Stale files of an earlier night are removed."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from cdisc.define import build_define, validate_define, write_define
from cdisc.spec import Spec
from cdisc.xpt import Violation, check_dataset, write_xpt


def sdtm_folder(output: Path, area: str, studyid: str) -> Path:
    return output / area / "m5" / "datasets" / studyid.lower() / "tabulations" / "sdtm"


def adam_folder(output: Path, area: str, studyid: str) -> Path:
    return output / area / "m5" / "datasets" / studyid.lower() / "analysis" / "adam" / "datasets"


def check_all(datasets: dict[str, pd.DataFrame], spec: Spec) -> dict[str, list[Violation]]:
    return {name: check_dataset(frame, spec.datasets[name]) for name, frame in datasets.items()}


def write_package(datasets: dict[str, pd.DataFrame], spec: Spec, folder: Path, created: str,
                  value_level: dict | None = None) -> dict[str, Path]:
    """Write every dataset and define.xml (XSD-valid, or this raises); returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in list(folder.glob("*.xpt")) + list(folder.glob("define.*")):
        stale.unlink()
    paths = {name: write_xpt(frame, spec.datasets[name], folder / f"{name.lower()}.xpt")
             for name, frame in datasets.items()}
    tree = build_define(spec, datasets, value_level=value_level, created=created,
                        file_oid=f"DEFINE.{spec.study_name}.{spec.standard}")
    errors = validate_define(tree)
    if errors:
        raise ValueError("define.xml does not validate against the Define-XML 2.1 schema:\n" + "\n".join(errors))
    paths["define"] = write_define(tree, folder)
    return paths
