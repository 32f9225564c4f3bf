"""``model-explorer cache ls|rm|prune``: the hub cache's repos by size or age, and deleting with a preview."""

from __future__ import annotations

import argparse
import datetime
import json
import sys

from explorer.core.checkpoint import display_text
from explorer.core.formatting import human_bytes


def add_commands(sub) -> None:
    cache = sub.add_parser("cache", help="see and clean the Hugging Face hub cache (ls, rm, prune)")
    actions = cache.add_subparsers(dest="cache_command", required=True)

    ls = actions.add_parser("ls", help="the cache's repos: size, revisions, last accessed and modified")
    _hub_cache_option(ls)
    ls.add_argument("--sort", default="size", type=_sort_key, metavar="size|accessed|modified|name|revisions",
                    help="order (default size; biggest and newest first, names A to Z; add :asc or :desc to turn it)")
    ls.add_argument("--filter", default="", metavar="TEXT", help="only repos whose id holds every word of TEXT")
    ls.add_argument("--json", action="store_true", help="print a JSON array, one object per repo, in that order")
    ls.set_defaults(handler=cmd_ls)

    rm = actions.add_parser("rm", help="delete repos or revisions (REPO or REPO@REVISION; a ref or a short hash works)")
    rm.add_argument("targets", nargs="+", metavar="REPO[@REVISION]")
    _delete_options(rm)
    rm.set_defaults(handler=cmd_rm)

    prune = actions.add_parser("prune", help="delete detached revisions, .incomplete leftovers and blobs nothing links to")
    _delete_options(prune)
    prune.set_defaults(handler=cmd_prune)


def _hub_cache_option(parser) -> None:
    parser.add_argument("--hub-cache", metavar="DIR", default=None, help="this hub cache (default: huggingface_hub's, HF_HUB_CACHE)")


def _delete_options(parser) -> None:
    _hub_cache_option(parser)
    parser.add_argument("--dry-run", action="store_true", help="print what would go, delete nothing")
    parser.add_argument("--yes", action="store_true", help="delete without asking")
    parser.add_argument("--json", action="store_true", help="print JSON: the plan with --dry-run, else what was removed")


def _sort_key(text: str) -> str:
    from explorer.core.cache_usage import SORT_KEYS

    key, _, order = text.partition(":")
    if key not in SORT_KEYS or order not in ("", "asc", "desc"):
        raise argparse.ArgumentTypeError(f"one of {', '.join(SORT_KEYS)} (optionally :asc or :desc)")
    return text


def _cache_root(args) -> str:
    from explorer.core.cache_places import default_hub_cache

    return args.hub_cache or default_hub_cache()


def _say(text: str) -> None:
    print(f"model-explorer: {display_text(text)}", file=sys.stderr)


