"""The job protocol's helpers, without Qt."""

from __future__ import annotations

from explorer.core import jobs
from explorer.core.jobs import Progress, batched, run_to_end


def counting_job(items, clock=None, step=0.0):
    for index, item in enumerate(items):
        if index == 0:
            yield Progress(0, len(items), "started")
        if clock is not None:
            clock[0] += step
        yield item
    return f"{len(items)} done"


def test_batches_keep_order_progress_and_the_result(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(jobs.time, "monotonic", lambda: clock[0])
    seen = []
    result = run_to_end(batched(counting_job(list(range(10)), clock, step=0.02), seconds=0.05), seen.append)
    assert result == "10 done"
    assert seen[0] == Progress(0, 10, "started")
    lists = seen[1:]
    assert [x for batch in lists for x in batch] == list(range(10))
    # A job producing every 0.02 s, lists closed once 0.05 s passed since their first item
    # (item 0 at 0.02 s ... item 3 at 0.08 s); the rest comes when the job ends.
    assert lists == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_without_a_time_budget_every_item_is_a_list_of_one():
    seen = []
    run_to_end(batched(counting_job(["a", "b"]), seconds=0.0), seen.append)
    assert seen[1:] == [["a"], ["b"]]


def test_an_empty_job_yields_no_list():
    seen = []
    assert run_to_end(batched(counting_job([]), seconds=1.0), seen.append) == "0 done"
    assert seen == []
