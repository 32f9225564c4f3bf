"""Task demos (no Qt): one module per task, registered by a decorator, found with pkgutil.

``all_tasks()`` and ``get_task(id)`` feed the window's task picker and form, the command
line (``model-explorer run``) and the tests from the same declarations.
"""

from explorer.tasks.base import Field, Partial, TaskError, TaskInputError, TaskSpec, all_tasks, get_task, register

__all__ = ["Field", "Partial", "TaskError", "TaskInputError", "TaskSpec", "all_tasks", "get_task", "register"]
