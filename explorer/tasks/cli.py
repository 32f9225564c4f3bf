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
from explorer.tasks.base import (
    KIND_LINES,
    Partial,
    TaskError,
    TaskInputError,
    TASK_ORDER,
)
from explorer.tasks.devices import DTYPE_CHOICES

# Which task field each common option fills (the rest go through --set NAME=VALUE).
TEXT_FIELD = {
    "text-generation": "text",
    "fill-mask": "text",
    "text-classification": "texts",
    "token-classification": "text",
    "question-answering": "question",
    "text2text-generation": "text",
    "zero-shot-classification": "text",
    "feature-extraction": "sentences",
    "tokenize": "text",
}
CONTEXT_FIELD = {"question-answering": "context", "tokenize": "text_pair"}
LABELS_FIELD = {"zero-shot-classification": "labels"}


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=TASK_ORDER, help="what to run")
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
    parser.add_argument("--max-new-tokens", type=int, help="text generation: how many tokens to add")
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
    parser.add_argument("--json", action="store_true", help="print the whole result object as JSON")
    parser.add_argument("--script", action="store_true", help="print the standalone Python script for this run instead of running it")


def values_from_args(args: argparse.Namespace) -> dict[str, Any]:
    from explorer.tasks.base import get_task

    task = get_task(args.task)
    names = {f.name for f in task.fields}
    values: dict[str, Any] = {}
    if args.text:
        field = task.field(TEXT_FIELD[args.task])
        if args.task == "tokenize" and len(args.text) > 1:
            values["text"], values["batch"] = "\n".join(args.text), True  # several texts: one padded batch
        else:
            values[field.name] = "\n".join(args.text) if field.kind in (KIND_LINES,) else " ".join(args.text)
    if args.context is not None:
        if args.task not in CONTEXT_FIELD:
            raise TaskInputError(f"--context is for question-answering and tokenize, not {args.task}")
        values[CONTEXT_FIELD[args.task]] = args.context
    if args.labels is not None:
        if args.task not in LABELS_FIELD:
            raise TaskInputError(f"--labels is for zero-shot-classification, not {args.task}")
        values[LABELS_FIELD[args.task]] = args.labels
    if args.max_new_tokens is not None:
        if "max_new_tokens" not in names:
            raise TaskInputError(f"--max-new-tokens is for text-generation, not {args.task}")
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


def _print_human(result: dict) -> None:
    kind = result["task"]
    if kind == "text-generation":
        print()
        print(f"[{result['new_tokens']} tokens, {result['tokens_per_second']} tokens/s, stopped at {result['stopped']}]")
    elif kind == "fill-mask":
        for mask in result["masks"]:
            for p in mask["predictions"]:
                print(f"{p['score']:.4f}  {p['token']!r:20}  {p['sequence']}")
            print()
    elif kind == "text-classification":
        for row in result["results"]:
            print(f"{row['text']}")
            for s in row["scores"]:
                print(f"  {s['label']:20} {s['score']:.4f}")
        if result.get("loss") is not None:
            gold = ", ".join(g["label"] for g in result["gold_labels"])
            print(f"loss against the gold labels ({gold}): {result['loss']:.6f}")
    elif kind == "token-classification":
        for e in result["entities"]:
            print(f"{e.get('entity_group', e.get('entity')):8} {e['score']:.4f}  {e['start']:>4}-{e['end']:<4} {e['word']}")
    elif kind == "question-answering":
        for a in result["answers"]:
            print(f"{a['score']:.4f}  {a['start']:>4}-{a['end']:<4} {a['answer']}")
    elif kind == "text2text-generation":
        print(result["generated_text"])
    elif kind == "zero-shot-classification":
        for label, score in zip(result["labels"], result["scores"]):
            print(f"{label:20} {score:.4f}")
    elif kind == "feature-extraction":
        print(f"last hidden state shape: {result['last_hidden_state_shape']}; vector size {result['vector_size']}")
        if result.get("layer") is not None:
            print(f"pooled layer {result['layer']} of {result['layers']}: hidden states shape {result['hidden_state_shape']}")
        if result.get("attentions_shape"):
            print(f"attentions (layers, batch, heads, tokens, tokens): {result['attentions_shape']}")
        for sentence, row in zip(result["sentences"], result["similarity"]):
            print(" ".join(f"{v:6.3f}" for v in row), " ", sentence)
    elif kind == "tokenize" and result.get("batch"):
        batch = result["batch"]
        print(f"padded batch, input_ids shape {batch['shape']} (padding on the {batch['padding_side']})")
        for text, ids, mask in zip(batch["texts"], result["input_ids"], result["attention_mask"]):
            print(text)
            print(f"  input_ids:      {ids}")
            print(f"  attention_mask: {mask}")
    elif kind == "tokenize":
        print(" ".join(f"{t['token']}({t['id']})" for t in result["tokens"]))
        print(f"{result['counts']['tokens']} tokens; decoded: {result['decoded']}")
    for notice in result.get("notices", []):
        print(f"note: {notice}", file=sys.stderr)


def run_command(args: argparse.Namespace) -> int:
    from explorer.tasks.base import get_task
    from explorer.tasks.script import python_script, result_json
    from explorer.tasks.session import LoadRequest, ModelSession, remote_code_allowed

    from explorer.core.locate import CheckpointNotFound, locate_checkpoint
    from explorer.tasks.session import parse_config_overrides

    try:
        task = get_task(args.task)
        values = values_from_args(args)
        task.resolve(values)
        overrides = parse_config_overrides(getattr(args, "config", None) or [])
        notices: list[str] = []
        try:
            path = locate_checkpoint(args.path, notices=notices)
        except CheckpointNotFound as error:
            raise TaskInputError(str(error)) from None
        finally:
            for notice in notices:
                print(f"model-explorer: {notice}", file=sys.stderr)
        request = LoadRequest(
            path, task.auto_class, args.device, args.dtype, args.spread,
            config_overrides=overrides, ignore_mismatched_sizes=bool(getattr(args, "ignore_mismatched_sizes", False)),
        )
        if args.script:
            print(python_script(task.id, request, values, trust_remote_code=remote_code_allowed(path)))
            return 0
    except TaskInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    except ImportError:
        print("error: transformers is not installed", file=sys.stderr)
        return 1
    session = ModelSession()
    job = session.run(task.id, request, values)
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
        if streamed is False and task.id == "text-generation":
            print(result["generated_text"], end="")
        _print_human(result)
    return 0


def main(argv: list[str] | None = None) -> int:
    """For running this module directly; the app's command line calls run_command."""
    parser = argparse.ArgumentParser(prog="model-explorer run", description="Run a task head of a local checkpoint.")
    add_run_arguments(parser)
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["add_run_arguments", "run_command", "values_from_args"]
