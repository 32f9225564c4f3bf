"""transformers' own tables (model types, the model class each Auto class picks), read from its source text.

Importing transformers' auto tables costs seconds (they pull in torch): far more than a whole
scan, and too slow for every click in the checkpoint list. The tables are plain literals in
``models/auto``, so they are read from the installed package's source instead; resolution and
loading later use the real import. This module is the one place that reads them: the scan
(is a model_type known?) and the Demo tab (which heads can a model type take?) ask here, and
both get the same answer for "transformers is not installed" (None: cannot tell).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re

# The Auto classes the demos load, and the table of modeling_auto.py that maps model types to their classes.
MAPPING_NAMES = {
    "AutoModel": "MODEL_MAPPING_NAMES",
    "AutoModelForCausalLM": "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES",
    "AutoModelForMaskedLM": "MODEL_FOR_MASKED_LM_MAPPING_NAMES",
    "AutoModelForSeq2SeqLM": "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",
    "AutoModelForSequenceClassification": "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",
    "AutoModelForTokenClassification": "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES",
    "AutoModelForQuestionAnswering": "MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES",
}

# model_type -> config class entries: ("bert", "BertConfig") in auto_mappings.py, and both that form and
# "mlcd": "MLCDVisionConfig" (additions made with update({...})) in configuration_auto.py.
_CONFIG_SOURCES = ("auto_mappings.py", "configuration_auto.py")
_PAIR_ENTRY = re.compile(r'\(\s*"([^"]+)"\s*,\s*"[A-Za-z0-9_]+Config"\s*\)')
_DICT_ENTRY = re.compile(r'"([^"]+)"\s*:\s*"[A-Za-z0-9_]+Config"')
_MODEL_ENTRY = re.compile(r'\(\s*"([^"]+)"\s*,\s*(\(?[^()]*?\)?)\s*\)')
_CLASS_NAME = re.compile(r'"([A-Za-z0-9_]+)"')


def _auto_dir() -> str | None:
    """transformers' models/auto folder, found without importing transformers (None: not installed)."""
    try:
        spec = importlib.util.find_spec("transformers")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "models", "auto")


def _source(name: str) -> str | None:
    folder = _auto_dir()
    if folder is None:
        return None
    try:
        # The installed package's own source: trusted, small (tens of KiB), read once per process.
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def model_type_sources() -> list[str]:
    """The installed transformers' source files that list its model types (none without transformers)."""
    folder = _auto_dir()
    return [] if folder is None else [os.path.join(folder, name) for name in _CONFIG_SOURCES]


@functools.lru_cache(maxsize=1)
def known_model_types() -> frozenset[str] | None:
    """Every model_type the installed transformers has a config class for; None when it cannot tell."""
    found: set[str] = set()
    for name in _CONFIG_SOURCES:
        text = _source(name)
        if text is not None:
            found.update(_PAIR_ENTRY.findall(text))
            found.update(_DICT_ENTRY.findall(text))
    return frozenset(found) or None


def model_types_stamp() -> list:
    """Identifies the model-type table behind the 'unknown model_type' problems (for saved scans)."""
    stamp = []
    for path in model_type_sources():
        try:
            st = os.stat(path)
        except OSError:
            continue
        stamp.append([path, st.st_size, st.st_mtime_ns])
    return stamp


@functools.lru_cache(maxsize=1)
def auto_model_tables() -> dict[str, dict[str, tuple[str, ...]]]:
    """Auto class -> {model_type: the model classes it builds}, for the Auto classes of MAPPING_NAMES ({}: unknown)."""
    text = _source("modeling_auto.py")
    if text is None:
        return {}
    tables: dict[str, dict[str, tuple[str, ...]]] = {}
    for auto_class, variable in MAPPING_NAMES.items():
        match = re.search(rf"^{variable}\s*=\s*OrderedDict\(\s*\[(.*?)^\s*\]\s*\)", text, re.S | re.M)
        if match:
            tables[auto_class] = {
                model_type: tuple(_CLASS_NAME.findall(classes)) for model_type, classes in _MODEL_ENTRY.findall(match.group(1))
            }
    return tables


def head_classes(model_type: str | None, auto_class: str) -> tuple[str, ...] | None:
    """Model classes ``auto_class`` picks for ``model_type``; () when it has none; None when unknown.

    Unknown covers a model_type the installed transformers does not know: its classes come from
    the checkpoint's own code (auto_map), which only loading can tell.
    """
    tables = auto_model_tables()
    table = tables.get(auto_class)
    if table is None or model_type is None:
        return None
    if model_type in table:
        return table[model_type]
    known = known_model_types()
    if known is None or model_type not in known:
        return None
    return ()


__all__ = ["MAPPING_NAMES", "auto_model_tables", "head_classes", "known_model_types", "model_type_sources", "model_types_stamp"]
