"""Building the Config report: a short pipeline over the report's sections.

``config_report_job(path)`` reads ``config.json`` and the other small files, asks the installed
transformers what each field means and defaults to, which class every Auto class would build,
and works out the facts people otherwise compute by hand. The checkpoint's own Python code is
never imported unless the consent store says the user allowed exactly the code on disk.
transformers is imported at call time only: the window builds reports in a worker thread.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from explorer.core.checkpoint import TOKENIZER_FILES
from explorer.core.config import field_docs
from explorer.core.config.custom_code import read_remote_code, registration_hint, scan_unregistered_code, unknown_architectures, unregistered_code_problem
from explorer.core.config.facts import derive
from explorer.core.config.fields import explain_fields
from explorer.core.config.files import MAX_JSON_BYTES, checkpoint_files, other_files, read_text
from explorer.core.config.lookups import config_class_for, installed_version, is_newer
from explorer.core.config.model import ConfigReport
from explorer.core.config.python_code import load_snippet, registration_snippet
from explorer.core.config.resolution import explain_missing_model_type, load_hint, missing_model_type_problem, resolution_rows
from explorer.core.config.weights import with_checked_weights
from explorer.core.config_limits import number_problems
from explorer.core.consent import STATE_GRANTED, STATE_NOT_GRANTED, ConsentStatus, ConsentStore, default_store, load_custom_config
from explorer.core.describe import identity_of, read_config_file
from explorer.core.jobs import CancelToken, Job, Progress, run_to_end
from explorer.core.safetensors_index import summarize_safetensors
from explorer.core.task_catalog import offered_tasks


@dataclass(slots=True)
class _ConfigClass:
    """The config class for config.json and what building it said."""

    cls: type | None = None  # resolves the Auto classes
    docs_cls: type | None = None  # explains the fields: the suggested type's class when model_type is missing
    obj: object | None = None  # the built config (None when the class refused the file)
    construction_error: str | None = None


def _read_config_json(report: ConfigReport, files: dict[str, str]) -> dict | None:
    if "config.json" not in files:
        if "adapter_config.json" in files:
            report.problems.append("no config.json: this is a PEFT adapter; its base model (see adapter_config.json) holds the model config")
        else:
            report.problems.append("no config.json: the Auto classes cannot resolve this checkpoint (weights only?)")
        return None
    report.config_file = files["config.json"]
    raw = None
    try:
        # As the scan and transformers read it: UTF-8 without a byte-order mark, bounded, never blocking.
        raw = read_config_file(files["config.json"])
    except (OSError, ValueError) as exc:
        report.problems.append(str(exc) if str(exc).startswith("config.json") else f"config.json cannot be read ({exc})")
    text = read_text(files["config.json"], MAX_JSON_BYTES)
    report.config_text = json.dumps(raw, indent=2, ensure_ascii=False) if raw is not None else text
    if raw is not None:
        report.problems.extend(number_problems(raw))
    return raw


def _auto_map(report: ConfigReport, raw: dict | None) -> dict:
    if raw is not None and "auto_map" in raw and not isinstance(raw.get("auto_map"), dict):
        report.problems.append("config.json: auto_map should be an object mapping Auto classes to 'module.Class'")
    return raw.get("auto_map") if raw is not None and isinstance(raw.get("auto_map"), dict) else {}


def _read_identity(report: ConfigReport, raw: dict) -> None:
    """model_type, architectures and the saving version, each checked for its type."""
    report.config = raw
    model_type, report.architectures, found = identity_of(raw)
    report.model_type = model_type
    report.problems.extend(found)
    saved_version = raw.get("transformers_version")
    report.transformers_version = saved_version if isinstance(saved_version, str) else None
    installed = report.installed_transformers_version
    if isinstance(saved_version, str) and is_newer(saved_version, installed):
        report.warnings.append(
            f"saved with transformers {saved_version}, newer than the installed {installed}: fields or classes it relies on may be missing here"
        )


def _find_config_class(report: ConfigReport, raw: dict, files: dict[str, str], auto_map: dict, consent: ConsentStatus, store: ConsentStore) -> _ConfigClass:
    """The built-in class for model_type, or the checkpoint's own when allowed; says why there is none."""
    model_type, installed = report.model_type, report.installed_transformers_version
    found = _ConfigClass(cls=config_class_for(model_type) if model_type else None)
    custom_config = isinstance(auto_map.get("AutoConfig"), str)
    if custom_config and consent.state == STATE_GRANTED:
        try:
            found.obj = load_custom_config(report.path, store)
            found.cls = type(found.obj)
        except Exception as exc:  # the checkpoint's own code failed; say so and go on with what we can read
            report.problems.append(f"the checkpoint's configuration code failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    if not auto_map and any(name.endswith(".py") for name in files):
        report.code_scan = scan_unregistered_code(report.path, model_type)
    if model_type and found.cls is None:
        if custom_config:
            state = "you have not allowed its code yet" if consent.state == STATE_NOT_GRANTED else "its code cannot be used"
            report.warnings.append(f"model_type '{model_type}' is not built into transformers {installed}; the checkpoint brings its own config class, but {state}")
        elif report.code_scan is not None:
            report.problems.append(unregistered_code_problem(model_type, installed, report.code_scan))
        else:
            report.problems.append(
                f"model_type '{model_type}' is unknown to the installed transformers {installed} and the checkpoint has no auto_map: "
                "loading will fail (a newer transformers may know it)"
            )
    elif model_type is None and "model_type" not in raw:
        report.problems.append(missing_model_type_problem(report, installed))
    report.config_class = found.cls.__name__ if found.cls is not None else None
    report.config_class_module = found.cls.__module__ if found.cls is not None else None
    # Without model_type nothing resolves, but the class the architectures point at still explains the fields.
    found.docs_cls = found.cls
    if found.docs_cls is None and report.suggested_model_type:
        found.docs_cls = config_class_for(report.suggested_model_type)
    if found.cls is not None and found.obj is None:
        try:
            # What from_dict does without kwargs, minus its info log whose f-string serialises the
            # whole config on every call (half the cost of loading it).
            found.obj = found.cls(**dict(raw))
        except Exception as exc:  # wrong field types, invalid combinations: transformers would fail the same way
            lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
            found.construction_error = " ".join(lines[:2]) if lines else type(exc).__name__
    return found


def _resolve(report: ConfigReport, raw: dict, found: _ConfigClass, consent: ConsentStatus, auto_map: dict) -> None:
    """The Auto classes, the demos they allow, the load hint and Copy as Python."""
    report.resolution = resolution_rows(raw, found.cls, consent.state, set(consent.missing_files))
    report.tasks = offered_tasks(raw, report.has_tokenizer, report.auto_classes)
    report.load_hint = load_hint(report.resolution, report.architectures, consent.needs_code)
    report.python = load_snippet(report.path, report.resolution, consent.state == STATE_GRANTED, consent.needs_code)
    if report.code_scan is not None and found.cls is None:
        report.load_hint = registration_hint(report.code_scan.registration)
        report.python = registration_snippet(report.code_scan.registration, report.architectures)
    elif report.suggested_model_type and found.cls is None:
        explain_missing_model_type(report)
    report.problems.extend(unknown_architectures(report.architectures, auto_map, report.code_scan, report.installed_transformers_version))


def config_report_job(path: str, cancel: CancelToken | None = None, store: ConsentStore | None = None) -> Job[ConfigReport]:
    """Build the Config report for one checkpoint folder; yields Progress."""
    cancel = cancel or CancelToken()
    store = store or default_store()
    report = ConfigReport(path=os.fspath(path))
    if not os.path.isdir(report.path):
        report.problems.append(f"{report.path} is not a folder")
        return report
    # First import of the stack goes through the shared lock: two workers importing torch at once crash it.
    from explorer.core.torch_import import import_transformers

    import_transformers()
    files = checkpoint_files(report.path)
    report.has_tokenizer = any(n in files for n in TOKENIZER_FILES)
    raw = _read_config_json(report, files)

    yield Progress(0, 4, "Importing transformers")
    cancel.raise_if_cancelled()
    report.installed_transformers_version = installed_version()
    auto_map = _auto_map(report, raw)
    consent = read_remote_code(report, store, auto_map)
    weights = summarize_safetensors(dict(files))
    report.problems.extend(weights.problems)
    report.other_files, report.chat_templates = other_files(files, report.problems)
    if raw is None:
        report.derived = derive({}, None, weights.num_parameters, weights.dtypes) if weights.num_parameters else {}
        return report
    _read_identity(report, raw)

    yield Progress(1, 4, "Reading the config class")
    cancel.raise_if_cancelled()
    found = _find_config_class(report, raw, files, auto_map, consent, store)

    yield Progress(2, 4, "Explaining fields")
    cancel.raise_if_cancelled()
    if found.cls is not None:
        report.defaults_note = field_docs.class_info(found.cls).defaults_error
    report.fields = explain_fields(raw, found.cls, found.docs_cls, found.obj, found.construction_error, report.problems)
    report.derived = derive(raw, found.obj, weights.num_parameters, weights.dtypes)

    yield Progress(3, 4, "Resolving Auto classes")
    cancel.raise_if_cancelled()
    _resolve(report, raw, found, consent, auto_map)
    yield Progress(4, 4, "Done")
    return report


def build_config_report(path: str, store: ConsentStore | None = None) -> ConfigReport:
    return run_to_end(config_report_job(path, store=store))


def inspect_config(path: str, check_weights: bool = True) -> ConfigReport:
    """The report for ``model-explorer inspect`` (never runs code without consent).

    With ``check_weights``, each Auto class is checked against the weights on disk (meta device,
    nothing loaded) so the notes and the load hint say exactly what loads.
    """
    report = build_config_report(path)
    return with_checked_weights(report) if check_weights else report


__all__ = ["build_config_report", "config_report_job", "inspect_config"]
