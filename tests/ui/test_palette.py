"""Named colours in a light and a dark scheme: readable in both, and everything follows the one in force."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QColor, QTextDocument

from explorer import resources
from explorer.core.checkpoint import Checkpoint
from explorer.core.safetensors_header import TensorInfo
from explorer.ui import palette
from explorer.ui.palette import DARK, LIGHT, ROLES, color, contrast_ratio

SCHEMES = (LIGHT, DARK)


def value(role: str, scheme: str) -> str:
    return ROLES[role][1 if scheme == DARK else 0]


@pytest.fixture
def scheme_restored(qapp):
    """A test may force a scheme and apply it; the next test starts with the system's again."""
    style = qapp.style().name()
    yield
    palette.set_scheme(None)
    palette.apply_scheme(qapp)
    qapp.setStyleSheet("")  # tests build widgets without the app's style sheet, as before
    qapp.setStyle(style)


def test_every_role_has_a_light_and_a_dark_colour():
    for role, pair in ROLES.items():
        assert len(pair) == 2, role
        for hex_colour in pair:
            assert re.fullmatch(r"#[0-9a-f]{6}", hex_colour), (role, hex_colour)
    named = set(palette.TEXT_ROLES) | set(palette.READ_ON) | set(palette.ROW_BACKGROUNDS) | set(palette.BADGES)
    assert named <= set(ROLES)


def test_contrast_ratio_follows_wcag():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the usual 4.5 threshold grey


@pytest.mark.parametrize("scheme", SCHEMES)
def test_body_text_roles_are_readable_on_every_surface(scheme):
    poor = [
        (text, surface, round(contrast_ratio(value(text, scheme), value(surface, scheme)), 2))
        for text in palette.TEXT_ROLES
        for surface in palette.READ_ON
        if contrast_ratio(value(text, scheme), value(surface, scheme)) < 4.5
    ]
    assert not poor


@pytest.mark.parametrize("scheme", SCHEMES)
def test_notices_rows_and_badges_are_readable(scheme):
    for text, background in palette.NOTICES.items():
        assert contrast_ratio(value(text, scheme), value(background, scheme)) >= 4.5, (text, background)
    for background in palette.ROW_BACKGROUNDS:
        assert contrast_ratio(value("text", scheme), value(background, scheme)) >= 4.5, background
    # A selected row keeps coloured words coloured (a problem in the browser): large enough to need 3.
    for text in palette.TEXT_ROLES:
        assert contrast_ratio(value(text, scheme), value("selection_bg", scheme)) >= 3, text
    for badge in palette.BADGES:
        assert contrast_ratio(value("badge_text", scheme), value(badge, scheme)) >= 3, badge


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_style_sheet_is_filled_for_each_scheme_and_parses(qapp, qtbot, scheme):
    from PySide6.QtWidgets import QPushButton, QSpinBox, QTabWidget, QTreeView, QVBoxLayout, QWidget

    text = resources.style_sheet_text(scheme)
    without_comments = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    assert not re.findall(r"@\w+", without_comments), "a colour role or image the palette does not know"
    assert value("border", scheme) in text and value("selection_bg", scheme) in text
    for image in re.findall(r'url\("([^"]+)"\)', text):
        assert image.endswith(f"-{scheme}.svg")
        assert resources.resource_path(image.split("/resources/", 1)[1]).is_file()

    warnings = []
    previous = qInstallMessageHandler(lambda kind, _c, message: warnings.append(message) if kind != QtMsgType.QtDebugMsg else None)
    try:
        window = QWidget()
        qtbot.addWidget(window)
        window.setStyleSheet(text)
        layout = QVBoxLayout(window)
        tabs = QTabWidget()
        tabs.addTab(QTreeView(), "Overview")
        for widget in (tabs, QSpinBox(), QPushButton("Go")):
            layout.addWidget(widget)
        window.show()
        window.ensurePolished()
    finally:
        qInstallMessageHandler(previous)
    assert not [w for w in warnings if "style" in w.lower() or "parse" in w.lower()], warnings


