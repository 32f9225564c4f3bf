"""``model-explorer run TASK PATH ...``: the window's task code, from a terminal.

The lead's ``explorer/cli.py`` adds these arguments to its ``run`` subcommand and calls
``run_command``. Exit codes: 0 done, 1 the run failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from explorer.core.jobs import Cancelled, Progress
from explorer.tasks.base import KIND_LINES, Partial, TaskError, TaskInputError, TaskResult, TaskSpec, all_tasks, get_task
from explorer.tasks.devices import DTYPE_CHOICES


class _TaskIds:
    """The task argument's choices, listed only when argparse asks (every command builds this parser;
    only ``run`` needs the task modules imported)."""

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._ids()

    def __iter__(self):
        return iter(self._ids())

    @staticmethod
    def _ids() -> list[str]:
        return [task.id for task in all_tasks()]


def _tasks_taking(option: str) -> str:
    """'question-answering and tokenize': the tasks whose command line fills a field from ``option``."""
    ids = [task.id for task in all_tasks() if getattr(task.command_line, option)]
    return ids[0] if len(ids) == 1 else ", ".join(ids[:-1]) + " and " + ids[-1]


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=_TaskIds(), help="what to run")
    parser.add_argument(
        "path",
        help="checkpoint folder, a file inside one (e.g. its config.json), or a repo id org/name[@revision] found on this machine",
    )
    parser.add_argument(
        "--text", action="append",
        help="input text; repeat for several texts (classification, features; tokenize: a padded batch); for QA the question",
    )
    parser.add_argument("--context", help="question answering: the context; tokenize: a second text")
    parser.add_argument("--labels", help="zero-shot: candidate labels, comma separated")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu)")
    parser.add_argument("--dtype", default="auto", choices=DTYPE_CHOICES, help="weights dtype (default: the checkpoint's)")
    parser.add_argument("--spread", action="store_true", help="spread the model over all devices (device_map=auto)")
    parser.add_argument("--max-new-tokens", type=int, help="text generation and text to text: how many tokens to add at most")
    parser.add_argument("--seed", type=int, help="random seed for sampling")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="any other task setting, e.g. --set top_k=10")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value at load time, as from_pretrained(path, KEY=VALUE); VALUE is JSON (10, true, "
        '"text", [1, 2]) or else plain text; repeatable, e.g. --config num_labels=10',
    )
    parser.add_argument(
        "--ignore-mismatched-sizes",
        action="store_true",
        help="start weights whose saved shape differs from the model's afresh (needed when e.g. num_labels changes a head)",
    )
    parser.add_argument(
        "--base", metavar="PATH",
        help="adapters: the base model's folder (default: the checkpoint adapter_config.json names, found on this machine)",
    )
    parser.add_argument(
        "--adapter", choices=("on", "off"), default=None,
        help="adapters: run with the adapter (on, the default) or the base model alone (off)",
    )
    parser.add_argument("--json", action="store_true", help="print the whole result object as JSON")
    parser.add_argument("--script", action="store_true", help="print the standalone Python script for this run instead of running it")


def values_from_args(args: argparse.Namespace) -> dict[str, Any]:
    task = get_task(args.task)
    names = {f.name for f in task.fields}
    values: dict[str, Any] = {}
    fills = task.command_line
    if args.text:
        field = task.field(fills.text)
        if fills.several_texts is not None and len(args.text) > 1:
            values.update(fills.several_texts(list(args.text)))
        else:
            values[field.name] = "\n".join(args.text) if field.kind in (KIND_LINES,) else " ".join(args.text)
    if args.context is not None:
        if not fills.context:
            raise TaskInputError(f"--context is for {_tasks_taking('context')}, not {args.task}")
        values[fills.context] = args.context
    if args.labels is not None:
        if not fills.labels:
            raise TaskInputError(f"--labels is for {_tasks_taking('labels')}, not {args.task}")
        values[fills.labels] = args.labels
    if args.max_new_tokens is not None:
        if "max_new_tokens" not in names:
            users = " and ".join(t.id for t in all_tasks() if "max_new_tokens" in {f.name for f in t.fields})
            raise TaskInputError(f"--max-new-tokens is for {users}, not {args.task}")
        values["max_new_tokens"] = args.max_new_tokens
    if args.seed is not None:
        if "seed" not in names:
            raise TaskInputError(f"{args.task} does not sample, so it takes no --seed")
        values["seed"] = args.seed
    for item in args.set:
        name, separator, raw = item.partition("=")
        if not separator or name.strip() not in names:
            settable = ", ".join(sorted(names))
            raise TaskInputError(f"--set {item!r}: expected NAME=VALUE with NAME one of {settable}")
        field = task.field(name.strip())
        values[field.name] = raw  # Field.convert parses numbers, booleans and lists
    return values


def _print_human(task: TaskSpec, result: TaskResult) -> None:
    for line in task.text_lines(result):
        print(line)
    for notice in result.notices:
        print(f"note: {notice}", file=sys.stderr)


def _is_adapter_folder(path: str) -> bool:
    from explorer.core.adapters import ADAPTER_CONFIG

    return os.path.isfile(os.path.join(path, ADAPTER_CONFIG)) and not os.path.isfile(os.path.join(path, "config.json"))


def _base_folder(adapter_folder: str) -> str | None:
    """The base named by adapter_config.json when it is a folder path that exists (no scan needed)."""
    from explorer.core.adapters import read_adapter_config
    from explorer.core.safe_io import UnreadableFile

    try:
        named = read_adapter_config(adapter_folder).base_model
    except UnreadableFile:
        return None
    if not named:
        return None
    folder = os.path.expanduser(named)
    if not os.path.isabs(folder):
        folder = os.path.join(adapter_folder, folder) if named.startswith(".") else folder
    return folder if os.path.isfile(os.path.join(folder, "config.json")) else None


def _gguf_models_in(folder: str) -> list[list[str]]:
    """The GGUF models of a folder without config.json (an Ollama name's view, an LM Studio repo): parts, first first."""
    from explorer.core.gguf_file import is_later_split_part, split_parts

    if os.path.isfile(os.path.join(folder, "config.json")):
        return []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    files = [os.path.join(folder, n) for n in names if n.lower().endswith(".gguf") and not is_later_split_part(n)]
    return [split_parts(f) or [f] for f in files if os.path.isfile(f)]


def format_target(args: argparse.Namespace, task: TaskSpec, folder: str | None = None):
    """The LoadTarget for an adapter folder or a GGUF model (None for anything else); TaskError when it cannot load.

    ``folder`` is where PATH was located (None for a .gguf file named directly): a folder holding one GGUF model
    (an Ollama name's view, an LM Studio repo with one file) runs it. An adapter's base is --base, else the folder
    adapter_config.json names, else found in a scan of the usual places.
    """
    from explorer.tasks.format_loading import adapter_target, gguf_target

    expanded = folder or os.path.abspath(os.path.expanduser(args.path))
    target = None
    models = _gguf_models_in(expanded) if os.path.isdir(expanded) else []
    if os.path.isfile(expanded) and expanded.lower().endswith(".gguf"):
        from explorer.core.gguf_file import split_parts

        target = gguf_target(split_parts(expanded) or [expanded])
    elif len(models) == 1:
        target = gguf_target(models[0])
    elif len(models) > 1:
        names = ", ".join(os.path.basename(parts[0]) for parts in models)
        raise TaskInputError(f"{args.path} holds {len(models)} GGUF models ({names}): name the file to run")
    elif os.path.isdir(expanded) and _is_adapter_folder(expanded):
        base = args.base or _base_folder(expanded)
        checkpoints = None
        if base is None:
            from explorer.core.discovery import scan_all
            from explorer.core.locations import ScanPlaces

            checkpoints, _stats = scan_all(ScanPlaces().locations())
        target = adapter_target(expanded, checkpoints, base_path=base)
    if target is None:
        if args.base or args.adapter:
            raise TaskInputError("--base and --adapter are for PEFT adapter folders (adapter_config.json, no config.json)")
        return None
    if args.base and not target.adapter:
        raise TaskInputError("--base is for PEFT adapter folders, not GGUF files")
    if args.adapter and not target.adapter:
        raise TaskInputError("--adapter is for PEFT adapter folders, not GGUF files")
    if target.blocked:
        raise TaskError(target.blocked)
    if target.auto_class is not None and task.auto_class not in (None, target.auto_class):
        what = "This adapter goes on its base" if target.adapter else f"This GGUF {target.model_type} model loads"
        offered = ", ".join(t.id for t in all_tasks() if t.auto_class == target.auto_class and not t.needs_entailment_label)
        raise TaskInputError(f"{what} as {target.auto_class}, not {task.auto_class}: run {offered or 'a tokenizer task'} instead")
    return target


def run_command(args: argparse.Namespace) -> int:
    from explorer.tasks.script import python_script, result_json
    from explorer.tasks.session import LoadRequest, ModelSession, remote_code_allowed

    from explorer.core.locate import CheckpointNotFound, locate_checkpoint
    from explorer.tasks.session import parse_config_overrides

    try:
        task = get_task(args.task)
        values = values_from_args(args)
        task.resolve(values)  # bad input fails before the checkpoint is even looked for
        overrides = parse_config_overrides(getattr(args, "config", None) or [])
        notices: list[str] = []
        expanded = os.path.expanduser(args.path)
        if os.path.isfile(expanded) and expanded.lower().endswith(".gguf"):
            path = None
        else:
            try:
                path = locate_checkpoint(args.path, notices=notices)
            except CheckpointNotFound as error:
                raise TaskInputError(str(error)) from None
            finally:
                for notice in notices:
                    print(f"model-explorer: {notice}", file=sys.stderr)
        target = format_target(args, task, path)
        if target is not None:
            path = target.path
        request = LoadRequest(
            path, task.auto_class, args.device, args.dtype, args.spread,
            config_overrides=overrides, ignore_mismatched_sizes=bool(getattr(args, "ignore_mismatched_sizes", False)),
            adapter=target.adapter if target is not None else None, gguf_file=target.gguf_file if target is not None else None,
        )
        adapter_on = getattr(args, "adapter", None) != "off"
        if args.script:
            script = python_script(task.id, request, values, trust_remote_code=remote_code_allowed(path), adapter="on" if adapter_on else "off")
            print(script)
            return 0
    except TaskInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TaskError as error:  # an adapter whose base is missing, a GGUF transformers cannot load
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    except ImportError:
        print("error: transformers is not installed", file=sys.stderr)
        return 1
    session = ModelSession()
    job = session.run(task.id, request, values, adapter_enabled=adapter_on)
    streamed = False
    try:
        while True:
            item = next(job)
            if isinstance(item, Partial) and item.kind == "token" and not args.json:
                print(item.data["text"], end="", flush=True)
                streamed = True
            elif isinstance(item, Progress) and not args.json and sys.stderr.isatty():
                print(f"\r{item.message[:70]:70}", end="", file=sys.stderr, flush=True)
    except StopIteration as stop:
        result = stop.value
    except (TaskInputError,) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TaskError as error:
        print(f"error: {error}", file=sys.stderr)
        if error.details and os.environ.get("MODEL_EXPLORER_DEBUG"):
            print(error.details, file=sys.stderr)
        return 1
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    if not args.json and sys.stderr.isatty():
        print("\r" + " " * 70 + "\r", end="", file=sys.stderr)
    if args.json:
        print(result_json(result))
    else:
        if task.streams and not streamed:
            print(result.generated_text, end="")
        _print_human(task, result)
    return 0


def main(argv: list[str] | None = None) -> int:
    """For running this module directly; the app's command line calls run_command."""
    parser = argparse.ArgumentParser(prog="model-explorer run", description="Run a task head of a local checkpoint.")
    add_run_arguments(parser)
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["add_run_arguments", "run_command", "values_from_args"]
