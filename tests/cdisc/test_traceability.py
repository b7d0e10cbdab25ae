"""Every ADaM variable traces back to SDTM through its define.xml metadata."""
from aclf.config import DEFAULT_STUDY_DIR
from cdisc.spec import load_spec
from cdisc.traceability import untraceable


def _specs():
    return load_spec(DEFAULT_STUDY_DIR / "adam"), load_spec(DEFAULT_STUDY_DIR / "sdtm")


def test_every_adam_variable_traces_back_to_sdtm():
    assert untraceable(*_specs()) == []


def test_a_variable_without_a_path_is_reported():
    adam, sdtm = _specs()
    adsl = adam.datasets["ADSL"]
    cut = [v.model_copy(update={"source": None}) if v.name == "AGEGR1" else v for v in adsl.variables]
    adam = adam.model_copy(update={"datasets": {**adam.datasets, "ADSL": adsl.model_copy(update={"variables": cut})}})
    assert untraceable(adam, sdtm) == ["ADSL.AGEGR1: no path back to SDTM"]


def test_a_name_that_is_no_variable_is_reported():
    adam, sdtm = _specs()
    adsl = adam.datasets["ADSL"]
    typo = [v.model_copy(update={"source": "DM.RFXSTDT"}) if v.name == "TRTSDT" else v for v in adsl.variables]
    adam = adam.model_copy(update={"datasets": {**adam.datasets, "ADSL": adsl.model_copy(update={"variables": typo})}})
    assert untraceable(adam, sdtm) == ["ADSL.TRTSDT: names DM.RFXSTDT, which no spec defines"]


def test_the_analysis_layer_reads_sdtm_only():
    """ADaM is built from the SDTM hand-off alone (no EDC form), so nothing bypasses tabulation."""
    import inspect

    from cdisc.adam.build import build_adam
    assert "forms" not in inspect.signature(build_adam).parameters
