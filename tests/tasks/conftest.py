"""Helpers for the task tests: run a task on a sample checkpoint through the real session."""

from __future__ import annotations

import pytest

from explorer.core.jobs import run_to_end
from explorer.tasks.base import Partial
from explorer.tasks.session import LoadRequest, ModelSession


@pytest.fixture(scope="module")
def session():
    session = ModelSession()
    yield session
    session.unload_now()


@pytest.fixture
def run_task(session, sample):
    """run_task(task_id, sample_name_or_path, values) -> (result, partials)."""

    def run(task_id: str, checkpoint, values: dict | None = None, **request):
        path = str(sample(checkpoint)) if isinstance(checkpoint, str) and "/" not in checkpoint else str(checkpoint)
        partials: list[Partial] = []
        job = session.run(task_id, LoadRequest(path, None, **request), values or {})
        result = run_to_end(job, lambda item: partials.append(item) if isinstance(item, Partial) else None)
        return result, partials

    return run
