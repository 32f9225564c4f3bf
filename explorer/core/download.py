"""Download a repo from the Hub into the hub cache, when the user asks: nothing here runs otherwise.

Everything that touches the network or the cache's layout is huggingface_hub's own: the revision is resolved
and written to ``refs/`` by ``HfApi.resolve_revision``, files are listed by ``list_repo_tree`` and matched by
``filter_repo_objects`` (the patterns ``snapshot_download`` takes), each file's metadata comes from
``get_hf_file_metadata`` and its bytes from ``http_get``, the snapshot links are made by ``hf_hub_download``,
and a last ``snapshot_download`` of the same commit (every file already there: no bytes move) writes the tree
listing and answers the snapshot's path. So ``HF_ENDPOINT``, ``HF_TOKEN`` and the cache are the library's.

One thing is ours: where the bytes go while they arrive. huggingface_hub 2.4 downloads into a file with a
name unique to the call and deletes it when the call fails (its PR #4228), so a download stopped by the user
or by a lost connection starts again from zero. We hand ``http_get`` a file of our own, ``blobs/<etag>.incomplete``
(the name huggingface_hub used before 2.4, which ``hf cache prune`` and our prune know), under the library's lock
for that blob; the next run asks only for the bytes after it (a Range request), and once whole it is renamed
to ``blobs/<etag>``, where ``hf_hub_download`` finds it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable
from urllib.parse import urljoin, urlsplit

from explorer.core.cache_places import default_hub_cache
from explorer.core.formatting import human_bytes
from explorer.core.jobs import CancelToken, Cancelled, ExpectedFailure, Job, Progress

# How long a cancelled download may take to reach its next chunk before the job stops waiting for it:
# huggingface_hub reports (and so lets us stop) every 10 MiB, which is seconds on a slow connection.
STOP_WAIT_S = 2.0
TICK_S = 0.1
SPEED_WINDOW_S = 3.0
_SHA256 = re.compile(r"[0-9a-f]{64}")


class DownloadFailed(ExpectedFailure):
    """A download that cannot go on, said in words the user can act on."""


@dataclass(frozen=True, slots=True)
class RemoteFile:
    name: str
    size: int
    present: int = 0  # bytes already on this machine: the whole size when cached, a partial download's length


@dataclass(frozen=True, slots=True)
class DownloadPlan:
    """What a download will fetch: the revision resolved to a commit and the files the patterns select."""

    repo_id: str
    revision: str
    commit: str
    files: tuple[RemoteFile, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def present_bytes(self) -> int:
        return sum(f.present for f in self.files)


@dataclass(frozen=True, slots=True)
class FileProgress:
    name: str
    done: int
    size: int
    index: int  # 0-based position in the plan
    count: int

    @property
    def finished(self) -> bool:
        return self.done >= self.size


@dataclass(frozen=True, slots=True)
class DownloadResult:
    repo_id: str
    revision: str
    commit: str
    path: str  # the snapshot folder
    files: tuple[str, ...]
    bytes: int  # size of the files selected
    fetched_bytes: int  # received by this run
    resumed_bytes: int  # found from an earlier, interrupted run and not asked for again

    def to_json(self) -> dict:
        return {
            "repo": self.repo_id,
            "revision": self.revision,
            "commit": self.commit,
            "path": self.path,
            "files": list(self.files),
            "bytes": self.bytes,
            "fetched_bytes": self.fetched_bytes,
            "resumed_bytes": self.resumed_bytes,
        }


def download_job(
    repo_id: str,
    revision: str | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    cache_dir: str | None = None,
    cancel: CancelToken | None = None,
    *,
    endpoint: str | None = None,
    token: str | bool | None = None,
) -> Job[DownloadResult]:
    """Download ``repo_id`` at ``revision`` (default branch when None), the files matching ``include`` (all when
    empty) and not ``exclude``, into ``cache_dir`` (the hub cache huggingface_hub uses when None).

    Yields the ``DownloadPlan`` once the files are listed, ``FileProgress`` for the file being fetched, and
    ``Progress`` over all bytes (with the file and the speed in its message); returns a ``DownloadResult``.
    ``endpoint`` and ``token`` default to huggingface_hub's (``HF_ENDPOINT``, ``HF_TOKEN`` or the saved login).
    Raises ``DownloadFailed`` with a plain sentence, or ``Cancelled``; a stopped download resumes next time.
    """
    from huggingface_hub import constants

    cancel = cancel or CancelToken()
    shown = (endpoint or constants.ENDPOINT).rstrip("/")
    if constants.is_offline_mode():
        raise DownloadFailed(
            "huggingface_hub is in offline mode (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set in this environment): "
            "start Model Explorer without it to download"
        )
    transfer = _Transfer(
        repo_id=repo_id,
        revision=revision,
        include=[p for p in include if p],
        exclude=[p for p in exclude if p],
        cache_dir=os.path.abspath(os.path.expanduser(cache_dir or default_hub_cache())),
        endpoint=endpoint.rstrip("/") if endpoint else None,
        token=token,
    )
    yield Progress(0, None, f"asking {shown} about {repo_id}")
    worker = threading.Thread(target=transfer.run, name=f"download {repo_id}", daemon=True)
    worker.start()
    speed = _Speed()
    try:
        while worker.is_alive():
            worker.join(TICK_S)
            if cancel.cancelled:
                transfer.stop.set()
                worker.join(STOP_WAIT_S)  # the file's last chunk written and closed, when it comes soon
                raise Cancelled()
            yield from transfer.reports(speed)
        yield from transfer.reports(speed)
    finally:
        if worker.is_alive():  # closed early, or Ctrl-C: stop at the next chunk, leaving what arrived
            transfer.stop.set()
            worker.join(STOP_WAIT_S)
    if transfer.error is not None:
        if isinstance(transfer.error, Cancelled):
            raise transfer.error
        raise DownloadFailed(explain(transfer.error, repo_id, revision, shown, transfer.cache_dir)) from transfer.error
    assert transfer.result is not None
    return transfer.result


def explain(error: BaseException, repo_id: str, revision: str | None, endpoint: str, cache_dir: str) -> str:
    """One sentence for a failed download; an error we do not know is raised again (a bug, for the crash log)."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.utils import OfflineModeIsEnabled

    if isinstance(error, DownloadFailed):
        return str(error)
    chain = _causes(error)
    login = "log in with `hf auth login` or set HF_TOKEN"
    for cause in chain:
        if isinstance(cause, OfflineModeIsEnabled):
            return "huggingface_hub is in offline mode (HF_HUB_OFFLINE is set): unset it to download"
        if isinstance(cause, GatedRepoError):
            return f"{repo_id} is gated: accept its conditions on its page on the Hub, then {login}"
        if isinstance(cause, RevisionNotFoundError):
            return f"{repo_id} has no revision {revision!r} on {endpoint}"
        if isinstance(cause, RepositoryNotFoundError):
            return f"no repo {repo_id} on {endpoint} (if it is private, {login})"
        if isinstance(cause, RemoteEntryNotFoundError):
            return f"a file listed in {repo_id} is missing on {endpoint}; try again later"
        if isinstance(cause, HfHubHTTPError) and cause.response is not None:
            status = cause.response.status_code
            if status in (401, 403):
                return f"not allowed to download {repo_id} from {endpoint} ({status}): {login} with a token that can read it"
            return f"{endpoint} answered {status} for {repo_id}; try again later (what arrived is kept)"
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            return f"the disk holding {cache_dir} is full: free some space and start again (what arrived is kept)"
        if isinstance(cause, (httpx2.ConnectError, httpx2.TimeoutException, httpx2.RemoteProtocolError, httpx2.NetworkError)):
            return f"cannot reach {endpoint} ({_short(cause)}): check the network and start again (what arrived is kept)"
    raise error


