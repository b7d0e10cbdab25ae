"""The annotated CRF (acrf.pdf, beside the SDTM define.xml): each EDC and IWRS form's fields as the
sites fill them in (study/sources), each with the SDTM variables it is submitted in
(study/sdtm/acrf.yaml), and the pages define.xml's collected origins point to."""
from __future__ import annotations

import io
import re
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from aclf.config import ConfigError, DEFAULT_STUDY_DIR, FormSpec, Study, safe_load
from aclf.inputs import code_and_libraries, sha
from aclf.warm_worker import submit

if TYPE_CHECKING:        # matplotlib is imported where the PDF is drawn: in the warm worker
    from matplotlib.figure import Figure

NOT_SUBMITTED = "NOT SUBMITTED"
VISIT_COLUMN = "VISIT"                   # the forms' visit column, as SDTM's builders read it
ANY_TIME = "ANY TIME (LOG FORMS)"
# an annotation that names the variable holding the collected value ("derives ..." does not)
HOLDS = re.compile(r"^(?P<dataset>[A-Z][A-Z0-9]{1,7})\.(?P<variable>[A-Z][A-Z0-9]{0,7})\b")
_PAGE = (8.27, 11.69)                    # A4 portrait, inches
_LINE = 0.0125                           # a text line, as a fraction of the page's height
_DRAWN: dict[str, bytes] = {}           # content digest -> PDF bytes
_PALETTE = ["#fff2a8", "#c8e6ff", "#d5f5d0", "#ffd9d2", "#e6dcff", "#ffe4b8", "#d0f0f0", "#f0d8ec"]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormPage(_Entry):
    title: str
    fields: dict[str, list[str]]         # form column -> its annotations, in the form's column order
    visits: list[str] = []               # the visit codes a form without a visit column is filled in at


class AcrfConfig(_Entry):
    forms: dict[str, FormPage]


def load_acrf(study: Study, path: Path | None = None) -> AcrfConfig:
    """The aCRF's configuration (``<study folder>/sdtm/acrf.yaml``); each form's fields must be the
    form's columns (study/sources), in their order."""
    path = path or (study.directory or DEFAULT_STUDY_DIR) / "sdtm" / "acrf.yaml"
    try:
        config = AcrfConfig.model_validate(safe_load(path.read_text(encoding="utf-8")))
        differ = {name: sorted(set(study.form(name)[1].columns) ^ set(page.fields))
                  for name, page in config.forms.items() if list(study.form(name)[1].columns) != list(page.fields)}
    except (OSError, yaml.YAMLError, ValidationError, KeyError) as exc:
        raise ConfigError(f"{path}: invalid annotated CRF configuration: {exc}") from None
    if differ:
        raise ConfigError(f"{path}: fields that are not the forms' columns, in their order: {differ}")
    known = {v.code for v in study.visits} | {study.unscheduled_visit}
    wrong = {name: page.visits for name, page in config.forms.items() if page.visits and (
        VISIT_COLUMN in study.form(name)[1].columns or set(page.visits) - known)}
    if wrong:
        raise ConfigError(f"{path}: visits that are not visit codes, or given for a form whose {VISIT_COLUMN} "
                          f"column says them: {wrong}")
    untold = {name: sorted(set(study.form(name)[1].values.get(VISIT_COLUMN, [""])) - known) for name in config.forms
              if VISIT_COLUMN in study.form(name)[1].columns}
    if any(untold.values()):
        raise ConfigError(f"{path}: forms whose {VISIT_COLUMN} column allows no visit codes or others than the "
                          f"schedule's, so that their visit bookmarks cannot be drawn: "
                          f"{ {name: codes for name, codes in untold.items() if codes} }")
    return config


def page_of_form(config: AcrfConfig) -> dict[str, int]:
    """Each form's physical page: page 1 is the cover, then one page per form in configuration order."""
    return {form: number for number, form in enumerate(config.forms, 2)}


def pages(config: AcrfConfig) -> dict[str, list[int]]:
    """'DATASET.VARIABLE' -> the pages whose fields are submitted in it (define.xml's PDFPageRef)."""
    found: dict[str, set[int]] = {}
    for form, page in page_of_form(config).items():
        for notes in config.forms[form].fields.values():
            for text in notes:
                if m := HOLDS.match(text):
                    found.setdefault(f"{m['dataset']}.{m['variable']}", set()).add(page)
    return {name: sorted(numbers) for name, numbers in found.items()}


