"""Raw archive: every transfer read is kept byte for byte, content-addressed by its sha256.

The archive is the one place where personal data may remain; it lives apart from the outputs and
is created owner-only: folders 0700, files 0400 (read-only even to the owner: nothing rewrites it).
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from aclf.landing import TransferFile, sha256_of


def archive_path(root: Path, sha256: str) -> Path:
    return root / "sha256" / sha256[:2] / sha256


FOLDER_MODE, FILE_MODE = 0o700, 0o400


def _owner_only_folders(root: Path, folder: Path) -> None:
    """Create ``folder`` and any missing parent up to ``root`` as 0700 (chmod: the umask may widen
    nothing but may narrow mkdir's mode, and an existing folder of ours is tightened too)."""
    for path in [*reversed(folder.relative_to(root).parents), folder.relative_to(root)]:
        target = root / path
        if not target.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        if stat.S_IMODE(target.stat().st_mode) != FOLDER_MODE and target.stat().st_uid == os.getuid():
            os.chmod(target, FOLDER_MODE)


def archive_files(root: Path, files: tuple[TransferFile, ...]) -> list[dict]:
    """Copy each file under its digest (once); returns [{file, sha256, path}] for the registry."""
    entries = []
    for item in files:
        dest = archive_path(root, item.sha256)
        _owner_only_folders(root, dest.parent)
        if not dest.exists():
            tmp = dest.with_suffix(".part")
            shutil.copyfile(item.path, tmp)
            if sha256_of(tmp) != item.sha256:  # the file changed under us: do not archive a lie
                tmp.unlink()
                raise OSError(f"{item.path} changed while it was being archived")
            os.chmod(tmp, FILE_MODE)
            tmp.replace(dest)
        entries.append({"file": item.name, "sha256": item.sha256, "path": str(dest.relative_to(root))})
    return entries