def _causes(error: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:120]


@dataclass
class _Transfer:
    """The download itself, on a thread of its own; the job reads its state between waits."""

    repo_id: str
    revision: str | None
    include: list[str]
    exclude: list[str]
    cache_dir: str
    endpoint: str | None
    token: str | bool | None
    stop: threading.Event = field(default_factory=threading.Event)
    result: DownloadResult | None = None
    error: BaseException | None = None
    _plan: DownloadPlan | None = None
    _plan_sent: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _current: int = -1  # index of the file being fetched
    _fetched: int = 0  # received by this run
    _done: list[int] = field(default_factory=list)  # bytes present per file of the plan
    _done_sent: list[int] = field(default_factory=list)

    # -- thread side

    def run(self) -> None:
        try:
            self.result = self._download()
        except BaseException as exc:  # handed to the job, which words it or raises it on its own thread
            self.error = exc

    def _download(self) -> DownloadResult:
        from huggingface_hub import HfApi, hf_hub_download, snapshot_download
        from huggingface_hub.hf_api import RepoFile
        from huggingface_hub.utils import filter_repo_objects

        api = HfApi(endpoint=self.endpoint, token=self.token)
        resolved = api.resolve_revision(self.repo_id, revision=self.revision, cache_dir=self.cache_dir)
        commit = resolved.resolved
        self._check_stop()
        listing = {f.path: f for f in api.list_repo_tree(self.repo_id, recursive=True, revision=commit) if isinstance(f, RepoFile)}
        names = list(filter_repo_objects(sorted(listing), allow_patterns=self.include or None, ignore_patterns=self.exclude or None))
        if not names:
            wanted = f" matching {', '.join(self.include)}" if self.include else ""
            unwanted = f" outside {', '.join(self.exclude)}" if self.exclude else ""
            raise DownloadFailed(f"{self.repo_id} at {resolved} has no file{wanted}{unwanted}")
        storage = os.path.join(self.cache_dir, _folder(self.repo_id))
        files = tuple(RemoteFile(n, _size(listing[n]), self._present(storage, commit, n, listing[n])) for n in names)
        plan = DownloadPlan(self.repo_id, str(resolved), commit, files)
        with self._lock:
            self._plan = plan
            self._done = [f.present for f in files]
        _check_space(self.cache_dir, plan.total_bytes - plan.present_bytes)
        bar = _file_bar(self)
        quiet = _quiet_bar(self)
        resumed = 0
        for index, remote in enumerate(files):
            self._check_stop()
            with self._lock:
                self._current = index
            if not os.path.lexists(os.path.join(storage, "snapshots", commit, *remote.name.split("/"))):
                resumed += self._fetch_blob(storage, commit, remote, bar)
                hf_hub_download(
                    self.repo_id, remote.name, revision=resolved, cache_dir=self.cache_dir,
                    endpoint=self.endpoint, token=self.token, tqdm_class=quiet,
                )
            with self._lock:
                self._done[index] = remote.size
        with self._lock:
            self._current = len(files)
        self._check_stop()
        path = snapshot_download(
            self.repo_id, revision=resolved, cache_dir=self.cache_dir, endpoint=self.endpoint, token=self.token,
            allow_patterns=self.include or None, ignore_patterns=self.exclude or None, tqdm_class=quiet,
        )
        return DownloadResult(self.repo_id, str(resolved), commit, str(path), tuple(names), plan.total_bytes, self._fetched, resumed)

    def _present(self, storage: str, commit: str, name: str, entry) -> int:
        """Bytes of ``name`` already here: whole when linked or its blob exists, else an earlier partial's."""
        size = _size(entry)
        if os.path.lexists(os.path.join(storage, "snapshots", commit, *name.split("/"))):
            return size
        blob = os.path.join(storage, "blobs", entry.lfs.sha256 if entry.lfs is not None else entry.blob_id)
        if os.path.exists(blob):
            return size
        try:
            return min(size, os.path.getsize(blob + ".incomplete"))
        except OSError:
            return 0

    def _fetch_blob(self, storage: str, commit: str, remote: RemoteFile, bar) -> int:
        """Bring the file's blob into ``blobs/``, resuming an earlier partial; returns the bytes resumed."""
        from huggingface_hub import get_hf_file_metadata, hf_hub_url
        from huggingface_hub.file_download import http_get
        from huggingface_hub.utils import WeakFileLock, build_hf_headers

        url = hf_hub_url(self.repo_id, remote.name, revision=commit, endpoint=self.endpoint)
        meta = get_hf_file_metadata(url, token=self.token, endpoint=self.endpoint)
        if not meta.etag:
            raise DownloadFailed(f"{url} did not say which content it serves (no ETag): is HF_ENDPOINT a Hub?")
        blob = os.path.join(storage, "blobs", meta.etag)
        partial = blob + ".incomplete"
        os.makedirs(os.path.dirname(blob), exist_ok=True)
        lock = os.path.join(self.cache_dir, ".locks", _folder(self.repo_id), f"{meta.etag}.lock")
        os.makedirs(os.path.dirname(lock), exist_ok=True)
        # The library's lock for this blob: its own download of the same file waits for ours, and ours for it.
        with WeakFileLock(lock):
            if os.path.exists(blob):
                return 0
            resumed = os.path.getsize(partial) if os.path.exists(partial) else 0
            if meta.size is not None and resumed > meta.size:
                os.truncate(partial, 0)
                resumed = 0
            location = urljoin(url, meta.location)
            headers = build_hf_headers(token=self.token)
            if _origin(location) != _origin(url):
                headers.pop("authorization", None)  # a signed CDN address: the token stays on the Hub
            with open(partial, "ab") as handle:
                http_get(location, handle, resume_size=resumed, headers=headers, expected_size=meta.size,
                         displayed_filename=remote.name, tqdm_class=bar)
            if resumed and _SHA256.fullmatch(meta.etag) and _sha256(partial) != meta.etag:
                # The kept part was not the start of this file (written by something else): once more, whole.
                os.truncate(partial, 0)
                resumed = 0
                with self._lock:
                    self._done[self._current] = 0
                with open(partial, "ab") as handle:
                    http_get(location, handle, headers=headers, expected_size=meta.size,
                             displayed_filename=remote.name, tqdm_class=bar)
            os.replace(partial, blob)
        return resumed

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise Cancelled()

    def _received(self, count: int) -> None:
        if self.stop.is_set():
            raise Cancelled()  # inside http_get, before the chunk is written: the partial stays a clean prefix
        with self._lock:
            self._done[self._current] += count
            self._fetched += count

    # -- job side

    def reports(self, speed: "_Speed") -> Iterable:
        """What changed since the last call: the plan once, each file whose bytes moved, then the total."""
        with self._lock:
            plan, current, done, fetched = self._plan, self._current, list(self._done), self._fetched
        if plan is None:
            return
        if not self._plan_sent:
            self._plan_sent = True
            self._done_sent = [-1] * len(done)
            yield plan
        count = len(plan.files)
        for index, remote in enumerate(plan.files):
            if done[index] != self._done_sent[index] and (index <= current or done[index] == remote.size):
                self._done_sent[index] = done[index]
                yield FileProgress(remote.name, min(done[index], remote.size), remote.size, index, count)
        rate = speed.add(fetched)
        if 0 <= current < count:
            remote = plan.files[current]
            text = f"{remote.name} ({current + 1} of {count}): {human_bytes(min(done[current], remote.size))} of {human_bytes(remote.size)}"
        else:
            text = f"{count} file{'s' if count != 1 else ''}, {human_bytes(plan.total_bytes)}"
        if rate:
            text += f", {human_bytes(int(rate))}/s"
        yield Progress(sum(min(d, f.size) for d, f in zip(done, plan.files)), plan.total_bytes, text)