def visit_bookmarks(config: AcrfConfig, study: Study) -> list[tuple[str, list[str]]]:
    """(visit label, the forms filled in at it) in the schedule's order, the unscheduled visit last,
    then the forms filled in at any time. A form's visits are those its visit column allows, else
    those the configuration names; with neither it is a log form."""
    at = {name: study.form(name)[1].values.get(VISIT_COLUMN, []) if VISIT_COLUMN in study.form(name)[1].columns
          else page.visits for name, page in config.forms.items()}
    schedule = [(v.code, v.label) for v in study.visits] + [(study.unscheduled_visit, study.unscheduled_visit)]
    marks = [(label, [name for name in config.forms if code in at[name]]) for code, label in schedule]
    marks.append((ANY_TIME, [name for name in config.forms if not at[name]]))
    return [(label, forms) for label, forms in marks if forms]


def collected_as(form: FormSpec, column: str) -> str:
    """What the site enters, from the form's rules: a key, a date, one of its values, a range, or text."""
    if column in form.dates:
        kind = "date, YYYY-MM-DD" + (" (partial allowed)" if column in form.partial_dates else "")
    elif column in form.values:
        kind = "one of: " + ", ".join(form.values[column])
    elif column in form.ranges:
        low, high = form.ranges[column]
        kind = f"number, {low:g} to {high:g}"
    else:
        kind = "text"
    needed = "key" if column in form.key else "required" if column in form.required else ""
    return f"{kind}; {needed}" if needed else kind


def _colour(annotation: str, colours: dict[str, str]) -> str:
    if annotation.startswith(NOT_SUBMITTED):
        return "#e0e0e0"
    m = HOLDS.match(annotation.removeprefix("derives "))
    dataset = m["dataset"] if m else ""
    return colours.setdefault(dataset, _PALETTE[len(colours) % len(_PALETTE)])


def _header(fig: Figure, studyid: str, page: int, total: int) -> None:
    fig.text(0.06, 0.975, f"{studyid}   Annotated CRF (SDTM)", fontsize=8, color="#555555")
    fig.text(0.94, 0.975, f"page {page} of {total}", fontsize=8, color="#555555", ha="right")


def _cover(fig: Figure, studyid: str, config: AcrfConfig, study: Study, total: int) -> None:
    _header(fig, studyid, 1, total)
    fig.text(0.06, 0.92, f"{studyid}: annotated case report forms", fontsize=15, weight="bold")
    lines = ["Each page shows one form of the EDC or IWRS transfer (data transfer specification), its",
             "fields in transfer order, what a site enters, and the SDTM variables each field is",
             "submitted in. 'derives' marks a field used in a derivation only; NOT SUBMITTED, a field",
             "kept in the raw archive. Personal fields are never read and are not shown.", "", "Forms:"]
    for form, page in page_of_form(config).items():
        source, _ = study.form(form)
        lines.append(f"    page {page:>2}   {config.forms[form].title} ({source}, {form})")
    for k, line in enumerate(lines):
        fig.text(0.06, 0.87 - k * 2 * _LINE, line, fontsize=9.5, family="DejaVu Sans")


def _form_page(fig: Figure, studyid: str, name: str, page: int, total: int, config: AcrfConfig,
               study: Study, colours: dict[str, str]) -> None:
    _header(fig, studyid, page, total)
    source, form = study.form(name)
    fig.text(0.06, 0.94, config.forms[name].title, fontsize=13, weight="bold")
    fig.text(0.06, 0.92, f"{source.upper()} form {name}" + (f" ({form.file})" if form.file else ""), fontsize=8.5)
    for x, head in ((0.06, "Field"), (0.30, "What the site enters"), (0.60, "Submitted in (SDTM)")):
        fig.text(x, 0.89, head, fontsize=9, weight="bold")
    y = 0.87
    for column in form.columns:
        entered = textwrap.wrap(collected_as(form, column), 34)
        fig.text(0.06, y, column, fontsize=9, family="DejaVu Sans Mono", va="top")
        fig.text(0.30, y, "\n".join(entered), fontsize=8.5, va="top", linespacing=1.3)
        at = y
        for text in config.forms[name].fields[column]:
            wrapped = textwrap.wrap(text, 40)
            fig.text(0.60, at, "\n".join(wrapped), fontsize=8.5, va="top", linespacing=1.3,
                     bbox={"boxstyle": "square,pad=0.25", "fc": _colour(text, colours), "ec": "#444444", "lw": 0.5})
            at -= (len(wrapped) + 0.9) * _LINE
        y = min(y - (len(entered) + 1.2) * _LINE, at - 0.4 * _LINE)


