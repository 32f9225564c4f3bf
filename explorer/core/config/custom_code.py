"""The Custom code section: the checkpoint's own Python files, behind consent, and code config.json does not point at.

Nothing here imports the checkpoint's code: the consent store hashes it, ``code_scan`` reads it
with ``ast``. Only a granted consent lets the report build the checkpoint's config class.
"""

from __future__ import annotations

from explorer.core.code_scan import scan_folder, suggested_registration
from explorer.core.config.files import read_text
from explorer.core.config.lookups import auto_model_classes, transformers_names
from explorer.core.config.model import CodeScanSection, ConfigReport, Registration, RemoteCode
from explorer.core.consent import STATE_CHANGED, ConsentStatus, ConsentStore, auto_map_references


def read_remote_code(report: ConfigReport, store: ConsentStore, auto_map: dict) -> ConsentStatus:
    """What the consent store says about the code auto_map names; the code's text is kept for reading."""
    consent = store.status(report.path, auto_map)
    report.remote_code = RemoteCode(
        consent=consent,
        auto_map=auto_map,
        sources={f.name: read_text(f.path) for f in consent.files if f.path is not None},
    )
    for name in consent.missing_files:
        report.problems.append(f"auto_map names {name}, which is not in the checkpoint: its custom code cannot be loaded")
    for ref in consent.upstream_refs:
        report.warnings.append(f"auto_map → {ref}: code from another repository, not stored here; the explorer cannot show or run it")
    if consent.state == STATE_CHANGED:
        report.warnings.append(
            f"the custom code changed since you allowed it ({', '.join(consent.changed_files) or 'upstream references'}); allow it again to run it"
        )
    return consent


def scan_unregistered_code(path: str, model_type: str | None) -> CodeScanSection | None:
    """Code beside a config.json that points at none of it: what it defines, read without running it."""
    scan = scan_folder(path)
    if not scan.found:
        return None
    registration = suggested_registration(scan, model_type, [name for name, _ in auto_model_classes()])
    return CodeScanSection(scan, Registration.from_json(registration))


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def unregistered_code_problem(model_type: str, installed: str, section: CodeScanSection) -> str:
    registration = section.registration
    defined = []
    if registration.config_class:
        defined.append(f"{registration.config_file} defines {registration.config_class}")
    by_file: dict[str, list[str]] = {}
    for cls in section.scan.model_classes:
        by_file.setdefault(cls.file, []).append(cls.name)
    defined += [f"{file} defines {', '.join(names)}" for file, names in by_file.items()]
    text = (
        f"model_type '{model_type}' is unknown to the installed transformers {installed} and the checkpoint has no auto_map, "
        f"but {_join(defined)} (read, not run): add an auto_map to config.json ({registration.auto_map_json}) "
        "or register them with AutoConfig.register/AutoModel.register before loading (Python in Custom code and Copy as Python)"
    )
    if registration.type_mismatch:
        text += f"; note {registration.type_mismatch}, and AutoConfig.register needs them equal"
    return text


def registration_hint(registration: Registration) -> str:
    calls = [line for line in registration.python.splitlines() if ".register(" in line]
    if not calls:
        return ""
    return "Register the checkpoint's classes before loading (Copy as Python has the imports): " + "; ".join(calls) + "."


def unknown_architectures(architectures: list[str], auto_map: dict, code_scan: CodeScanSection | None, installed: str) -> list[str]:
    """Problems for classes in architectures that neither transformers nor the checkpoint's own code defines."""
    own = {ref.rpartition(".")[2] for ref in auto_map_references(auto_map)}
    if code_scan is not None:
        own |= {c.name for c in code_scan.scan.config_classes + code_scan.scan.model_classes}
    unknown = [a for a in architectures if a not in own and a not in transformers_names()]
    return [
        f"config.json: architectures names {name}, which the installed transformers {installed} does not define and the "
        "checkpoint's code does not provide: nothing can build it, and the advice below cannot rely on it"
        for name in unknown
    ]


__all__ = ["read_remote_code", "registration_hint", "scan_unregistered_code", "unknown_architectures", "unregistered_code_problem"]
