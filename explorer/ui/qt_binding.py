"""Refuse to run on a Qt binding that would abort the app later.

PySide6 6.12.0 returns ``None`` without taking a reference to it from every call that returns
nothing (``setText``, ``setEnabled``...). From Python 3.12 on ``None`` is immortal and that is
harmless; on 3.10 and 3.11 each such call drops one of None's few thousand references, and the
interpreter aborts ("deallocating None") after a few seconds of use: filling the browser with a
large hub cache was enough. pyproject.toml keeps that release off older Pythons; this check
turns a binding installed by other means into a clear message instead of a crash.
"""

from __future__ import annotations

import sys
from typing import Callable

PROBE_CALLS = 64


def _drops_none_references(call: Callable[[], object]) -> bool:
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        call()
    return sys.getrefcount(None) <= before - PROBE_CALLS // 2


def qt_binding_problem(call: Callable[[], object] | None = None) -> str | None:
    """Why the installed PySide6 cannot be used with this Python, or None when it can."""
    if sys.version_info >= (3, 12) and call is None:
        return None
    if call is None:
        from PySide6.QtCore import QObject

        probe = QObject()
        call = lambda: probe.setObjectName("probe")  # noqa: E731  (a call that returns nothing)
    if not _drops_none_references(call):
        return None
    import PySide6

    python = ".".join(map(str, sys.version_info[:3]))
    return (
        f"PySide6 {PySide6.__version__} has a reference-counting bug with Python {python} that makes the app abort "
        "after a few seconds of use. Install a working release with:  pip install 'PySide6-Essentials>=6.7,<6.12'  "
        "(or use Python 3.12 or later)."
    )