def drawing(config: AcrfConfig, study: Study, studyid: str, cache: Path | None = None) -> Callable[[], bytes]:
    """Start drawing the aCRF and return what gives its bytes. Drawn once per process and, with
    ``cache`` (a folder of the area) and committed code, once per code, libraries and configuration
    (a drawing takes about 0.7 s); drawn in the warm worker, which imports matplotlib for the figures,
    while the caller builds the package (aclf.warm_worker)."""
    content = sha(f"{studyid}|{config.model_dump_json()}|"
                  f"{[(study.form(name)[0], study.form(name)[1].model_dump_json()) for name in config.forms]}|"
                  f"{[v.model_dump_json() for v in study.visits]}|{study.unscheduled_visit}")
    code = code_and_libraries()
    stored = cache / f"acrf-{sha(f'{code}|{content}')[:24]}.pdf" if cache is not None and code else None
    if content not in _DRAWN and stored is not None and stored.is_file():
        _DRAWN[content] = stored.read_bytes()
    drawn = None if content in _DRAWN else submit("cdisc.acrf", "render_acrf", config, study, studyid)

    def result() -> bytes:
        if drawn is not None:
            _DRAWN[content] = drawn.result()
        if stored is not None and not stored.is_file():
            _keep(stored, _DRAWN[content])
        return _DRAWN[content]
    return result


def _keep(stored: Path, pdf: bytes) -> None:
    """The area's one copy, written whole under a name of its own, then renamed into place."""
    stored.parent.mkdir(parents=True, exist_ok=True)
    for old in stored.parent.glob("acrf-*.pdf"):
        old.unlink(missing_ok=True)
    with tempfile.NamedTemporaryFile(dir=stored.parent, suffix=".partial", delete=False) as partial:
        partial.write(pdf)
    Path(partial.name).replace(stored)


def render_acrf(config: AcrfConfig, study: Study, studyid: str) -> bytes:
    """The PDF: a cover, a page per form, bookmarks by form, by visit and by dataset (FDA's technical
    conformance guide asks for visits and forms), no creation date, so that its bytes change only
    with the configuration and the libraries. Drawn with matplotlib, the figures' library, rather
    than a PDF layout library (the pages are a header and a three-column table); bookmarked with
    pypdf."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_pdf import PdfPages
    from pypdf import PdfWriter

    total = len(config.forms) + 1
    colours: dict[str, str] = {}
    drawn = io.BytesIO()
    with rc_context({"pdf.fonttype": 42}), PdfPages(drawn, metadata={"CreationDate": None}) as pdf:
        pdf.savefig(_figure(lambda fig: _cover(fig, studyid, config, study, total)))
        for name, page in page_of_form(config).items():
            pdf.savefig(_figure(lambda fig: _form_page(fig, studyid, name, page, total, config, study, colours)))
    writer = PdfWriter(clone_from=io.BytesIO(drawn.getvalue()))
    writer.add_metadata({"/Title": f"{studyid} annotated case report forms (SDTM)", "/Creator": "aclf-pipeline"})
    _bookmark(writer, config, study)
    written = io.BytesIO()
    writer.write(written)
    return written.getvalue()


def _bookmark(writer, config: AcrfConfig, study: Study) -> None:
    """Three outlines: the forms in page order, the visits with the forms filled in at each, the
    datasets with the first page that submits in each (pypdf counts pages from 0)."""
    page = {name: number - 1 for name, number in page_of_form(config).items()}
    forms = writer.add_outline_item(title="Forms", page_number=1)
    for name in config.forms:
        writer.add_outline_item(title=config.forms[name].title, page_number=page[name], parent=forms)
    visits = writer.add_outline_item(title="Visits", page_number=1)
    for label, names in visit_bookmarks(config, study):
        visit = writer.add_outline_item(title=label, page_number=page[names[0]], parent=visits)
        for name in names:
            writer.add_outline_item(title=config.forms[name].title, page_number=page[name], parent=visit)
    datasets = writer.add_outline_item(title="Datasets", page_number=1)
    for dataset, numbers in sorted(_dataset_pages(config).items()):
        writer.add_outline_item(title=dataset, page_number=numbers[0] - 1, parent=datasets)


def _dataset_pages(config: AcrfConfig) -> dict[str, list[int]]:
    """Each dataset's pages: where a field is submitted in it."""
    found: dict[str, set[int]] = {}
    for name, numbers in pages(config).items():
        found.setdefault(name.split(".")[0], set()).update(numbers)
    return {dataset: sorted(numbers) for dataset, numbers in found.items()}


def _figure(draw: Callable[[Figure], None]) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=_PAGE)
    draw(fig)
    return fig