def test_applying_dark_makes_the_whole_application_dark_and_light_gives_it_back(qapp, qtbot, scheme_restored):
    qapp.setStyle("Windows")  # a platform style that draws light, and is not Fusion
    light_window = qapp.palette().window().color()
    palette.set_scheme(DARK)
    with qtbot.waitSignal(palette.notifier().changed, timeout=1000) as told:
        palette.apply_scheme(qapp)
    assert told.args == [DARK]
    assert qapp.palette().window().color().name() == value("window", DARK)
    assert qapp.palette().text().color().name() == value("text", DARK)
    assert value("surface_alt", DARK) in qapp.styleSheet()
    assert palette.system_scheme() == LIGHT  # our own dark palette is not taken for the system's
    assert palette._style_name(qapp) == "fusion"  # the style that draws a dark palette everywhere
    palette.set_scheme(LIGHT)
    with qtbot.waitSignal(palette.notifier().changed, timeout=1000) as told:
        palette.apply_scheme(qapp)
    assert told.args == [LIGHT]
    assert qapp.palette().window().color() == light_window
    assert value("surface_alt", LIGHT) in qapp.styleSheet()
    assert palette._style_name(qapp) == "windows"  # (reads it under the sheet, which it takes off)


def test_a_change_of_the_system_scheme_is_followed_unless_one_is_forced(qapp, qtbot, scheme_restored):
    palette.follow_system(qapp)
    with qtbot.waitSignal(palette.notifier().changed, timeout=1000) as told:
        qapp.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert told.args == [palette.system_scheme()]
    palette.set_scheme(DARK)
    with qtbot.assertNotEmitted(palette.notifier().changed):
        qapp.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)


def test_plots_and_highlighting_repaint_in_the_new_scheme(qapp, qtbot, scheme_restored):
    from explorer.ui.param_panels import SourceView
    from explorer.ui.param_stats import StatsPanel

    stats = StatsPanel()
    source = SourceView()
    for widget in (stats, source):
        qtbot.addWidget(widget)
    source.show_source("Tiny", "tiny.py", "import os  # one\n")
    axis = stats.histogram.getAxis("left")
    assert axis.textPen().color().name() == value("muted", LIGHT)

    def keyword_colour() -> str:
        block = source.text.document().firstBlock()
        first = block.layout().formats()[0]
        return first.format.foreground().color().name()

    assert keyword_colour() == value("code_keyword", LIGHT)
    palette.set_scheme(DARK)
    palette.apply_scheme(qapp)
    assert axis.textPen().color().name() == value("muted", DARK)
    assert stats._bars.opts["pen"].color().name() == value("plot_line", DARK)
    assert keyword_colour() == value("code_keyword", DARK)


def test_item_models_colour_rows_with_the_scheme_in_force(qtbot, scheme_restored):
    from explorer.ui.browser import CheckpointBrowser
    from explorer.ui.param_tables import TensorTableModel

    tensors = TensorInfo("lm_head.weight", "float32", (2, 2), "model.safetensors", 16)
    table = TensorTableModel()
    table.set_tensors([tensors])
    table.set_unexpected({"lm_head.weight"})
    browser = CheckpointBrowser()
    qtbot.addWidget(browser)
    browser.add_checkpoints([Checkpoint(id="broken", source="folder", path="/x/broken", origin="/x", problems=["config.json: cut short"])])
    broken = browser.proxy.index(0, 0, browser.proxy.index(0, 0))
    assert broken.data() == "broken"
    for scheme in SCHEMES:
        palette.set_scheme(scheme)
        assert table.data(table.index(0, 0), Qt.ItemDataRole.BackgroundRole).color().name() == value("weight_unexpected_bg", scheme)
        assert table.data(table.index(0, 0), Qt.ItemDataRole.ForegroundRole).color().name() == value("text", scheme)
        assert QColor(broken.data(Qt.ItemDataRole.ForegroundRole)).name() == value("error", scheme)


def test_html_written_for_the_user_uses_roles(scheme_restored):
    from explorer.ui.param_panels import match_summary_html

    for scheme in SCHEMES:
        palette.set_scheme(scheme)
        shown = match_summary_html(None, None, ["config.json is cut short"])
        assert color("error") in shown
        document = QTextDocument()
        document.setHtml(shown)
        assert "config.json is cut short" in document.toPlainText()


@pytest.mark.slow
def test_the_screenshot_option_takes_the_scheme_it_is_given(tmp_path, samples_root):
    import os
    import subprocess
    import sys

    from PySide6.QtGui import QImage

    png = tmp_path / "dark.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MODEL_EXPLORER_HOME=str(tmp_path / "home"))
    out = subprocess.run(
        [sys.executable, "-m", "explorer", "--screenshot", str(png), "--folder", str(samples_root), "--select", "tiny-t5", "--scheme", "dark"],
        capture_output=True, text=True, env=env, timeout=180,
    )
    assert out.returncode == 0, out.stderr
    image = QImage(str(png))
    average = image.scaled(1, 1, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation).pixelColor(0, 0)
    assert average.lightness() < 80  # the window, lists and panels are dark, not only the text
