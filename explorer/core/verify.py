"""Verify offline that cached files are what their names say: each blob re-hashed against its name.

The hub names an LFS blob by its sha256 and any other blob by its git sha1, so a download cut
short, a disk error or a byte flipped in place (same size, which no size check sees) shows as a
digest that differs from the name. ``verify_job`` is a job (``explorer.core.jobs``): the window
runs it in a worker, the command line drives it to the end. It yields a ``FileVerdict`` for each
file as soon as it is known (those remembered from an earlier run first, without reading), and
``VerifyProgress`` with bytes done, bytes to do and the speed while it reads.
"""

from __future__ import annotations

import enum
import os
import stat
import time
from dataclasses import dataclass, field

from explorer.core.checkpoint import display_text
from explorer.core.hash_memory import HashMemory, save_into
from explorer.core.hashing import GIT_SHA1, SHA256, Hashed, Reader, expected_digest, identity_of
from explorer.core.jobs import CancelToken, Job, Progress
from explorer.core.safe_io import UnreadableFile, human_size
from explorer.core.verify_targets import BlobTarget, BlobUse, Targets, listed

# The window's progress bar needs a few updates a second, not one per chunk.
PROGRESS_SECONDS = 0.1


class Verdict(str, enum.Enum):
    OK = "ok"
    CORRUPT = "corrupt"  # the content does not hash to the blob's name
    MISSING = "missing"  # a revision links to a blob that is not there
    NOT_CHECKABLE = "not_checkable"  # its name is no content hash (a plain file): nothing to compare with
    UNREADABLE = "unreadable"  # it could not be read whole (permissions, I/O error, changed while read)


# The order the command line lists them in: what needs the user first.
VERDICT_ORDER = (Verdict.CORRUPT, Verdict.MISSING, Verdict.UNREADABLE, Verdict.NOT_CHECKABLE, Verdict.OK)


@dataclass(frozen=True, slots=True)
class FileVerdict:
    path: str  # the file read (a blob)
    blob: str
    uses: tuple[BlobUse, ...]
    verdict: Verdict
    algorithm: str | None = None  # sha256 or git-sha1; None when not checkable
    expected: str | None = None
    actual: str | None = None
    size: int | None = None  # bytes, None when missing
    remembered: bool = False  # the digest came from an earlier run: the file was not read again
    detail: str = ""  # why it was unreadable or not checkable

    @property
    def label(self) -> str:
        return str(self.uses[0]) if self.uses else display_text(self.path)

    def to_json(self) -> dict:
        return {
            "path": display_text(self.path),
            "blob": display_text(self.blob),
            "uses": [use.to_json() for use in self.uses],
            "verdict": self.verdict.value,
            "algorithm": self.algorithm,
            "expected": self.expected,
            "actual": self.actual,
            "size": self.size,
            "remembered": self.remembered,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class VerifyProgress(Progress):
    """Progress in bytes (done of total to read), with the current file and the reading speed so far."""

    file: str = ""
    bytes_per_second: float = 0.0


@dataclass(slots=True)
class VerifyReport:
    files: list[FileVerdict] = field(default_factory=list)
    bytes_hashed: int = 0  # read and hashed in this run
    bytes_remembered: int = 0  # judged from memory, not read
    seconds: float = 0.0
    hashing_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # memory that could not be saved or was ignored

    def with_verdict(self, verdict: Verdict) -> list[FileVerdict]:
        return [f for f in self.files if f.verdict is verdict]

    @property
    def counts(self) -> dict[str, int]:
        counts = {verdict.value: 0 for verdict in Verdict}
        for entry in self.files:
            counts[entry.verdict.value] += 1
        return counts

    @property
    def corrupt(self) -> list[FileVerdict]:
        return self.with_verdict(Verdict.CORRUPT)

    @property
    def intact(self) -> bool:
        """Nothing corrupt and nothing missing."""
        return not any(f.verdict in (Verdict.CORRUPT, Verdict.MISSING) for f in self.files)

    @property
    def total_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files)

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_hashed / self.hashing_seconds if self.hashing_seconds > 0 else 0.0

    def ordered(self) -> list[FileVerdict]:
        """Corrupt first, then missing, unreadable, not checkable, ok; by name within each."""
        rank = {verdict: index for index, verdict in enumerate(VERDICT_ORDER)}
        return sorted(self.files, key=lambda f: (rank[f.verdict], f.label))

    def to_json(self) -> dict:
        return {
            "files": [f.to_json() for f in self.ordered()],
            "totals": {
                "files": len(self.files),
                **self.counts,
                "bytes": self.total_bytes,
                "bytes_hashed": self.bytes_hashed,
                "bytes_remembered": self.bytes_remembered,
                "seconds": round(self.seconds, 3),
                "bytes_per_second": round(self.bytes_per_second),
            },
            "notes": list(self.notes),
        }


