"""The window's views of task results, one module per view; a task names its view in its declaration.

``create_view(spec)`` imports ``explorer.ui.demo_views.<spec.view>`` and builds its ``VIEW``: adding
a task adds its module in explorer/tasks and, when no view fits, one module here.
"""

from __future__ import annotations

import importlib

from explorer.tasks.base import TaskSpec
from explorer.ui.demo_views.common import ResultView


def create_view(spec: TaskSpec) -> ResultView:
    module = importlib.import_module(f"{__name__}.{spec.view}")
    return module.VIEW()


__all__ = ["ResultView", "create_view"]
