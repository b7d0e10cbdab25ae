"""Raw archive: every transfer read is kept byte for byte, content-addressed by its sha256.

The archive is the one place where personal data may remain; it lives apart from the outputs.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from aclf.landing import TransferFile, sha256_of


def archive_path(root: Path, sha256: str) -> Path:
    return root / "sha256" / sha256[:2] / sha256


def archive_files(root: Path, files: tuple[TransferFile, ...]) -> list[dict]:
    """Copy each file under its digest (once); returns [{file, sha256, path}] for the registry."""
    entries = []
    for item in files:
        dest = archive_path(root, item.sha256)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(".part")
            shutil.copyfile(item.path, tmp)
            if sha256_of(tmp) != item.sha256:  # the file changed under us: do not archive a lie
                tmp.unlink()
                raise OSError(f"{item.path} changed while it was being archived")
            os.chmod(tmp, 0o444)
            tmp.replace(dest)
        entries.append({"file": item.name, "sha256": item.sha256, "path": str(dest.relative_to(root))})
    return entries
