"""Parts of the main window that need none of its state: the empty state, the About text, small helpers."""

from __future__ import annotations

import os
import platform
import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

import explorer
from explorer.core.checkpoint import Checkpoint, display_text


class EmptyState(QWidget):
    """Shown when a scan found nothing: where we looked, and what to do next."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.heading = QLabel("No checkpoints found")
        self.heading.setObjectName("emptyHeading")
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.add_button = QPushButton("Add folder…")
        self.samples_button = QPushButton("Create sample checkpoints")
        self.samples_button.setToolTip(
            "Makes tiny checkpoints with random weights (BERT, GPT-2, DistilBERT, T5, …) in the app's data folder, "
            "so every tab can be tried without a download."
        )
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.samples_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.heading)
        layout.addWidget(self.where)
        layout.addLayout(buttons)
        layout.addStretch(2)

    def set_locations(self, looked: list[str], missing: list[str]) -> None:
        lines = []
        for path in looked:
            state = " (does not exist)" if path in missing else " (no checkpoints)"
            lines.append(f"• {display_text(path)}{state}")
        self.where.setText(
            "Looked in:\n" + "\n".join(lines) + "\n\nDownload models with transformers or huggingface_hub, add a folder that "
            "holds checkpoints (or drop one onto this window), or create sample checkpoints to try the app."
        )


def one_per_repo(checkpoints: list[Checkpoint]):
    seen = set()
    for ckpt in checkpoints:
        key = ckpt.repo_path or ckpt.path
        if key not in seen:
            seen.add(key)
            yield ckpt


def dropped_folders(mime) -> list[str]:
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and os.path.isdir(u.toLocalFile())]


def about_text() -> str:
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion

    def loaded_version(module_name: str) -> str:
        module = sys.modules.get(module_name)
        return getattr(module, "__version__", "?") if module is not None else "not loaded yet"

    return (
        f"<h3>{explorer.APP_NAME} {explorer.__version__}</h3>"
        "<p>Find, inspect and run Hugging Face transformers checkpoints on this machine. "
        "Offline by default: nothing is downloaded unless you ask.</p>"
        f"<p>Python {platform.python_version()}<br>Qt {qVersion()} (PySide6 {pyside_version})<br>"
        f"torch: {loaded_version('torch')}<br>transformers: {loaded_version('transformers')}</p>"
    )


__all__ = ["EmptyState", "about_text", "dropped_folders", "one_per_repo"]
