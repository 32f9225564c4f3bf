"""The Demo tab's load page: device, dtype, spreading, Load/Unload, and the load options.

A page of controls: it reads nothing from disk and starts no job. It says what the user asked
for (``load_requested``, ``unload_requested``, ``options_changed``) and answers what the load
settings are (``request``); the tab runs the jobs.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.tasks.base import TaskInputError
from explorer.tasks.devices import DTYPE_CHOICES, DeviceInfo
from explorer.tasks.session import LoadRequest, parse_config_overrides
from explorer.ui.palette import color


LOAD_TIP = "Load the model for the chosen task now (Run also loads it when needed)"
# An adapter's runs: (mode, button text, tooltip).
ADAPTER_MODES = (
    ("on", "on", "The base model with the adapter, as PeftModel.from_pretrained(base, adapter) gives it"),
    ("off", "off", "The base model alone: the same loaded model inside peft's disable_adapter(), no reload"),
    ("compare", "compare both", "Run twice on the same input, with the adapter and without it, and show both results"),
)


def notice_style(role: str) -> str:
    """A boxed notice in a role's colours ("warning", "error")."""
    return (
        f"background: {color(role + '_bg')}; border: 1px solid {color(role + '_border')}; border-radius: 4px; "
        f"padding: 4px; color: {color(role)};"
    )