def cmd_ls(args) -> int:
    import os

    from explorer.core.cache_usage import cache_usage, filter_usage, sort_usage

    root = _cache_root(args)
    if not os.path.isdir(root):
        _say(f"no hub cache at {root}")
        if args.json:
            print("[]")
        return 0
    usage = cache_usage(root)
    repos = sort_usage(filter_usage(usage.repos, args.filter), args.sort)
    for problem in usage.problems:
        _say(problem)
    if args.json:
        json.dump([r.to_json() for r in repos], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    rows = [("ID", "SIZE", "REVISIONS", "REFS", "LAST ACCESSED", "LAST MODIFIED")]
    for r in repos:
        rows.append((display_text(r.id), human_bytes(r.size_bytes), str(r.revisions), ",".join(r.refs), _date(r.last_accessed), _date(r.last_modified)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"\n{len(repos)} repo(s), {usage.revisions} revision(s), {human_bytes(sum(r.size_bytes for r in repos))} in {display_text(usage.cache_root)}")
    if usage.incomplete_bytes:
        print(f"{human_bytes(usage.incomplete_bytes)} in interrupted downloads (.incomplete): model-explorer cache prune removes them")
    if usage.access_times.note:
        print(f"note: {usage.access_times.note}")
    return 0


def _date(moment: float | None) -> str:
    if moment is None:
        return "-"
    return datetime.datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M")


def cmd_rm(args) -> int:
    from explorer.core.cache_manage import SelectionError, plan_delete

    try:
        plan = plan_delete(_cache_root(args), args.targets)
    except FileNotFoundError as exc:
        _say(str(exc))
        return 2
    except SelectionError as exc:
        for line in str(exc).splitlines():
            _say(line)
        return 2
    return _carry_out(plan, args, "delete")


def cmd_prune(args) -> int:
    from explorer.core.cache_manage import plan_prune

    try:
        plan = plan_prune(_cache_root(args))
    except FileNotFoundError as exc:
        _say(str(exc))
        return 2
    return _carry_out(plan, args, "prune")


def _carry_out(plan, args, verb: str) -> int:
    from explorer.core.cache_delete import run_plan

    for warning in plan.warnings:
        _say(f"left alone (huggingface_hub cannot read it): {warning}")
    if args.dry_run and args.json:
        json.dump(plan.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if plan.is_empty:
        if args.json:
            json.dump({"freed_bytes": 0, "delete": [], "removed": [], "failed": [], "skipped": [], "cancelled": False}, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            print("Nothing to delete.")
        return 0
    if not args.yes or not args.json:
        print_preview(plan, file=sys.stderr if args.json else sys.stdout)
    if args.dry_run:
        print("Dry run: nothing deleted.")
        return 0
    if not args.yes and not _confirmed(plan, verb, sys.stderr if args.json else sys.stdout):
        return 2 if not sys.stdin.isatty() else 1
    result = run_plan(plan)
    if args.json:
        json.dump({**plan.to_json(), **result.to_json()}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"Deleted {len(result.removed)} of {len(plan.steps)} entries; freed {human_bytes(result.freed_bytes)}.")
    for path, why in result.failed:
        _say(f"could not delete {path}: {why}")
    for path, why in result.skipped:
        _say(f"left {path}: {why}")
    return 0 if result.complete else 1


def _confirmed(plan, verb: str, out) -> bool:
    """Asks on the terminal (on stderr when stdout is JSON)."""
    if not sys.stdin.isatty():
        _say(f"not deleting: confirmation needs a terminal (stdin is not one); pass --yes to {verb} without asking, or --dry-run to only look")
        return False
    print(f"Delete these, freeing {human_bytes(plan.freed_bytes)}? [y/N] ", end="", flush=True, file=out)
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        print("Nothing deleted.", file=out)
        return False
    return True


def print_preview(plan, file=None) -> None:
    out = file or sys.stdout
    whole = {r.snapshot_path for r in plan.revisions if r.whole_repo}
    repos = sorted({(r.repo_type, r.repo_id) for r in plan.revisions if r.whole_repo})
    if plan.revisions:
        print(f"Revisions ({len(plan.revisions)}):", file=out)
        for r in plan.revisions:
            refs = f" ({', '.join(r.refs)})" if r.refs else " (detached)"
            tail = "  [with its whole repo]" if r.snapshot_path in whole else ""
            print(f"  {display_text(r.repo_id)} @ {r.commit[:12]}{refs}  {human_bytes(r.size_bytes)}{tail}", file=out)
    if repos:
        print(f"Whole repos ({len(repos)}): " + ", ".join(display_text(name) for _, name in repos), file=out)
    for label, paths in (("Incomplete downloads", plan.incomplete), ("Blobs no revision links to", plan.unreferenced)):
        if paths:
            print(f"{label} ({len(paths)}):", file=out)
            for path in paths:
                print(f"  {display_text(path)}", file=out)
    print("Paths that go:", file=out)
    for path in plan.paths:
        print(f"  {display_text(path)}", file=out)
    for kept in plan.kept:
        print(f"Kept: {display_text(kept.path)}: {kept.reason}", file=out)
    print(f"Frees {human_bytes(plan.freed_bytes)} ({plan.freed_bytes:,} bytes).", file=out)
