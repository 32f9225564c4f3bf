"""Copy as Python: the code that loads this checkpoint as the report advises.

The path and every name read from the checkpoint enter the code as literals or checked
identifiers (``explorer.core.snippets``), never as text: a folder name or an auto_map entry may
hold code.
"""

from __future__ import annotations

from explorer.core.config.lookups import preferred_auto_class, preferred_row
from explorer.core.config.model import RELATION_SAME, Registration, ResolutionRow
from explorer.core.snippets import is_identifier, python_identifier, python_literal


def load_snippet(path: str, rows: list[ResolutionRow], trusted: bool, needs_code: bool) -> str:
    """AutoConfig.from_pretrained, and the model through the Auto class that builds the saved class."""
    quoted = python_literal(path, quote='"')
    # The snippet mirrors the consent record: the flag appears only when the user allowed this code.
    trust = "    trust_remote_code=True,  # runs the checkpoint's own code, which you reviewed\n" if trusted is True else ""
    lines = ["from transformers import AutoConfig", ""]
    if needs_code and not trusted:
        lines.append("# This checkpoint ships Python code (auto_map). Read it before allowing it to run (trust_remote_code).")
    lines.append(f"config = AutoConfig.from_pretrained(\n    {quoted},\n    local_files_only=True,\n{trust})")
    lines.append("print(config)")
    saved = preferred_row([r for r in rows if r.relation == RELATION_SAME and is_identifier(r.auto_class)])
    if saved is not None:
        auto_class = python_identifier(saved.auto_class)
        # resolves_to may come from auto_map in config.json: named only when it is a plain class name.
        built = f"builds {saved.resolves_to}, " if is_identifier(saved.resolves_to) else "builds "
        lines[0] = f"from transformers import AutoConfig, {auto_class}"
        lines += [
            "",
            f"# {built}the class the weights were saved with",
            f"model = {auto_class}.from_pretrained(\n    {quoted},\n    config=config,\n    local_files_only=True,\n{trust})",
        ]
    return "\n".join(lines) + "\n"


def registration_snippet(registration: Registration, architectures: list[str]) -> str:
    """The register() calls for code config.json does not point at, then the load."""
    # The register code defines `checkpoint` (the scanned folder, as a literal) and loads from it.
    lines = [
        "# The folder's code defines these classes but config.json has no auto_map: register them first.",
        "# This runs the checkpoint's code: read it (Custom code) before you do.",
        registration.python.rstrip(),
    ]
    heads = registration.heads or {}
    auto = next((a for a, c in heads.items() if c in architectures), None) or preferred_auto_class(list(heads))
    if auto and is_identifier(auto):
        lines += ["", f"model = {python_identifier(auto)}.from_pretrained(\n    checkpoint,\n    local_files_only=True,\n)"]
    return "\n".join(lines) + "\n"


__all__ = ["load_snippet", "registration_snippet"]