def speed_text(bytes_per_second: float) -> str:
    return f"{bytes_per_second / 1e6:,.0f} MB/s"


def _algorithms(algorithm: str) -> tuple[str, ...]:
    # A git-sha1 blob is small: its sha256 costs little more and lets duplicates compare it with any file.
    return (GIT_SHA1, SHA256) if algorithm == GIT_SHA1 else (SHA256,)


def verify_job(
    targets: Targets,
    cancel: CancelToken | None = None,
    memory: HashMemory | None = None,
    recheck: bool = False,
) -> Job[VerifyReport]:
    """Hash every target whose name is a content hash and compare; returns the report.

    ``targets``: BlobTargets, or a function returning them (called in the job: in the worker).

    ``memory``: digests of unchanged files are taken from it and new ones added (saved at the
    end, or when cancelled, so an interrupted run is not read again). ``recheck`` reads every
    file even when remembered (the memory is still updated).
    """
    cancel = cancel or CancelToken()
    started = time.perf_counter()
    report = VerifyReport()
    yield VerifyProgress(0, None, "Listing the files to verify")
    targets = listed(targets)
    if memory is not None and memory.ignored_file:
        report.notes.append("the remembered results could not be trusted (altered or from another version); everything is read again")
    pending: list[tuple[BlobTarget, str, str, os.stat_result]] = []
    for target in targets:
        cancel.raise_if_cancelled()
        verdict, todo = _without_reading(target, memory, recheck)
        if todo is not None:
            pending.append(todo)
            continue
        report.files.append(verdict)
        if verdict.remembered:
            report.bytes_remembered += verdict.size or 0
        yield verdict
    try:
        yield from _hash_pending(pending, cancel, memory, report)
    finally:
        save_into(memory, report.notes)
        report.seconds = time.perf_counter() - started
    return report


def _without_reading(target: BlobTarget, memory: HashMemory | None, recheck: bool):
    """(verdict, None) when the file need not be read; (None, work) when it must be hashed."""
    expected = expected_digest(target.blob) if target.named_by_content else None

    def verdict(kind: Verdict, size: int | None = None, detail: str = "", **digests) -> FileVerdict:
        algorithm, wanted = expected if expected is not None else (None, None)
        return FileVerdict(target.path, target.blob, target.uses, kind, algorithm, wanted, size=size, detail=detail, **digests)

    try:
        st = os.stat(target.path)
    except FileNotFoundError:
        return verdict(Verdict.MISSING, detail="the blob this file links to is not in the cache"), None
    except OSError as exc:
        return verdict(Verdict.UNREADABLE, detail=f"cannot be read ({exc.strerror or exc})"), None
    if not stat.S_ISREG(st.st_mode):
        return verdict(Verdict.UNREADABLE, detail="not a regular file (a folder, FIFO, socket or device); not read"), None
    if expected is None:
        return verdict(Verdict.NOT_CHECKABLE, st.st_size, "its name is not a content hash: there is nothing to compare it with"), None
    if memory is not None and not recheck:
        known = memory.digest(identity_of(st), expected[0])
        if known is not None:
            kind = Verdict.OK if known == expected[1] else Verdict.CORRUPT
            return verdict(kind, st.st_size, actual=known, remembered=True), None
    return None, (target, expected[0], expected[1], st)


