"""Run a ``DeletePlan``: one removal at a time, in an order that keeps the cache readable.

The plan orders refs, then snapshot folders, then blobs, then what is left of whole repo folders; a
removal whose ``needs`` did not all succeed is skipped (a snapshot a ref still names stays, and so does a
blob a remaining snapshot links to), so a failure or a cancel at any point leaves a cache
``scan_cache_dir`` reads, and planning again finishes the job. Before each removal the path is checked
again to be an entry inside the cache's real path; a link is removed as a link, never followed.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field

from explorer.core.cache_manage import BLOB, HUB_ENTRIES, IGNORED_NAMES, REF, REPO, SHARED, UNREFERENCED, DeletePlan, Removal, shared_store, entry_inside
from explorer.core.jobs import CancelToken, Job, Progress

# Outcomes that let what depends on a removal go ahead.
_DONE = ("removed", "already gone", "moved")


@dataclass
class DeleteResult:
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # not tried: (path, why)
    freed_bytes: int = 0
    cancelled: bool = False

    @property
    def complete(self) -> bool:
        return not (self.failed or self.skipped or self.cancelled)

    def to_json(self) -> dict:
        return {
            "freed_bytes": self.freed_bytes,
            "removed": list(self.removed),
            "failed": [{"path": p, "error": e} for p, e in self.failed],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "cancelled": self.cancelled,
        }


class _NotRemoved(Exception):
    """A removal deliberately left (the cache changed since the preview): skipped, not failed."""


def delete_job(plan: DeletePlan, cancel: CancelToken | None = None) -> Job[DeleteResult]:
    """Remove what ``plan`` lists; yields Progress per removal, returns a DeleteResult.

    Cancelling stops between removals: the result lists the rest as skipped (the job returns, it does not
    raise Cancelled, so the caller learns what already went).
    """
    result = DeleteResult()
    outcome: dict[str, str] = {}
    changed_repos: dict[str, bool] = {}
    linked: dict[str, set[str]] = {}
    total = len(plan.steps)
    yield Progress(0, total, "deleting")
    for done, step in enumerate(plan.steps):
        if cancel is not None and cancel.cancelled:
            result.cancelled = True
            result.skipped += [(s.path, "cancelled") for s in plan.steps[done:]]
            break
        waiting = [need for need in step.needs if outcome.get(need) not in _DONE]
        if waiting:
            result.skipped.append((step.path, f"{waiting[0]} was not removed"))
            outcome[step.path] = "skipped"
        else:
            try:
                freed, outcome[step.path] = _run(plan, step, changed_repos, linked)
                if outcome[step.path] == "moved":
                    result.skipped.append((step.path, "it names another revision since the preview"))
                else:
                    result.removed.append(step.path)
                result.freed_bytes += freed
            except _NotRemoved as exc:
                outcome[step.path] = "skipped"
                result.skipped.append((step.path, str(exc)))
            except OSError as exc:
                outcome[step.path] = "failed"
                result.failed.append((step.path, exc.strerror or str(exc)))
        yield Progress(done + 1, total, f"{step.kind} {os.path.basename(step.path)}")
    return result


def run_plan(plan: DeletePlan) -> DeleteResult:
    from explorer.core.jobs import run_to_end

    return run_to_end(delete_job(plan))


def _run(plan: DeletePlan, step: Removal, changed_repos: dict[str, bool], linked: dict[str, set[str]]) -> tuple[int, str]:
    """Remove one entry; returns (bytes freed, outcome)."""
    if not entry_inside(plan.cache_root, step.path):
        raise _NotRemoved("no longer inside the cache's real path")
    if step.kind == SHARED:
        shared = shared_store()
        freed = shared.sweep_shared_blob(step.path, cache_dir=plan.cache_root) if shared is not None else 0
        return freed, "removed" if freed else "already gone"
    try:
        st = os.lstat(step.path)
    except FileNotFoundError:
        return 0, "already gone"
    if step.kind == REF:
        named = _read_ref(step.path)
        if step.expect is not None and named != step.expect:
            # A download moved the ref since the preview: it names another revision now, so it stays.
            return 0, "moved"
    if step.kind in (BLOB, REPO) and step.repo_path is not None and _repo_changed(plan, step.repo_path, changed_repos):
        raise _NotRemoved("a revision appeared in this repo since the preview")
    if step.kind in (BLOB, UNREFERENCED) and step.repo_path is not None and step.path in _linked_blobs(step.repo_path, linked):
        # A file downloaded since the preview reuses this content (hf links an existing blob): it stays.
        raise _NotRemoved("a snapshot links it now")
    if step.kind == REPO:
        _remove_repo_folder(step.path, st)
        return 0, "removed"
    _remove_entry(step.path, st)
    return step.size_bytes, "removed"


def _read_ref(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(200).strip()
    except OSError:
        return None


def _repo_changed(plan: DeletePlan, repo_path: str, cache: dict[str, bool]) -> bool:
    if repo_path not in cache:
        known = plan.known_revisions.get(repo_path)
        try:
            now = {name for name in os.listdir(os.path.join(repo_path, "snapshots")) if name not in IGNORED_NAMES}
        except OSError:
            now = set()
        cache[repo_path] = known is not None and not now <= known
    return cache[repo_path]


def _linked_blobs(repo_path: str, cache: dict[str, set[str]]) -> set[str]:
    """What the repo's snapshot links point to now (read once per run, when its first blob is due)."""
    if repo_path not in cache:
        found = set()
        for directory, dirnames, filenames in os.walk(os.path.join(repo_path, "snapshots")):
            for name in filenames + dirnames:
                path = os.path.join(directory, name)
                try:
                    found.add(os.path.abspath(os.path.join(directory, os.readlink(path))))
                except OSError:
                    pass  # not a link
        cache[repo_path] = found
    return cache[repo_path]


def _remove_entry(path: str, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        # rmtree unlinks the links it meets, never what they point to.
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _remove_repo_folder(path: str, st: os.stat_result) -> None:
    """What is left of a repo folder whose refs, snapshots and blobs went: its snapshots folder last, so
    a failure leaves a repo huggingface_hub reads (with no revisions) rather than a corrupted one. Anything
    huggingface_hub does not write there (a folder of the user's) stays, and so does the repo folder then."""
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)  # the repo folder was a link: the link goes, its target stays
        return
    snapshots = os.path.join(path, "snapshots")
    remaining = [n for n in _listdir(snapshots) if n not in IGNORED_NAMES]
    refs = [os.path.join(d, n) for d, _, names in os.walk(os.path.join(path, "refs")) for n in names if n not in IGNORED_NAMES]
    if remaining or refs:
        raise _NotRemoved(f"it still holds {len(remaining)} revision(s) and {len(refs)} ref(s)")
    children = sorted(_listdir(path))
    foreign = [name for name in children if name not in HUB_ENTRIES]
    for name in children:
        if name in HUB_ENTRIES and name != "snapshots":
            child = os.path.join(path, name)
            _remove_entry(child, os.lstat(child))
    if foreign:
        raise _NotRemoved(f"it holds {', '.join(foreign[:3])}, which huggingface_hub did not write: left with it")
    if os.path.lexists(snapshots):
        _remove_entry(snapshots, os.lstat(snapshots))
    os.rmdir(path)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []
