"""Find the same content stored more than once: across repos of a hub cache, Ollama's store and the user's folders.

Hashing everything would take as long as verifying everything, so the work narrows down: files are
grouped by size (a stat each), only sizes held by two or more distinct files go further; among those
a sample of each file (its first, middle and last 64 KiB) sets apart files that differ (two
fine-tunes of one model have the same size and header, not the same last bytes), and only files
still alike are hashed whole. A sha256 already known is used instead of reading: remembered by
verify or an earlier search (``HashMemory``), or, when asked, the hub blob's own name.

One content behind several names (revisions sharing a blob, hard links) is one copy and wastes
nothing; the space a group wastes is its size times its copies beyond the first.
"""

from __future__ import annotations

import os
import stat
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from explorer.core.checkpoint import display_text
from explorer.core.hash_memory import HashMemory, save_into
from explorer.core.hashing import GIT_SHA1, SHA256, Reader, expected_digest, identity_of, sample_key
from explorer.core.jobs import CancelToken, Job
from explorer.core.safe_io import UnreadableFile, human_size
from explorer.core.verify import PROGRESS_SECONDS, HashingProgress, VerifyProgress
from explorer.core.verify_targets import BlobTarget, Targets, listed

# Smaller files waste little, and there are many of them (configs, tokenizers shared by every fine-tune).
DEFAULT_MIN_SIZE = 1 << 20
_SAMPLE_SPAN = 1 << 16


@dataclass(frozen=True, slots=True)
class Copy:
    """One stored instance of the content: one inode, under one or more paths and names."""

    device: int
    inode: int
    paths: tuple[str, ...]
    uses: tuple[str, ...]  # how the user knows it: org/name@revision/file, or a folder's file path
    digest_source: str  # "hashed", "remembered" or "blob name"

    def to_json(self) -> dict:
        return {
            "device": self.device,
            "inode": self.inode,
            "paths": [display_text(p) for p in self.paths],
            "uses": [display_text(u) for u in self.uses],
            "digest_source": self.digest_source,
        }


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    sha256: str
    size: int
    copies: tuple[Copy, ...]

    @property
    def wasted_bytes(self) -> int:
        return self.size * (len(self.copies) - 1)

    @property
    def on_one_device(self) -> bool:
        """All copies on one file system: they could become hard links of one another."""
        return len({c.device for c in self.copies}) == 1

    def to_json(self) -> dict:
        return {
            "sha256": self.sha256,
            "size": self.size,
            "wasted_bytes": self.wasted_bytes,
            "on_one_device": self.on_one_device,
            "copies": [c.to_json() for c in self.copies],
        }


@dataclass(slots=True)
class DuplicatesReport:
    groups: list[DuplicateGroup] = field(default_factory=list)  # most space wasted first
    files_considered: int = 0  # distinct contents at least min_size large
    bytes_hashed: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # files that could not be read (left out)

    @property
    def wasted_bytes(self) -> int:
        return sum(g.wasted_bytes for g in self.groups)

    def to_json(self) -> dict:
        return {
            "groups": [g.to_json() for g in self.groups],
            "totals": {
                "groups": len(self.groups),
                "wasted_bytes": self.wasted_bytes,
                "files_considered": self.files_considered,
                "bytes_hashed": self.bytes_hashed,
                "seconds": round(self.seconds, 3),
            },
            "problems": list(self.problems),
        }


@dataclass(slots=True)
class _Content:
    """What one inode is known as while the search runs."""

    st: os.stat_result
    paths: list[str]
    uses: list[str]
    blob: str | None  # a content-named blob's name, when it is one
    sha256: str | None = None
    source: str = ""


def duplicates_job(
    targets: Targets,
    cancel: CancelToken | None = None,
    memory: HashMemory | None = None,
    min_size: int = DEFAULT_MIN_SIZE,
    trust_blob_names: bool = False,
) -> Job[DuplicatesReport]:
    """Groups of files with the same content among ``targets`` (verify_targets builds them from a cache,
    a repo or scanned checkpoints; a function returning them is called in the job, in the worker). Yields each ``DuplicateGroup`` once confirmed, largest files first,
    and ``VerifyProgress`` in bytes while hashing; returns the report.

    ``trust_blob_names``: a hub blob named by its sha256 is taken at its word (no reading at all);
    a corrupt blob would then be counted as a copy of its good twin: verify tells them apart.
    """
    cancel = cancel or CancelToken()
    started = time.perf_counter()
    report = DuplicatesReport()
    yield VerifyProgress(0, None, "Listing files by size")
    contents = _contents_by_inode(listed(targets), min_size, cancel, report)
    report.files_considered = len(contents)
    by_size: dict[int, list[_Content]] = defaultdict(list)
    for content in contents.values():
        by_size[content.st.st_size].append(content)
    alike = [group for group in by_size.values() if len(group) > 1]
    for group in alike:
        for content in group:
            _known_digest(content, memory, trust_blob_names)
    alike = yield from _set_apart_by_sample(alike, cancel, report)
    try:
        yield from _hash_and_group(alike, cancel, memory, report)
    finally:
        save_into(memory, report.problems)
        report.seconds = time.perf_counter() - started
    report.groups.sort(key=lambda g: (-g.wasted_bytes, g.sha256))
    return report