class HashingProgress:
    """Bytes hashed out of a total, told as VerifyProgress a few times a second with the speed so far.

    Verify and duplicates both read files whole through it: one place for the bar, the speed and the words.
    """

    def __init__(self, total: int, verb: str, every: float) -> None:
        self.total, self.verb, self.every = total, verb, every
        self.done = 0
        self.started = time.perf_counter()
        self._told = 0.0

    def tell(self, label: str) -> VerifyProgress:
        clock = time.perf_counter()
        self._told = clock
        speed = measured_speed(self.done, clock - self.started)
        rate = f" at {speed_text(speed)}" if speed else ""
        text = f"{self.verb} {display_text(label)}: {human_size(self.done)} of {human_size(self.total)}{rate}"
        return VerifyProgress(self.done, self.total, text, label, speed)

    def hash_file(self, reader: Reader, path: str, algorithms: tuple[str, ...], cancel: CancelToken, label: str) -> Job[Hashed]:
        """Reads one file through ``reader``, telling progress on the way; returns its Hashed (UnreadableFile passes)."""
        reading = reader.hash_file(path, algorithms, cancel)
        while True:
            try:
                self.done += next(reading)
            except StopIteration as stop:
                return stop.value
            if time.perf_counter() - self._told >= self.every:
                yield self.tell(label)


def _hash_pending(pending, cancel: CancelToken, memory: HashMemory | None, report: VerifyReport) -> Job[None]:
    progress = HashingProgress(sum(st.st_size for *_, st in pending), "Verifying", PROGRESS_SECONDS)
    reader = Reader()
    # Two paths to one inode (hard links) are read once.
    read_before: dict[tuple[int, int], Hashed] = {}
    for target, algorithm, wanted, st in pending:
        label = str(target.uses[0].file) if target.uses else os.path.basename(target.path)
        yield progress.tell(label)
        hashed = read_before.get((st.st_dev, st.st_ino))
        file_start = progress.done
        try:
            if hashed is None or algorithm not in hashed.digests or hashed.identity != identity_of(st):
                read_started_ns = time.time_ns()
                hashed = yield from progress.hash_file(reader, target.path, _algorithms(algorithm), cancel, label)
                read_before[(st.st_dev, st.st_ino)] = hashed
                report.bytes_hashed += hashed.size
                if memory is not None:
                    memory.remember(hashed.identity, hashed.digests, read_started_ns)
            else:
                progress.done += st.st_size
        except UnreadableFile as exc:
            progress.done = file_start + st.st_size  # the bar moves past the file it could not finish
            kind = Verdict.MISSING if exc.missing else Verdict.UNREADABLE
            entry = FileVerdict(target.path, target.blob, target.uses, kind, algorithm, wanted, size=st.st_size, detail=str(exc))
        else:
            actual = hashed.digests[algorithm]
            kind = Verdict.OK if actual == wanted else Verdict.CORRUPT
            entry = FileVerdict(target.path, target.blob, target.uses, kind, algorithm, wanted, actual, hashed.size)
        finally:
            report.hashing_seconds = time.perf_counter() - progress.started
        report.files.append(entry)
        yield entry
    if pending:
        speed = report.bytes_per_second
        total = progress.total
        yield VerifyProgress(total, total, f"Verified {human_size(total)} at {speed_text(speed)}", "", speed)


def measured_speed(done: int, seconds: float) -> float:
    """Bytes per second so far; 0 (not shown) until there is enough of a run to measure."""
    return done / seconds if seconds >= PROGRESS_SECONDS and done else 0.0


__all__ = ["FileVerdict", "HashingProgress", "Verdict", "VerifyProgress", "VerifyReport", "measured_speed", "speed_text", "verify_job"]
