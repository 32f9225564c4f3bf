"""`model-explorer download`: the one command that goes online, and only when run (explorer.core.download)."""

from __future__ import annotations

import json
import sys
import time

from explorer.core.formatting import human_bytes
from explorer.core.safe_io import one_line

# A status line on a terminal is redrawn at most this often; piped stderr gets one line per file instead.
REDRAW_S = 0.2


def add_commands(sub) -> None:
    download = sub.add_parser(
        "download",
        help="download a repo from the Hub into the hub cache (huggingface_hub's HF_ENDPOINT, HF_TOKEN and cache)",
    )
    download.add_argument("repo", help="the repo id, org/name")
    download.add_argument("--revision", metavar="R", help="a branch, tag or commit (default: the repo's default branch)")
    download.add_argument("--include", action="append", default=[], metavar="PATTERN", help="download only files matching this pattern (repeatable)")
    download.add_argument("--exclude", action="append", default=[], metavar="PATTERN", help="leave out files matching this pattern (repeatable)")
    download.add_argument("--hub-cache", metavar="DIR", help="download into this hub cache (default: huggingface_hub's)")
    download.add_argument("--json", action="store_true", help="print a JSON object: path, commit, files, bytes")
    download.set_defaults(handler=cmd_download)


def cmd_download(args) -> int:
    from explorer.core.download import DownloadFailed, DownloadPlan, FileProgress, download_job
    from explorer.core.jobs import Progress, run_to_end

    status = _Status(sys.stderr)

    def show(item) -> None:
        if isinstance(item, DownloadPlan):
            fetch = item.total_bytes - item.present_bytes
            status.line(
                f"{item.repo_id} at {item.revision} ({item.commit[:10]}): {len(item.files)} file(s), "
                f"{human_bytes(item.total_bytes)}" + (f", {human_bytes(fetch)} to fetch" if fetch != item.total_bytes else "")
            )
        elif isinstance(item, FileProgress) and item.finished:
            status.line(f"  {item.name}  {human_bytes(item.size)}")
        elif isinstance(item, Progress):
            status.redraw(item)

    job = download_job(
        args.repo, revision=args.revision, include=args.include, exclude=args.exclude, cache_dir=args.hub_cache
    )
    try:
        result = run_to_end(job, show)
    except DownloadFailed as exc:
        status.clear()
        print(f"model-explorer: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        job.close()  # stops the transfer at its next chunk, leaving the part that arrived for the next run
        status.clear()
        print("model-explorer: download stopped; run the same command again to resume it", file=sys.stderr)
        return 130
    status.clear()
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(result.path)
    return 0


class _Status:
    """One redrawn line on a terminal; nothing between the file lines when stderr is a pipe or a file."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.width = 0
        self.drawn = 0.0

    def line(self, text: str) -> None:
        self.clear()
        print(text, file=self.stream, flush=True)

    def redraw(self, progress) -> None:
        now = time.monotonic()
        if not self.live or now - self.drawn < REDRAW_S:
            return
        self.drawn = now
        share = f"{progress.fraction:.0%} " if progress.fraction is not None else ""
        text = (share + progress.message)[:100]
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def clear(self) -> None:
        if self.live and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