def _contents_by_inode(targets: Iterable[BlobTarget], min_size: int, cancel: CancelToken, report: DuplicatesReport) -> dict:
    contents: dict[tuple[int, int], _Content] = {}
    for index, target in enumerate(targets):
        if index % 1000 == 0:
            cancel.raise_if_cancelled()
        try:
            st = os.stat(target.path)
        except OSError:
            continue  # missing blobs are verify's to report
        if not stat.S_ISREG(st.st_mode) or st.st_size < min_size:
            continue
        content = contents.get((st.st_dev, st.st_ino))
        named = expected_digest(target.blob) if target.named_by_content else None
        if content is None:
            content = contents[(st.st_dev, st.st_ino)] = _Content(st, [], [], target.blob if named else None)
        if target.path not in content.paths:
            content.paths.append(target.path)
        for use in target.uses or (None,):
            label = str(use) if use is not None else display_text(target.path)
            if label not in content.uses:
                content.uses.append(label)
    return contents


def _known_digest(content: _Content, memory: HashMemory | None, trust_blob_names: bool) -> None:
    if memory is not None:
        known = memory.digest(identity_of(content.st), SHA256)
        if known is not None:
            content.sha256, content.source = known, "remembered"
            return
    named = expected_digest(content.blob) if content.blob else None
    if trust_blob_names and named is not None and named[0] == SHA256:
        content.sha256, content.source = named[1], "blob name"


def _set_apart_by_sample(groups: list[list[_Content]], cancel: CancelToken, report: DuplicatesReport) -> Job[list[list[_Content]]]:
    """The same-size groups with files whose samples differ from every other's taken out."""
    kept: list[list[_Content]] = []
    for index, group in enumerate(groups):
        cancel.raise_if_cancelled()
        size = group[0].st.st_size
        if all(c.sha256 is not None for c in group) or size <= 3 * _SAMPLE_SPAN:
            kept.append(group)  # nothing to read, or the sample would be the whole file
            continue
        yield VerifyProgress(index, len(groups), f"Comparing samples of files of {human_size(size)}")
        by_sample: dict[bytes, list[_Content]] = defaultdict(list)
        for content in group:
            try:
                by_sample[sample_key(content.paths[0], size, _SAMPLE_SPAN)].append(content)
            except UnreadableFile as exc:
                report.problems.append(str(exc))
        kept.extend(alike for alike in by_sample.values() if len(alike) > 1)
    return kept


def _hash_and_group(groups: list[list[_Content]], cancel: CancelToken, memory: HashMemory | None, report: DuplicatesReport) -> Job[None]:
    groups.sort(key=lambda g: -g[0].st.st_size)  # the largest waste is found first
    progress = HashingProgress(sum(c.st.st_size for group in groups for c in group if c.sha256 is None), "Hashing", PROGRESS_SECONDS)
    reader = Reader()
    for group in groups:
        for content in group:
            if content.sha256 is not None:
                continue
            path = content.paths[0]
            label = content.uses[0] if content.uses else display_text(path)
            algorithms = (SHA256, GIT_SHA1) if content.blob and expected_digest(content.blob)[0] == GIT_SHA1 else (SHA256,)
            read_started_ns = time.time_ns()
            file_start = progress.done
            yield progress.tell(label)
            try:
                hashed = yield from progress.hash_file(reader, path, algorithms, cancel, label)
            except UnreadableFile as exc:
                progress.done = file_start + content.st.st_size
                report.problems.append(str(exc))
                continue
            report.bytes_hashed += hashed.size
            content.sha256, content.source = hashed.digests[SHA256], "hashed"
            if memory is not None:
                memory.remember(hashed.identity, hashed.digests, read_started_ns)
        by_digest: dict[str, list[_Content]] = defaultdict(list)
        for content in group:
            if content.sha256 is not None:
                by_digest[content.sha256].append(content)
        for digest, same in sorted(by_digest.items()):
            if len(same) > 1:
                copies = tuple(
                    Copy(c.st.st_dev, c.st.st_ino, tuple(c.paths), tuple(c.uses), c.source) for c in sorted(same, key=lambda c: c.uses)
                )
                duplicate = DuplicateGroup(digest, same[0].st.st_size, copies)
                report.groups.append(duplicate)
                yield duplicate
    if progress.total:
        yield VerifyProgress(progress.total, progress.total, f"Hashed {human_size(report.bytes_hashed)}")


__all__ = ["DEFAULT_MIN_SIZE", "Copy", "DuplicateGroup", "DuplicatesReport", "duplicates_job"]