class LoadPage(QWidget):
    load_requested = Signal()
    """Emitted when the user pressed Load."""
    unload_requested = Signal()
    """Emitted when the user pressed Unload."""
    options_changed = Signal()
    """Emitted when a config override or 'Ignore mismatched sizes' changed (the hint may need updating)."""
    adapter_mode_changed = Signal(str)
    """Emitted with "on", "off" or "compare" when the user switched how an adapter's runs go."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._devices: list[DeviceInfo] | None = None
        self._hint_role = ""
        self._adapter_shown = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(self._device_row())
        self._build_format_row(outer)
        self._build_load_options(outer)
        self.loaded_label = QLabel("No model loaded")
        self.loaded_label.setObjectName("loaded_label")
        outer.addWidget(self.loaded_label)
        self.repaint_colours()

    def _device_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Device"))
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("device_combo")
        self.device_combo.setMinimumWidth(240)
        self.device_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.device_combo.addItem("cpu · detecting devices…", "cpu")
        self.device_combo.currentIndexChanged.connect(self._update_dtypes)
        row.addWidget(self.device_combo)
        row.addWidget(QLabel("dtype"))
        self.dtype_combo = QComboBox()
        self.dtype_combo.setObjectName("dtype_combo")
        for name in DTYPE_CHOICES:
            self.dtype_combo.addItem(name, name)
        row.addWidget(self.dtype_combo)
        self.spread_check = QCheckBox("Spread over devices")
        self.spread_check.setToolTip("device_map='auto': accelerate places layers over every GPU and the CPU, for a model larger than one device")
        self.spread_check.toggled.connect(lambda spread: self.device_combo.setEnabled(not spread))
        row.addWidget(self.spread_check)
        self.load_button = QPushButton("Load")
        self.load_button.setToolTip(LOAD_TIP)
        self.load_button.clicked.connect(self.load_requested)
        self.unload_button = QPushButton("Unload")
        self.unload_button.setToolTip("Free the memory the model takes")
        self.unload_button.clicked.connect(self.unload_requested)
        self.unload_button.setEnabled(False)
        row.addWidget(self.load_button)
        row.addWidget(self.unload_button)
        row.addStretch(1)
        return row

    def _build_format_row(self, outer: QVBoxLayout) -> None:
        """What an adapter or GGUF loads as, and for an adapter: run with it on, off, or both to compare."""
        self.format_box = QWidget()
        self.format_box.setObjectName("format_box")
        row = QHBoxLayout(self.format_box)
        row.setContentsMargins(0, 0, 0, 0)
        self.format_label = QLabel()
        self.format_label.setObjectName("format_label")
        self.format_label.setWordWrap(True)
        row.addWidget(self.format_label, 1)
        self.adapter_box = QWidget()
        adapter_row = QHBoxLayout(self.adapter_box)
        adapter_row.setContentsMargins(0, 0, 0, 0)
        adapter_row.setSpacing(2)
        adapter_row.addWidget(QLabel("Adapter:"))
        self.adapter_buttons = QButtonGroup(self)  # exclusive: one of three, like radio buttons, but legible in both schemes
        for mode, text, tip in ADAPTER_MODES:
            button = QPushButton(text)
            button.setCheckable(True)
            button.setObjectName(f"adapter_{mode}")
            button.setToolTip(tip)
            self.adapter_buttons.addButton(button)
            button.setProperty("mode", mode)
            adapter_row.addWidget(button)
            if mode == "on":
                button.setChecked(True)
        self.adapter_buttons.buttonToggled.connect(self._adapter_mode_toggled)
        row.addWidget(self.adapter_box)
        self.format_box.hide()
        outer.addWidget(self.format_box)

    def _adapter_mode_toggled(self, button, checked: bool) -> None:
        if checked:
            self.adapter_mode_changed.emit(button.property("mode"))

    def adapter_mode(self) -> str:
        """How an adapter's runs go: "on", "off" or "compare" ("on" for other checkpoints)."""
        button = self.adapter_buttons.checkedButton()
        return button.property("mode") if button is not None and self._adapter_shown else "on"

    def set_adapter_mode(self, mode: str) -> None:
        for button in self.adapter_buttons.buttons():
            if button.property("mode") == mode:
                button.setChecked(True)

    def set_format(self, description: str, adapter: bool, blocked: str = "") -> None:
        """Say what an adapter or GGUF loads as ('' hides the row); an adapter's on/off switch shows with it."""
        self.format_label.setText(description)
        self.format_box.setVisible(bool(description))
        self._adapter_shown = adapter and not blocked
        self.adapter_box.setVisible(self._adapter_shown)
        self.load_button.setToolTip(blocked or LOAD_TIP)

    def _build_load_options(self, outer: QVBoxLayout) -> None:
        """Config overrides and ignore_mismatched_sizes for from_pretrained, folded away until wanted."""
        self.load_options_toggle = QToolButton()
        self.load_options_toggle.setObjectName("load_options_toggle")
        self.load_options_toggle.setText("Load options")
        self.load_options_toggle.setCheckable(True)
        self.load_options_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.load_options_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.load_options_toggle.setAutoRaise(True)
        self.load_options_toggle.setToolTip("Change config values when loading, as from_pretrained(path, num_labels=10)")
        outer.addWidget(self.load_options_toggle)
        self.load_options_box = QWidget()
        self.load_options_box.setObjectName("load_options_box")
        box = QVBoxLayout(self.load_options_box)
        box.setContentsMargins(18, 0, 0, 0)
        row = QHBoxLayout()
        label = QLabel("Config overrides")
        label.setToolTip("One KEY=VALUE per line; VALUE is JSON (10, true, \"text\", [1, 2]) or else plain text")
        row.addWidget(label, 0, Qt.AlignmentFlag.AlignTop)
        self.config_overrides_edit = QPlainTextEdit()
        self.config_overrides_edit.setObjectName("config_overrides_edit")
        self.config_overrides_edit.setPlaceholderText("num_labels=10   (one KEY=VALUE per line, passed to from_pretrained)")
        self.config_overrides_edit.setMaximumHeight(54)
        self.config_overrides_edit.setToolTip(label.toolTip())
        row.addWidget(self.config_overrides_edit, 1)
        self.ignore_mismatched_check = QCheckBox("Ignore mismatched sizes")
        self.ignore_mismatched_check.setObjectName("ignore_mismatched_check")
        self.ignore_mismatched_check.setToolTip(
            "ignore_mismatched_sizes=True: saved weights whose shape differs from the model's (a classifier saved for "
            "another num_labels) start afresh with random values instead of failing the load"
        )
        row.addWidget(self.ignore_mismatched_check, 0, Qt.AlignmentFlag.AlignTop)
        box.addLayout(row)
        self.load_options_hint = QLabel()
        self.load_options_hint.setObjectName("load_options_hint")
        self.load_options_hint.setWordWrap(True)
        self.load_options_hint.hide()
        box.addWidget(self.load_options_hint)
        self.load_options_box.hide()
        outer.addWidget(self.load_options_box)
        self.load_options_toggle.toggled.connect(self._show_load_options)
        self.config_overrides_edit.textChanged.connect(self.options_changed)
        self.ignore_mismatched_check.toggled.connect(self.options_changed)

    def _show_load_options(self, shown: bool) -> None:
        self.load_options_box.setVisible(shown)
        self.load_options_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def repaint_colours(self) -> None:
        self.loaded_label.setStyleSheet(f"color: {color('muted')};")
        self.format_label.setStyleSheet(f"color: {color('accent')}; font-weight: 600;")
        self.adapter_box.setStyleSheet(
            f"QPushButton:checked {{ background: {color('selection_bg')}; border: 1px solid {color('focus')}; color: {color('accent')}; }}"
        )
        if self._hint_role == "warning":
            self.load_options_hint.setStyleSheet(notice_style("warning"))
        else:
            self.load_options_hint.setStyleSheet(f"color: {color('error')};" if self._hint_role == "error" else "")

    # ------------------------------------------------------------------ devices

    def set_devices(self, devices: list[DeviceInfo], spread: tuple[bool, str]) -> None:
        """The devices found (first one selected unless the current one is still there), and whether spreading can work."""
        self._devices = devices
        current = self.device_combo.currentData()
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        for device in devices:
            self.device_combo.addItem(device.label, device.id)
        ids = [d.id for d in devices]
        self.device_combo.setCurrentIndex(ids.index(current) if current in ids else 0)
        self.device_combo.blockSignals(False)
        available, reason = spread
        self.spread_check.setEnabled(available)
        self.spread_check.setToolTip(f"device_map='auto' — {reason}")
        self._update_dtypes()

    def devices(self) -> list[DeviceInfo] | None:
        return self._devices

    def _update_dtypes(self) -> None:
        device = next((d for d in self._devices or [] if d.id == self.device_combo.currentData()), None)
        model = self.dtype_combo.model()
        for index in range(self.dtype_combo.count()):
            name = self.dtype_combo.itemData(index)
            option = device.dtype(name) if device else None
            enabled = option.supported if option else True
            if isinstance(model, QStandardItemModel):
                model.item(index).setEnabled(enabled)
            self.dtype_combo.setItemData(index, (option.reason if option else "") or "", Qt.ItemDataRole.ToolTipRole)
        if isinstance(model, QStandardItemModel) and not model.item(self.dtype_combo.currentIndex()).isEnabled():
            self.dtype_combo.setCurrentIndex(0)

    # ------------------------------------------------------------------ what to load

    def load_options(self) -> tuple[tuple[tuple[str, Any], ...], bool]:
        """(config overrides, ignore mismatched sizes) from the Load options; TaskInputError for a bad line."""
        return parse_config_overrides(self.config_overrides_edit.toPlainText()), self.ignore_mismatched_check.isChecked()

    def request(self, path: str, auto_class: str | None) -> LoadRequest:
        """The load settings of the controls; raises TaskInputError when a config override is malformed."""
        overrides, ignore = self.load_options()
        return LoadRequest(
            path=path,
            auto_class=auto_class,
            device=self.device_combo.currentData() or "cpu",
            dtype=self.dtype_combo.currentData() or "auto",
            spread=self.spread_check.isChecked(),
            config_overrides=overrides,
            ignore_mismatched_sizes=ignore,
        )

    def clear_options(self) -> None:
        """Overrides describe one checkpoint (num_labels of its head); another starts clean."""
        self.config_overrides_edit.blockSignals(True)
        self.config_overrides_edit.clear()
        self.config_overrides_edit.blockSignals(False)
        self.ignore_mismatched_check.setChecked(False)

    def show_hint(self, mismatch: str) -> None:
        """Say what the options would do: a malformed override, or saved weights they would not fit ('' if none)."""
        try:
            overrides, ignore = self.load_options()
        except TaskInputError as error:
            self._set_hint(str(error), "error")
            self.load_options_toggle.setText("Load options (check the overrides)")
            return
        count = len(overrides) + (1 if ignore else 0)
        self.load_options_toggle.setText(f"Load options ({count} set)" if count else "Load options")
        if mismatch and ignore:
            self._set_hint("⚠ " + mismatch.split(". Those")[0] + ": those weights will start afresh (ignore_mismatched_sizes=True).", "warning")
        elif mismatch:
            self._set_hint("⚠ " + mismatch, "warning")
        else:
            self._set_hint("", "")

    def _set_hint(self, text: str, role: str) -> None:
        self._hint_role = role
        self.load_options_hint.setText(text)
        self.repaint_colours()
        self.load_options_hint.setVisible(bool(text))
        if text and not self.load_options_toggle.isChecked():
            self.load_options_toggle.setChecked(True)

    def set_loaded(self, text: str, loaded: bool) -> None:
        self.loaded_label.setText(text)
        self.unload_button.setEnabled(loaded)


__all__ = ["LoadPage", "notice_style"]
