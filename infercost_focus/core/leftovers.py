"""Temporary files left by a writer that was killed before its rename, and their removal.

Every local write goes to a `.tmp-` file beside its target and is renamed into place. A process
killed in between (SIGKILL, OOM killer, power loss) leaves that file behind; readers ignore it,
but each crash adds one. Writers therefore remove the leftovers in the folder they write to once
they are old enough that no live writer can still own them.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

logger = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"
# No write of a capture or a month's file takes a fraction of this; an older file is an orphan.
STALE_AFTER_SECONDS = 60 * 60


def remove_stale_temporaries(
    folder: str | os.PathLike[str],
    prefix: str = TEMP_PREFIX,
    *,
    older_than: float = STALE_AFTER_SECONDS,
) -> list[Path]:
    """Delete the files in `folder` named `prefix...` and untouched for `older_than` seconds.

    Returns the paths removed. Best effort: a folder that cannot be listed, or a file another
    process removes first, is skipped silently, since the write that follows reports real faults.
    """
    if not prefix.startswith(TEMP_PREFIX):
        raise ValueError(f"only temporary files ({TEMP_PREFIX}...) are removed, not {prefix!r}")
    deadline = time.time() - older_than
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or entry.stat().st_mtime > deadline:
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        logger.info("removed %s, left by a write that was interrupted", entry.path)
        removed.append(Path(entry.path))
    return removed
