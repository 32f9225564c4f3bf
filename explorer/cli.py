"""Command line on the same core as the window; imports no Qt."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

import explorer
from explorer.core.adapters import ADAPTER_CONFIG
from explorer.core.checkpoint import display_text
from explorer.core.format_summary import type_label
from explorer.core.formatting import human_bytes, human_count, json_ready
from explorer.core.safe_io import one_line


# Modules with more sub-commands, each in a file of its own (cli.py keeps scan and inspect).
COMMAND_MODULES: tuple[str, ...] = ("explorer.cli_cache", "explorer.cli_verify", "explorer.cli_download")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="model-explorer", description="Model Explorer command line (no window).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {explorer.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    scan = sub.add_parser("scan", help="list the checkpoints on this machine")
    scan.add_argument("--hub-cache", action="append", default=[], metavar="DIR", help="scan this hub cache (repeatable)")
    scan.add_argument("--folder", action="append", default=[], metavar="DIR", help="scan this folder (repeatable)")
    scan.add_argument("--json", action="store_true", help="print a JSON array, one object per checkpoint")

    inspect = sub.add_parser("inspect", help="explain one checkpoint: config, resolution, parameters")
    inspect.add_argument("path", help="a checkpoint folder, a file in it, a hub cache snapshot, or a repo id (org/name[@revision]) found on this machine")
    inspect.add_argument("--json", action="store_true", help="print a JSON object")
    inspect.add_argument("--head", metavar="AUTO_CLASS", help="compare the checkpoint with this Auto class (missing/unexpected weights)")

    run = sub.add_parser("run", help="run a task demo on a checkpoint")
    try:
        from explorer.tasks.cli import add_run_arguments
    except ImportError:
        add_run_arguments = None
    if add_run_arguments is not None:
        add_run_arguments(run)
    for module in COMMAND_MODULES:
        # Each adds its sub-commands with set_defaults(handler=...): the handler gets the parsed arguments.
        importlib.import_module(module).add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from explorer.core import crash_log

    crash_log.install("command line")
    try:
        return _run_command(argv)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line here, the traceback in the crash log
        try:
            sys.stdout.flush()  # what was printed comes before the line that says it stopped
        except (OSError, ValueError):
            pass
        words = sys.argv[1:] if argv is None else argv
        print(crash_log.report_unexpected(exc, f"model-explorer {words[0] if words else ''}".strip()), file=sys.stderr)
        return 1


def _run_command(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "scan":
        return cmd_scan(args)
    if args.command == "inspect":
        return cmd_inspect(args)
    if args.command == "run":
        from explorer.tasks.cli import run_command

        return run_command(args)
    handler = getattr(args, "handler", None)
    if handler is not None:
        return handler(args)
    parser.error(f"unknown command {args.command}")
    return 2


def _scan_locations(args):
    from explorer.core.locations import ScanPlaces

    # Without named places: the ones the window scans, the folders the user added there included.
    notices: list[str] = []
    locations = ScanPlaces.from_command_line(args.hub_cache, args.folder).locations(notices=notices)
    for notice in notices:
        print(f"model-explorer: {display_text(notice)}", file=sys.stderr)
    return locations


def cmd_scan(args) -> int:
    from explorer.core.discovery import Scanner
    from explorer.core.jobs import run_to_end
    from explorer.core.locations import ScanPlaces

    # The places the window scans share its saved results; places named on the command line do not.
    index_path = ScanPlaces.from_command_line(args.hub_cache, args.folder).index_path()
    checkpoints, stats = run_to_end(Scanner(index_path=index_path).scan(_scan_locations(args)))
    if args.json:
        json.dump([c.to_json() for c in checkpoints], sys.stdout, indent=2)
        sys.stdout.write("\n")
        _print_scan_notes(stats)
        return 0
    rows = [("ID", "SOURCE", "REVISION", "MODEL TYPE", "PARAMS", "SIZE", "PROBLEMS")]
    for c in checkpoints:
        rows.append(
            (
                display_text(c.id),
                c.source,
                (c.revision or "")[:10] + (f" ({','.join(c.refs)})" if c.refs else ""),
                type_label(c),
                human_count(c.num_parameters) or "?",
                human_bytes(c.size_bytes),
                str(len(c.problems)) if c.problems else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    count = len(checkpoints)
    print(f"\n{count} checkpoint{'s' if count != 1 else ''} in {stats.seconds:.2f} s; looked in: " + ", ".join(display_text(p) for p in stats.locations))
    for c in checkpoints:
        for problem in c.problems:
            print(f"  {display_text(c.id)}: {display_text(problem)}", file=sys.stderr)
    _print_scan_notes(stats)
    return 0


def _print_scan_notes(stats) -> None:
    """Places that could not be scanned, on stderr (stdout stays a table or valid JSON)."""
    for path in stats.missing_locations:
        print(f"model-explorer: {display_text(path)} is not a folder (does it exist?); nothing scanned there", file=sys.stderr)
    for problem in stats.problems:
        print(f"model-explorer: {display_text(problem)}", file=sys.stderr)


def cmd_inspect(args) -> int:
    from explorer.core.locate import CheckpointNotFound, locate_checkpoint

    gguf = _gguf_named(str(args.path))
    if gguf is not None:
        return _inspect_gguf(args, gguf)
    if os.path.isfile(os.path.join(os.path.expanduser(str(args.path)), ADAPTER_CONFIG)) and not os.path.isfile(
        os.path.join(os.path.expanduser(str(args.path)), "config.json")
    ):
        return _inspect_adapter(args)
    notices: list[str] = []
    try:
        path = locate_checkpoint(args.path, notices=notices)
    except CheckpointNotFound as exc:
        print(f"model-explorer: {exc}", file=sys.stderr)
        return 2
    finally:
        for notice in notices:
            print(f"model-explorer: {display_text(notice)}", file=sys.stderr)
    import explorer.tasks  # noqa: F401  (hands the task declarations to the report's catalog: the demos it offers)
    from explorer.core.config import inspect_config
    from explorer.core.parameters_report import inspect_parameters

    report = inspect_config(path).to_json()
    parameters = inspect_parameters(path, head=args.head)
    problems = merge_problems(report.get("problems", []), parameters.pop("problems", []), config_read=report.get("config") is not None)
    report.update(parameters)
    report["problems"] = problems
    if args.json:
        json.dump(json_ready(report), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
        return 0
    print_inspect_report(report)
    return 0


def _inspect_adapter(args) -> int:
    """A PEFT adapter folder: its config, its tensors per base module, and the base found on this machine."""
    from explorer.core.adapter_weights import adapter_report
    from explorer.core.adapters import read_adapter_config
    from explorer.core.locate import locate_base_checkpoint
    from explorer.core.safe_io import UnreadableFile

    folder = os.path.abspath(os.path.expanduser(str(args.path)))
    try:
        config = read_adapter_config(folder)
    except UnreadableFile as exc:
        print(f"model-explorer: {one_line(str(exc))}", file=sys.stderr)
        return 1
    notices: list[str] = []
    base = locate_base_checkpoint(config.base_model, config.revision, notices=notices)
    for notice in notices:
        print(f"model-explorer: {display_text(notice)}", file=sys.stderr)
    report = adapter_report(folder, base)
    problems = list(report.problems)
    if base is None and config.base_model:
        problems.append(f"base model {config.base_model} is not on this machine: download it (hf download {config.base_model}) or add its folder")
    result = {
        "format": "adapter",
        "path": folder,
        "adapter_type": config.kind,
        "peft_type": config.peft_type,
        "task_type": config.task_type,
        "r": config.r,
        "lora_alpha": config.lora_alpha,
        "dropout": config.dropout,
        "target_modules": config.target_modules,
        "modules_to_save": config.modules_to_save,
        "base_model": config.base_model,
        "base_found": base.path if base is not None else None,
        "num_parameters": report.weights.total_params,
        "base_parameters": report.base_params,
        "dtypes": report.weights.by_dtype(),
        "modules": [
            {
                "module": m.path,
                "kind": m.kind,
                "in_base": m.in_base,
                "parameters": m.params,
                "tensors": [{"name": t.name, "part": t.part, "shape": list(t.shape), "dtype": t.dtype} for t in m.tensors],
            }
            for m in report.weights.modules.values()
        ],
        "targets": [{"target": t.target, "modules": list(t.modules), "note": t.note} for t in report.targets],
        "warnings": list(report.warnings),
        "problems": problems,
    }
    if args.json:
        json.dump(json_ready(result), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
        return 0
    shape = ", ".join(f"{k} {result[k]}" for k in ("r", "lora_alpha", "dropout") if result[k] is not None)
    print(f"format:        PEFT adapter ({config.kind}{', ' + shape if shape else ''})")
    print(f"base model:    {display_text(str(config.base_model))} ({'found: ' + display_text(base.path) if base else 'not on this machine'})")
    share = f" ({report.share_of_base:.2%} of the base's {human_count(report.base_params)})" if report.share_of_base is not None else ""
    print(f"parameters:    {human_count(result['num_parameters'])}{share}")
    print(f"targets:       {display_text(str(config.target_modules))}")
    for module in report.weights.modules.values():
        parts = ", ".join(f"{t.part} {list(t.shape)}" for t in module.tensors)
        print(f"  {display_text(module.path)}: {display_text(parts)}")
    for warning in report.warnings:
        print(f"warning: {warning}")
    for problem in problems:
        print(f"problem: {problem}")
    return 0


def _gguf_named(text: str) -> str | None:
    """The GGUF file ``text`` names: a path to one, or a name the scan lists (``llama3:latest`` in Ollama's
    store, ``org/repo/file.gguf`` in the hub cache or LM Studio's folder); None for anything else."""
    expanded = os.path.expanduser(text)
    if os.path.exists(expanded):
        return expanded if expanded.lower().endswith(".gguf") else None
    if not (text.lower().endswith(".gguf") or ":" in text):
        return None
    from explorer.core.discovery import Scanner
    from explorer.core.jobs import run_to_end
    from explorer.core.locations import ScanPlaces

    places = ScanPlaces()
    found, _ = run_to_end(Scanner(index_path=places.index_path()).scan(places.locations()))
    for ckpt in found:
        if ckpt.id == text and ckpt.gguf_parts():
            return ckpt.gguf_parts()[0]
    return expanded if text.lower().endswith(".gguf") else None


def _inspect_gguf(args, path: str) -> int:
    """A GGUF file (llama.cpp, Ollama, LM Studio), or any part of a split one: its header, never its weights."""
    from explorer.core.gguf_file import read_gguf_split
    from explorer.core.safe_io import UnreadableFile

    try:
        report = read_gguf_split(path).to_json()
    except UnreadableFile as exc:
        print(f"model-explorer: {one_line(str(exc))}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(json_ready(report), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
        return 0
    types = ", ".join(f"{name} {human_count(count)}" for name, count in report["dtypes"].items())
    print(f"format:        gguf (version {report['gguf_version']}), {len(report['files'])} file(s)")
    print(f"architecture:  {display_text(str(report['model_type']))}")
    print(f"name:          {display_text(str(report['name']))}")
    print(f"parameters:    {human_count(report['num_parameters'])} ({types})")
    print(f"size:          {human_bytes(report['size_bytes'])} in {len(report['tensors']):,} tensors")
    prefix = f"{report['model_type']}."
    for key, value in report["metadata"].items():
        if key.startswith(prefix) and not isinstance(value, (dict, list)):
            print(f"{display_text(key):<40} {display_text(str(value))}")
    return 0


def merge_problems(config_problems: list[str], parameter_problems: list[str], config_read: bool = False) -> list[str]:
    """One list for both reports. Each words an unreadable or missing config.json its own way (each view
    must stand alone in the window); once the config report has said it, the other's version is noise.
    When the config report could read config.json, the other's config.json problems are about loading it: kept."""
    merged = [one_line(p) for p in config_problems]
    parameter_problems = [one_line(p) for p in parameter_problems]
    config_said = not config_read and any(p.startswith(("config.json", "no config.json")) for p in merged)
    for problem in parameter_problems:
        if problem in merged or (config_said and problem.startswith(("config.json", "no config.json"))):
            continue
        merged.append(problem)
    return merged


def _print_disk_tensors(report: dict) -> None:
    disk = report.get("tensors_on_disk") or {}
    tensors = report.get("tensors") or []
    if not tensors:
        return
    files = disk.get("by_file") or {}
    by_dtype = ", ".join(
        f"{dtype} {human_count(totals['params'])}" for dtype, totals in (disk.get("by_dtype") or {}).items()
    )
    print(
        f"on disk:       {len(tensors):,} tensors in {len(files)} {disk.get('format') or ''} file(s), "
        f"{human_bytes(disk.get('total_bytes') or 0)} ({by_dtype})"
    )


def _print_dangerous_pickle_imports(report: dict) -> None:
    """One line per pickle file that would import more than torch's tensor rebuilding (never run here)."""
    for entry in report.get("pickle_imports") or []:
        dangerous = [f"{item['module']}.{item['name']}" for item in entry.get("imports") or [] if item.get("dangerous")]
        if dangerous:
            shown = ", ".join(dangerous[:8]) + (f" and {len(dangerous) - 8} more" if len(dangerous) > 8 else "")
            print(f"pickle imports: {display_text(entry.get('file') or '?')} would import {display_text(shown)} (dangerous; not run)")


def print_inspect_report(report: dict) -> None:
    print(f"model_type:    {report.get('model_type')}")
    print(f"architectures: {', '.join(report.get('architectures') or []) or '-'}")
    print(f"config class:  {report.get('config_class')}")
    params = report.get("parameters") or {}
    if params.get("total") is not None:
        print(f"parameters:    {human_count(params['total'])} ({params['total']:,})")
    _print_disk_tensors(report)
    derived = report.get("derived") or {}
    if derived:
        print("derived:")
        for key, value in derived.items():
            if isinstance(value, dict):
                print(f"  {value.get('label', key)}: {value.get('text', value.get('value'))}")
            else:
                print(f"  {key}: {value}")
    if report.get("load_hint"):
        print(f"how to load:   {report['load_hint']}")
    autos = report.get("auto_classes") or {}
    notes = {row.get("auto_class"): row for row in report.get("resolution") or [] if isinstance(row, dict)}
    supported = {auto: cls for auto, cls in autos.items() if cls}
    if autos:
        print(f"auto classes ({len(supported)} of {len(autos)} can load this checkpoint):")
        for auto, cls in supported.items():
            row = notes.get(auto, {})
            consent = "  [custom code: needs your consent]" if row.get("needs_consent") else ""
            print(f"  {auto:<40} {cls}{consent}")
            if row.get("note"):
                print(f"  {'':<40}   {row['note']}")
    if report.get("tasks"):
        print(f"demos:         {', '.join(report['tasks'])}")
    if report.get("head"):
        print(f"head:          {report['head']}")
    for key in ("missing", "unexpected"):
        if report.get(key):
            print(f"{key}: {', '.join(report[key])}")
    for row in report.get("mismatched") or []:
        print(f"mismatched: {row['name']}: checkpoint {row['checkpoint_shape']} vs model {row['model_shape']}")
    if report.get("head") and report.get("modules") is None and report.get("heads"):
        print(f"heads this checkpoint supports: {', '.join(report['heads'])}")
    _print_dangerous_pickle_imports(report)
    for warning in report.get("warnings") or []:
        print(f"warning: {warning}")
    for problem in report.get("problems") or []:
        print(f"problem: {problem}")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
