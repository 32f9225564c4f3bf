"""The installed Qt binding must not drain None's references (PySide6 6.12.0 on Python < 3.12 did)."""

from __future__ import annotations

import ctypes
import sys

import pytest

from explorer.ui.qt_binding import PROBE_CALLS, qt_binding_problem


def test_the_installed_binding_is_sound(qapp):
    assert qt_binding_problem() is None


def test_many_calls_that_return_nothing_leave_none_alone(qapp):
    from PySide6.QtGui import QStandardItem

    item = QStandardItem("x")
    before = sys.getrefcount(None)
    for _ in range(5000):
        item.setEditable(False)
        item.setToolTip("tip")
    assert sys.getrefcount(None) >= before - 10


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12: nothing can drain it")
def test_a_binding_that_drops_references_to_none_is_named_with_the_fix():
    def leaky_call():
        # What the broken binding does: give back None without the reference it owes.
        ctypes.pythonapi.Py_DecRef(ctypes.py_object(None))

    try:
        problem = qt_binding_problem(leaky_call)
    finally:
        for _ in range(PROBE_CALLS):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))
    assert problem is not None
    assert "PySide6" in problem and "pip install 'PySide6-Essentials>=6.7,<6.12'" in problem
