"""Write a file so that readers see the old content or the new one, never half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_bytes_atomically(target: Path, data: bytes, durable: bool = True) -> None:
    """Write to a temporary file in the same folder, then rename it over the target.

    ``durable`` fsyncs before the rename, for records (settings, consent); a cache that can be
    rebuilt skips it (a torn write after a crash must then be detected by its reader).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=target.suffix, dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_text_atomically(target: Path, text: str) -> None:
    """UTF-8 text written durably and atomically (see write_bytes_atomically)."""
    write_bytes_atomically(target, text.encode("utf-8"))
