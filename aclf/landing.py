"""Landing zone: find a source's transfers and decide whether each is complete (DTS rules 3-4).

A transfer is complete only when its manifest is present; a manifest whose digests do not match
rejects the whole transfer. Nothing here reads the data itself. The source's folder is a boundary:
only regular files inside it, named plainly in a manifest, are ever opened (never a symlink, a
special file or a path leading elsewhere), so nothing from outside is read or archived.
"""
from __future__ import annotations

import hashlib
import re
import stat
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from aclf.config import FileSpec

MANIFEST_SUFFIX = ".sha256"
_MANIFEST_LINE = re.compile(r"^(?P<digest>[0-9a-fA-F]{64}) [ *](?P<name>.+)$")


@dataclass(frozen=True)
class TransferFile:
    """One file of a transfer with its verified digest."""

    name: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class Candidate:
    """An entry in a source folder, with what the landing rules say of it."""

    source: str
    name: str
    path: Path
    date: str | None              # YYYYMMDD from the name; None for a name off the pattern
    seq: int
    status: str                   # complete | in_flight | rejected
    reason: str = ""
    sha256: str | None = None     # the data file's digest (a folder: its manifest's digest)
    files: tuple[TransferFile, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def order(self) -> tuple[str, int]:
        return (self.date or "", self.seq)


def plain_file_problem(path: Path, folder: Path) -> str | None:
    """Why ``path`` may not be opened (symlink, not a regular file, outside ``folder``), else None.
    lstat, not stat: a symlink is judged as itself and never followed."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return f"{path.name} is missing"
    if stat.S_ISLNK(mode):
        return f"{path.name} is a symbolic link; links are never followed"
    if not stat.S_ISREG(mode):
        return f"{path.name} is not a regular file"
    if path.resolve().parent != folder.resolve():
        return f"{path.name} lies outside the source's folder"
    return None


def plain_name_problem(name: str) -> str | None:
    """Why a manifest's file name is not a plain name in the same folder (paths are refused)."""
    if name in (".", "..") or any(ch in name for ch in "/\\\0") or name != name.strip():
        return "names a path, not a plain file name"
    return None


def sha256_of(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def parse_manifest(path: Path) -> dict[str, str]:
    """``sha256sum`` lines to {file name: digest}; raises ValueError naming the bad line."""
    entries: dict[str, str] = {}
    problem = plain_file_problem(path, path.parent)
    if problem:
        raise ValueError(problem)
    text = path.read_text(encoding="utf-8-sig")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _MANIFEST_LINE.match(line.rstrip("\r"))
        if not match:
            raise ValueError(f"{path.name} line {number} is not '<64 hex>  <file name>'")
        bad_name = plain_name_problem(match["name"])
        if bad_name:
            raise ValueError(f"{path.name} line {number} {bad_name}")
        if match["name"] in entries:     # sha256sum -c checks every line: one of two digests would fail
            raise ValueError(f"{path.name} line {number} lists {match['name']} a second time")
        entries[match["name"]] = match["digest"].lower()
    if not entries:
        raise ValueError(f"{path.name} is empty")
    return entries


def _check_file(path: Path, manifest: Path) -> TransferFile | str:
    """Verify one data file against its manifest; returns the file or a rejection reason."""
    try:
        listed = parse_manifest(manifest)
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        return f"manifest unreadable: {_plain(exc)}"
    if path.name not in listed:
        return f"manifest {manifest.name} does not list {path.name}"
    actual = sha256_of(path)
    if actual != listed[path.name]:
        return f"sha256 mismatch for {path.name}: manifest {listed[path.name]}, file {actual}"
    return TransferFile(path.name, path, actual)


def _inspect_file(source: str, path: Path, spec: FileSpec, date: str, seq: int) -> Candidate:
    manifest = path.with_name(path.name + MANIFEST_SUFFIX)
    base = dict(source=source, name=path.name, path=path, date=date, seq=seq)
    if not manifest.exists() and not manifest.is_symlink():
        return Candidate(**base, status="in_flight", reason=f"no manifest {manifest.name} yet")
    refused = plain_file_problem(manifest, path.parent)
    if refused:
        return Candidate(**base, status="rejected", reason=f"manifest {refused}")
    listed = TransferFile(manifest.name, manifest, sha256_of(manifest))
    checked = _check_file(path, manifest)
    if isinstance(checked, str):  # kept and archived as received, for inspection
        actual = TransferFile(path.name, path, sha256_of(path))
        return Candidate(**base, status="rejected", reason=checked, sha256=actual.sha256, files=(actual, listed))
    return Candidate(**base, status="complete", sha256=checked.sha256, files=(checked, listed))


def _inspect_folder(source: str, path: Path, spec: FileSpec, date: str, seq: int,
                    required: list[str]) -> Candidate:
    manifest = path / spec.manifest
    base = dict(source=source, name=path.name, path=path, date=date, seq=seq)
    if not manifest.exists() and not manifest.is_symlink():
        return Candidate(**base, status="in_flight", reason=f"no {spec.manifest} in the folder yet")
    refused = plain_file_problem(manifest, path)
    if refused:
        return Candidate(**base, status="rejected", reason=f"manifest {refused}")
    digest = sha256_of(manifest)
    try:
        listed = parse_manifest(manifest)
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        return Candidate(**base, status="rejected", reason=f"manifest unreadable: {_plain(exc)}", sha256=digest)
    problems, files = [], []
    for name, expected in sorted(listed.items()):
        file = path / name
        refused = plain_file_problem(file, path)
        if refused:
            problems.append(f"{refused} (listed in {spec.manifest})" if file.is_symlink() or file.exists()
                            else f"{name} is listed in {spec.manifest} but missing")
            continue
        actual = sha256_of(file)
        if actual != expected:
            problems.append(f"sha256 mismatch for {name}: manifest {expected}, file {actual}")
        files.append(TransferFile(name, file, actual))
    problems += [f"required file {name} is not in {spec.manifest}" for name in required if name not in listed]
    if problems:
        return Candidate(**base, status="rejected", reason="; ".join(problems), sha256=digest,
                         files=tuple(files))
    extra = sorted(p.name for p in path.iterdir() if p.name not in listed and p.name != spec.manifest)
    notes = tuple(f"{name} is not in {spec.manifest}; ignored" for name in extra)
    files.append(TransferFile(spec.manifest, manifest, digest))
    return Candidate(**base, status="complete", sha256=digest, files=tuple(files), notes=notes)


def _plain(exc: Exception) -> str:
    """An OS error without the full path (the landing zone's layout is not for findings)."""
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _entry_problem(path: Path, is_folder: bool) -> str | None:
    """A transfer entry must be a real file (or a real folder for the EDC), never a link or device."""
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode):
        return f"{path.name} is a symbolic link; links are never followed"
    if not (stat.S_ISDIR(mode) if is_folder else stat.S_ISREG(mode)):
        return f"{path.name} is not a regular {'folder' if is_folder else 'file'}"
    return None


def discover(source: str, folder: Path, spec: FileSpec, required: list[str] = (),
             latest_date: str | None = None) -> list[Candidate]:
    """Every transfer in a source's landing folder, oldest first; off-pattern names are rejected, and
    so are dates after ``latest_date`` (YYYYMMDD): a future transfer would supersede the real ones."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.endswith(MANIFEST_SUFFIX) or path.name.startswith("."):
            continue
        match = spec.name_pattern.match(path.name)
        is_folder = spec.format == "folder"
        refused = _entry_problem(path, is_folder) if match else None
        if refused:
            found.append(Candidate(source, path.name, path, None, 0, "rejected", refused))
            continue
        if not match or path.is_dir() != is_folder:
            expected = f"{spec.prefix}_<YYYYMMDD>[_<n>]" + ("/" if is_folder else f".{spec.extension}")
            found.append(Candidate(source, path.name, path, None, 0, "rejected",
                                   f"name does not follow the DTS pattern {expected}"))
            continue
        date, seq = match["date"], int(match["seq"] or 1)
        try:
            datetime.strptime(date, "%Y%m%d")
        except ValueError:
            found.append(Candidate(source, path.name, path, None, 0, "rejected",
                                   f"{date} in the name is not a calendar date"))
            continue
        if is_folder:
            cand = _inspect_folder(source, path, spec, date, seq, list(required))
        else:
            cand = _inspect_file(source, path, spec, date, seq)
        if latest_date is not None and date > latest_date and cand.status != "in_flight":
            cand = replace(cand, status="rejected", reason=(
                f"the date {date} in the name is later than the run's date allows (latest accepted: "
                f"{latest_date}); a transfer cannot come from the future"))
        found.append(cand)
    return sorted(found, key=lambda c: c.order)


def newest_complete_marker(folder: Path, spec: FileSpec) -> str | None:
    """``<name>:<manifest sha256>`` of the newest transfer whose manifest has arrived; cheap (the data
    files are not hashed), for a sensor that only needs to notice that something new landed."""
    if not folder.is_dir():
        return None
    best = None
    for path in folder.iterdir():
        match = spec.name_pattern.match(path.name)
        if not match:
            continue
        manifest = path / spec.manifest if spec.format == "folder" else path.with_name(path.name + MANIFEST_SUFFIX)
        if not plain_file_problem(manifest, manifest.parent) and not path.is_symlink():
            key = (match["date"], int(match["seq"] or 1))
            if best is None or key > best[0]:
                best = (key, f"{path.name}:{sha256_of(manifest)}")
    return best[1] if best else None
