"""`model-explorer verify` and `model-explorer duplicates`: the cache checked offline, on the window's core."""

from __future__ import annotations

import json
import os
import sys

from explorer.core.checkpoint import display_text
from explorer.core.formatting import human_bytes

EXIT_CORRUPT = 1
EXIT_NOT_FOUND = 2


def add_commands(sub) -> None:
    from explorer.core.duplicates import DEFAULT_MIN_SIZE

    verify = sub.add_parser("verify", help="check offline that cached files are intact (each blob re-hashed against its name)")
    verify.add_argument(
        "target",
        nargs="?",
        metavar="PATH_OR_REPO",
        help="a repo id in the hub cache (org/name[@revision]), a repo or snapshot folder, a hub cache, a folder or a file",
    )
    verify.add_argument("--all", action="store_true", help="verify every blob of the hub cache")
    verify.add_argument("--hub-cache", metavar="DIR", help="the hub cache to look in (default: the one huggingface_hub uses)")
    verify.add_argument("--recheck", action="store_true", help="read every file, even those unchanged since they were last verified")
    verify.add_argument("--json", action="store_true", help="print a JSON object: files with their verdicts, and totals")
    verify.set_defaults(handler=cmd_verify)

    duplicates = sub.add_parser("duplicates", help="find the same content stored more than once, and the space it wastes")
    duplicates.add_argument("--hub-cache", action="append", default=[], metavar="DIR", help="look in this hub cache (repeatable)")
    duplicates.add_argument("--folder", action="append", default=[], metavar="DIR", help="look in this folder (repeatable)")
    duplicates.add_argument(
        "--min-size", type=int, default=DEFAULT_MIN_SIZE, metavar="BYTES", help=f"leave out smaller files (default {DEFAULT_MIN_SIZE})"
    )
    duplicates.add_argument(
        "--trust-names", action="store_true", help="take a hub blob named by its sha256 at its word instead of reading it (fast; verify finds corrupt ones)"
    )
    duplicates.add_argument("--json", action="store_true", help="print a JSON object: groups of copies, and totals")
    duplicates.set_defaults(handler=cmd_duplicates)


class _ProgressLine:
    """One line on stderr rewritten in place, only where someone watches it (a terminal)."""

    def __init__(self) -> None:
        self.shown = sys.stderr.isatty()
        self._width = 0

    def __call__(self, item) -> None:
        from explorer.core.jobs import Progress

        if not self.shown or not isinstance(item, Progress):
            return
        percent = f"{item.fraction:4.0%} " if item.fraction is not None else ""
        text = display_text(f"{percent}{item.message}")[:120]
        sys.stderr.write("\r" + text.ljust(self._width))
        sys.stderr.flush()
        self._width = len(text)

    def clear(self) -> None:
        if self.shown and self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()


def cmd_verify(args) -> int:
    from explorer.core.cache_places import default_hub_cache
    from explorer.core.hash_memory import HashMemory
    from explorer.core.jobs import run_to_end
    from explorer.core.verify import verify_job
    from explorer.core.verify_targets import TargetNotFound, find_targets

    if args.all == bool(args.target):
        print("model-explorer: name what to verify (a repo, a folder or a file), or use --all for the whole cache", file=sys.stderr)
        return EXIT_NOT_FOUND
    hub_cache = os.path.abspath(os.path.expanduser(args.hub_cache)) if args.hub_cache else default_hub_cache()
    try:
        targets = find_targets(args.target, hub_cache, everything=args.all)
    except TargetNotFound as exc:
        print(f"model-explorer: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    progress = _ProgressLine()
    try:
        report = run_to_end(verify_job(targets, memory=HashMemory.load(), recheck=args.recheck), progress)
    finally:
        progress.clear()
    for note in report.notes:
        print(f"model-explorer: {note}", file=sys.stderr)
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_verify_report(report)
    return EXIT_CORRUPT if report.corrupt else 0


def _names(uses, path: str) -> str:
    if not uses:
        return f"{display_text(path)} (no revision uses it)"
    more = f" (and {len(uses) - 1} other name{'s' if len(uses) > 2 else ''})" if len(uses) > 1 else ""
    return f"{uses[0]}{more}"


def _print_verify_report(report) -> None:
    from explorer.core.verify import Verdict, speed_text

    for entry in report.ordered():
        name = _names(entry.uses, entry.path)
        if entry.verdict is Verdict.CORRUPT:
            why = f"{entry.algorithm} is {entry.actual}, its name says {entry.expected}"
        elif entry.verdict is Verdict.MISSING:
            why = f"blob {display_text(entry.blob)} is not in the cache"
        elif entry.verdict is Verdict.OK:
            why = "remembered, unchanged" if entry.remembered else ""
        else:
            why = entry.detail
        label = entry.verdict.value.replace("_", " ")
        print(f"{label.upper() if entry.verdict is not Verdict.OK else label:<14} {name}" + (f"  ({why})" if why else ""))
    counts = report.counts
    said = ", ".join(f"{counts[v.value]} {v.value.replace('_', ' ')}" for v in Verdict if counts[v.value])
    speed = f" ({speed_text(report.bytes_per_second)})" if report.bytes_hashed else ""
    remembered = f"; {human_bytes(report.bytes_remembered)} remembered unchanged from earlier runs (--recheck reads them)" if report.bytes_remembered else ""
    print(
        f"\n{len(report.files)} file{'s' if len(report.files) != 1 else ''}: {said or 'nothing to verify'}; "
        f"{human_bytes(report.bytes_hashed)} read in {report.seconds:.2f} s{speed}{remembered}"
    )


def cmd_duplicates(args) -> int:
    from explorer.core.discovery import Scanner
    from explorer.core.duplicates import duplicates_job
    from explorer.core.hash_memory import HashMemory
    from explorer.core.jobs import run_to_end
    from explorer.core.locations import ScanPlaces
    from explorer.core.verify_targets import checkpoint_targets

    places = ScanPlaces.from_command_line(args.hub_cache, args.folder)
    notices: list[str] = []
    locations = places.locations(notices=notices)
    for notice in notices:
        print(f"model-explorer: {display_text(notice)}", file=sys.stderr)
    checkpoints, _ = run_to_end(Scanner(index_path=places.index_path()).scan(locations))
    progress = _ProgressLine()
    try:
        job = duplicates_job(
            checkpoint_targets(checkpoints), memory=HashMemory.load(), min_size=max(0, args.min_size), trust_blob_names=args.trust_names
        )
        report = run_to_end(job, progress)
    finally:
        progress.clear()
    for problem in report.problems:
        print(f"model-explorer: {display_text(problem)}", file=sys.stderr)
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for group in report.groups:
        print(f"{len(group.copies)} copies of {human_bytes(group.size)} (sha256 {group.sha256[:16]}…), {human_bytes(group.wasted_bytes)} wasted:")
        for copy in group.copies:
            others = [u for u in copy.uses[1:]]
            also = f"  (same file also as: {', '.join(others)})" if others else ""
            print(f"  {copy.uses[0] if copy.uses else display_text(copy.paths[0])}{also}")
    count = len(report.groups)
    print(
        f"\n{human_bytes(report.wasted_bytes)} wasted in {count} group{'s' if count != 1 else ''} of duplicates; "
        f"{report.files_considered} files considered, {human_bytes(report.bytes_hashed)} read in {report.seconds:.2f} s"
    )
    return 0


__all__ = ["add_commands", "cmd_duplicates", "cmd_verify"]
