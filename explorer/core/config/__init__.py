"""Everything the Config tab and ``model-explorer inspect`` say about a checkpoint's configuration.

``build_config_report(path)`` returns a ``ConfigReport``: its parts are dataclasses (``model``),
each section is built by its own module (``fields``, ``facts``, ``resolution``, ``weights``,
``files``, ``custom_code``, ``docs``, ``compare``), and ``report`` runs them as one job.
``ConfigReport.to_json()`` is what ``inspect --json`` prints.
"""

from explorer.core.config.compare import compare_configs, compare_derived
from explorer.core.config.docs import auto_class_doc, auto_class_doc_job, doc_paragraphs
from explorer.core.config.lookups import auto_model_classes, head_description, model_types_for_architecture, preferred_row
from explorer.core.config.model import (
    AutoClassDoc,
    ChatTemplate,
    CodeScanSection,
    CompareRow,
    ConfigReport,
    Fact,
    FieldRecord,
    OtherFile,
    Registration,
    RemoteCode,
    ResolutionRow,
    iter_fields,
)
from explorer.core.config.report import build_config_report, config_report_job, inspect_config
from explorer.core.config.weights import apply_head_checks, exact_load_hint, exact_note, exact_relation

__all__ = [
    "AutoClassDoc",
    "ChatTemplate",
    "CodeScanSection",
    "CompareRow",
    "ConfigReport",
    "Fact",
    "FieldRecord",
    "OtherFile",
    "Registration",
    "RemoteCode",
    "ResolutionRow",
    "apply_head_checks",
    "auto_class_doc",
    "auto_class_doc_job",
    "auto_model_classes",
    "build_config_report",
    "compare_configs",
    "compare_derived",
    "config_report_job",
    "doc_paragraphs",
    "exact_load_hint",
    "exact_note",
    "exact_relation",
    "head_description",
    "inspect_config",
    "iter_fields",
    "model_types_for_architecture",
    "preferred_row",
]
