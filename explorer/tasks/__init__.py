"""Task demos (no Qt): one module per task, registered once, found with pkgutil.

``all_tasks()`` and ``get_task(id)`` feed the window's task picker and form, the command
line (``model-explorer run``) and the tests from the same declarations. Importing this
package also hands the list to the core's catalog (``explorer.core.task_catalog``), which
decides the demos a config report offers; the task modules are imported only when first asked.
"""

from explorer.core.task_catalog import provide_tasks
from explorer.tasks.base import Field, Partial, TaskError, TaskInputError, TaskSpec, all_tasks, get_task, register

provide_tasks(all_tasks)

__all__ = ["Field", "Partial", "TaskError", "TaskInputError", "TaskSpec", "all_tasks", "get_task", "register"]