def _file_bar(transfer: _Transfer):
    """A progress class for ``http_get``: it counts the file's bytes and stops the download when asked."""

    class FileBar(_QuietBar):
        def update(self, n: float | None = 1) -> None:
            transfer._received(int(n or 0))

    return FileBar


def _quiet_bar(transfer: _Transfer):
    class QuietBar(_QuietBar):
        def update(self, n: float | None = 1) -> None:
            transfer._check_stop()

    return QuietBar


class _QuietBar:
    """Enough of tqdm for huggingface_hub's calls (it accepts any class with this shape); shows nothing."""

    def __init__(self, *args, **kwargs) -> None:
        self.n = kwargs.get("initial") or 0
        self.total = kwargs.get("total")
        self.format_dict = {"rate": None}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def update(self, n: float | None = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def refresh(self, *args, **kwargs) -> None:
        pass

    def set_description(self, *args, **kwargs) -> None:
        pass

    def set_description_str(self, *args, **kwargs) -> None:
        pass

    def set_postfix_str(self, *args, **kwargs) -> None:
        pass


class _Speed:
    """Bytes per second over the last few seconds."""

    def __init__(self) -> None:
        self._points: deque[tuple[float, int]] = deque()

    def add(self, total: int) -> float | None:
        now = time.monotonic()
        self._points.append((now, total))
        while len(self._points) > 2 and now - self._points[0][0] > SPEED_WINDOW_S:
            self._points.popleft()
        (first_time, first_total) = self._points[0]
        if now - first_time < 0.5:
            return None
        return (total - first_total) / (now - first_time)


def _folder(repo_id: str) -> str:
    from huggingface_hub.file_download import repo_folder_name

    return repo_folder_name(repo_id=repo_id, repo_type="model")


def _size(entry) -> int:
    return entry.lfs.size if entry.lfs is not None else entry.size


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check_space(cache_dir: str, needed: int) -> None:
    place = cache_dir
    while not os.path.isdir(place) and os.path.dirname(place) != place:
        place = os.path.dirname(place)
    try:
        free = shutil.disk_usage(place).free
    except OSError:
        return
    if needed > free:
        raise DownloadFailed(
            f"not enough space for this download: it needs {human_bytes(needed)} more and {place} has {human_bytes(free)} free"
        )
