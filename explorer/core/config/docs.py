"""What an Auto class is for and the docstring of the class it builds (``help(...)`` in the tutorials).

Built-in classes are imported from the installed transformers (call these in a worker); a class
from the checkpoint's own code is read from its source with ``ast``, never imported.
"""

from __future__ import annotations

import re

from explorer.core.config.lookups import head_description
from explorer.core.config.model import SOURCE_AUTO_MAP, AutoClassDoc
from explorer.core.jobs import CancelToken, Job, Progress

# Paragraphs every transformers model docstring repeats; they say nothing about the class.
_BOILERPLATE_STARTS = ("This model inherits from", "This model is also a PyTorch", "This class cannot be instantiated")
_DOC_SECTIONS = re.compile(r"^\s*(Parameters|Args|Arguments|Attributes|Examples?|Returns?)\s*:\s*$")


def _plain_doc(text: str) -> str:
    """transformers' doc markup as plain text: [`~Foo.bar`] -> bar, [`Foo`] -> Foo, [text](url) -> text."""
    text = re.sub(r"\[`~?([\w.]+)`\]", lambda m: m.group(1).rsplit(".", 1)[-1] if m.group(0).startswith("[`~") else m.group(1), text)
    text = re.sub(r"\[([^\]]+)\]\((?:https?://)[^)]*\)", r"\1", text)
    return text


def doc_paragraphs(doc: str | None, limit: int = 3) -> list[str]:
    """The first descriptive paragraphs of a docstring, before its Parameters/Args/Examples sections."""
    if not doc:
        return []
    paragraphs: list[str] = []
    current: list[str] = []
    for line in doc.expandtabs(4).splitlines():
        if _DOC_SECTIONS.match(line):
            break
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    kept = [_plain_doc(p) for p in paragraphs if not p.startswith(_BOILERPLATE_STARTS)]
    return kept[:limit]


def _class_doc(path: str, class_name: str, source: str | None) -> tuple[list[str], str | None, str | None]:
    """(paragraphs, where they come from, problem) for the class an Auto class builds."""
    if source == SOURCE_AUTO_MAP:
        from explorer.core.code_scan import find_class

        scanned = find_class(path, class_name)
        if scanned is None:
            return [], None, f"{class_name} is not defined in the checkpoint's top-level .py files"
        return doc_paragraphs(scanned.docstring), f"{scanned.file} (read, not run)", None
    import transformers

    try:
        cls = getattr(transformers, class_name)
    except Exception as exc:  # a model module whose optional dependency is missing
        return [], None, f"{class_name} cannot be imported: {type(exc).__name__}: {exc}"
    return doc_paragraphs(cls.__doc__), f"{cls.__module__}.{cls.__name__}", None


def auto_class_doc(path: str, auto_class: str, class_name: str | None, source: str | None) -> AutoClassDoc:
    """The documentation of one Auto class row: the Auto class's purpose, the built class's docstring."""
    from explorer.core.torch_import import import_transformers

    import_transformers()
    from transformers.models.auto import modeling_auto

    auto = getattr(modeling_auto, auto_class, None)
    purpose = doc_paragraphs(getattr(auto, "__doc__", None), limit=1)
    paragraphs, where, problem = _class_doc(path, class_name, source) if class_name else ([], None, None)
    return AutoClassDoc(
        auto_class=auto_class,
        head=head_description(auto_class),
        purpose=purpose[0] if purpose else "",
        class_name=class_name,
        class_doc=paragraphs,
        doc_source=where,
        problem=problem,
    )


def auto_class_doc_job(path: str, auto_class: str, class_name: str | None, source: str | None, cancel: CancelToken | None = None) -> Job[AutoClassDoc]:
    cancel = cancel or CancelToken()
    yield Progress(0, 1, f"Reading the documentation of {class_name or auto_class}")
    cancel.raise_if_cancelled()
    return auto_class_doc(path, auto_class, class_name, source)


__all__ = ["auto_class_doc", "auto_class_doc_job", "doc_paragraphs"]
