"""Every file under a folder, by relative path: what output-equality tests compare."""
from __future__ import annotations

import os


def files_under(root: str | os.PathLike) -> dict[str, bytes]:
    """{path relative to ``root``: the file's bytes} for every file below ``root``."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = f.read()
    return found
