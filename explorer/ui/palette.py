"""The app's named colours, one palette per colour scheme (light, dark).

Every colour the UI uses comes from here by its role (``color("error")``): the style sheet,
HTML in labels, item-model brushes and the plots. The scheme follows the system's (Qt's style
hints); ``set_scheme`` forces one (tests, screenshots). Roles, not hues: "error" is a dark red
on a light background and a light red on a dark one, so both stay readable (tests/ui/test_palette.py
checks the contrast of every text role on the backgrounds it is drawn on).

``apply_scheme`` puts the current scheme in force: in dark, a dark QPalette (on the Fusion style
when the platform's own palette is light, as on Linux offscreen/xcb) so native widgets are dark too;
the style sheet (explorer.resources.style_sheet_text) filled from the roles; then ``notifier().changed`` so widgets that baked colours
into HTML or plots paint them again. ``follow_system`` re-applies when the system's scheme changes.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette

LIGHT = "light"
DARK = "dark"

# role -> (light, dark)
ROLES: dict[str, tuple[str, str]] = {
    # text colours
    "text": ("#1f2329", "#e6e8ec"),
    "muted": ("#5c6370", "#9aa1ac"),
    "heading": ("#3b4254", "#c9ced8"),
    "ok": ("#15713a", "#6fd391"),
    "warning": ("#955400", "#f0b35a"),
    "error": ("#b00020", "#ff8a8a"),
    "accent": ("#3451b2", "#8ea4ff"),
    "link": ("#3451b2", "#8ea4ff"),
    "disabled_text": ("#9aa0aa", "#6b717c"),  # WCAG exempts disabled controls; only has to look inactive
    # surfaces: the window behind panels, the base of lists and inputs
    "window": ("#efefef", "#272a30"),
    "surface": ("#ffffff", "#1e2126"),
    "surface_alt": ("#f4f5f8", "#262a31"),
    "alternate_bg": ("#f7f8fb", "#23262c"),
    "border": ("#dcdfe6", "#3a3f48"),
    "input_border": ("#cfd4de", "#4a505b"),
    "focus": ("#4263eb", "#7c93ff"),
    "button_bg": ("#fbfbfd", "#30343b"),
    "header_bg": ("#f4f5f9", "#2a2e35"),
    "hover_bg": ("#eef1f8", "#313744"),
    "pressed_bg": ("#e1e6f4", "#3a4252"),
    "tooltip_bg": ("#fdfdfe", "#2d3139"),
    "progress": ("#748ffc", "#5c77e6"),
    # backgrounds of notices and highlighted rows (text on them: "text" or the notice's own role)
    "warning_bg": ("#fff4e5", "#3a2e1a"),
    "warning_border": ("#f0c58a", "#7a5a26"),
    "error_bg": ("#fde8ea", "#3d2024"),
    "error_border": ("#f4a3a8", "#8a3a42"),
    "ok_bg": ("#e6f4ea", "#1d3326"),
    "selection_bg": ("#e3eefc", "#253a55"),
    "changed_bg": ("#fff4d6", "#3a3320"),
    "new_bg": ("#fdecea", "#3d2326"),
    "dropped_bg": ("#eef1f8", "#2a2f3a"),
    "mismatch_bg": ("#fde2e1", "#432528"),
    # weights against a model (Parameters tab): newly initialised, shape differs, dropped
    "weight_missing_bg": ("#ffc478", "#5a3d12"),
    "weight_missing_within_bg": ("#ffe8c8", "#3a2e1a"),
    "weight_mismatch_bg": ("#f08080", "#5c2428"),
    "weight_mismatch_within_bg": ("#fad2d2", "#3d2326"),
    "weight_unexpected_bg": ("#c8d7f5", "#24344f"),
    # spans marked in a text (entities, tokens, an answer): "text" reads on each; neighbours in the list differ
    "highlight_1": ("#ffd166", "#5c4a12"),
    "highlight_2": ("#8ecae6", "#1e4d66"),
    "highlight_3": ("#b5e48c", "#355a22"),
    "highlight_4": ("#f4a3a8", "#6a2c38"),
    "highlight_5": ("#cdb4db", "#4d3a66"),
    "highlight_6": ("#90e0ef", "#1d5560"),
    "highlight_7": ("#e9c46a", "#5a4a22"),
    "highlight_8": ("#f28482", "#6e3030"),
    # badges: white text on these in both schemes
    "badge_text": ("#ffffff", "#ffffff"),
    "badge_random": ("#5c2d91", "#7e4bc0"),
    "badge_tokenizer": ("#1f6f43", "#237347"),
    "badge_code": ("#8a4b00", "#9a5a0c"),
    "badge_problem": ("#a4262c", "#b8353b"),
    # source code (Python, JSON)
    "code_keyword": ("#0033b3", "#8fa8ff"),
    "code_builtin": ("#7a3e9d", "#d29ef0"),
    "code_definition": ("#00627a", "#5fc6da"),
    "code_string": ("#067d17", "#7fd48a"),
    "code_comment": ("#6a6a6a", "#9aa1ac"),
    "code_number": ("#1750eb", "#8ab4ff"),
    "code_decorator": ("#7d6a00", "#d8c25a"),
    # plots
    "plot_line": ("#3c78c8", "#7aa7ea"),
    "plot_fill": ("#c8d7f5", "#2f4466"),
    "plot_line_2": ("#c85a28", "#f0a060"),
    "plot_grid": ("#d0d4dc", "#3a3f48"),
}

# Which text role is read on which background, and how much contrast it needs (WCAG 2:
# 4.5 for body text, 3 for large or bold badge text). tests/ui/test_palette.py checks them all.
TEXT_ROLES = (
    "text", "muted", "heading", "ok", "warning", "error", "accent", "link",
    "code_keyword", "code_builtin", "code_definition", "code_string", "code_comment", "code_number", "code_decorator",
)
READ_ON = ("window", "surface", "surface_alt", "alternate_bg", "header_bg", "tooltip_bg", "button_bg")
NOTICES = {"warning": "warning_bg", "error": "error_bg", "ok": "ok_bg"}
ROW_BACKGROUNDS = (
    "selection_bg", "changed_bg", "new_bg", "dropped_bg", "mismatch_bg", "warning_bg", "error_bg", "ok_bg",
    "weight_missing_bg", "weight_missing_within_bg", "weight_mismatch_bg", "weight_mismatch_within_bg", "weight_unexpected_bg",
    *(f"highlight_{i}" for i in range(1, 9)),
)
BADGES = ("badge_random", "badge_tokenizer", "badge_code", "badge_problem")

_forced: str | None = None


def set_scheme(scheme: str | None) -> None:
    """Force the light or dark palette (None: follow the system). ``apply_scheme`` puts it in force."""
    global _forced
    if scheme not in (None, LIGHT, DARK):
        raise ValueError(f"unknown colour scheme {scheme!r}")
    _forced = scheme


def system_scheme() -> str:
    """The system's scheme (Qt's style hints), else what the platform's palette looks like."""
    app = QGuiApplication.instance()
    if app is None:
        return LIGHT
    hint = app.styleHints().colorScheme()
    if hint == Qt.ColorScheme.Dark:
        return DARK
    if hint == Qt.ColorScheme.Light:
        return LIGHT
    # Our own dark palette must not be taken for the system's.
    window = (_platform_palette if _platform_palette is not None else app.palette()).window().color()
    return DARK if window.lightness() < 128 else LIGHT


def scheme() -> str:
    """LIGHT or DARK: the forced one, else the system's."""
    return _forced if _forced is not None else system_scheme()


def is_dark() -> bool:
    return scheme() == DARK


def color(role: str) -> str:
    """The hex colour of a role in the current scheme."""
    light, dark = ROLES[role]
    return dark if is_dark() else light


def qcolor(role: str) -> QColor:
    return QColor(color(role))


# --------------------------------------------------------------------------- contrast (WCAG 2)


def relative_luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    """1 (none) to 21 (black on white); WCAG asks 4.5 for body text, 3 for large text."""
    high, low = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# --------------------------------------------------------------------------- style sheet

_TOKEN = re.compile(r"@([a-z][a-z0-9_]*)")
# Images drawn in the text colour of a scheme: resources/icons/<name>-<scheme>.svg (``@image_arrow_up``).
_IMAGE_PREFIX = "image_"


def _image_path(name: str, scheme_name: str) -> str | None:
    from explorer.resources import resource_path

    try:
        return resource_path(f"icons/{name.replace('_', '-')}-{scheme_name}.svg").as_posix()
    except (FileNotFoundError, ValueError):
        return None


def fill_style_sheet(template: str, scheme_name: str | None = None) -> str:
    """The style sheet with every ``@role`` replaced by that role's colour and every ``@image_name`` by
    the path of that image for the scheme (unknown words stay as written)."""
    scheme_name = scheme_name or scheme()
    pick = 1 if scheme_name == DARK else 0

    def fill(match: re.Match) -> str:
        word = match.group(1)
        if word in ROLES:
            return ROLES[word][pick]
        if word.startswith(_IMAGE_PREFIX):
            return _image_path(word[len(_IMAGE_PREFIX) :], scheme_name) or match.group(0)
        return match.group(0)

    return _TOKEN.sub(fill, template)


# --------------------------------------------------------------------------- applying a scheme


def dark_palette() -> QPalette:
    """A QPalette from the dark roles, so native widgets (menus, scroll bars, dialogs) are dark too."""

    def dark(role: str) -> QColor:
        return QColor(ROLES[role][1])

    palette = QPalette(dark("button_bg"), dark("window"))  # derives light/mid/dark shades for the style
    groups = {
        QPalette.ColorRole.Window: "window",
        QPalette.ColorRole.WindowText: "text",
        QPalette.ColorRole.Base: "surface",
        QPalette.ColorRole.AlternateBase: "alternate_bg",
        QPalette.ColorRole.ToolTipBase: "tooltip_bg",
        QPalette.ColorRole.ToolTipText: "text",
        QPalette.ColorRole.PlaceholderText: "muted",
        QPalette.ColorRole.Text: "text",
        QPalette.ColorRole.Button: "button_bg",
        QPalette.ColorRole.ButtonText: "text",
        QPalette.ColorRole.Highlight: "selection_bg",
        QPalette.ColorRole.HighlightedText: "text",
        QPalette.ColorRole.Link: "link",
        QPalette.ColorRole.LinkVisited: "accent",
    }
    for qt_role, role in groups.items():
        palette.setColor(qt_role, dark(role))
    palette.setColor(QPalette.ColorRole.BrightText, QColor("#ffffff"))
    for qt_role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, qt_role, dark("disabled_text"))
    return palette


class SchemeNotifier(QObject):
    changed = Signal(str)
    """Emitted with LIGHT or DARK after a scheme was put in force: repaint what holds baked colours."""


_notifier: SchemeNotifier | None = None
_platform_palette: QPalette | None = None  # the platform's own palette, while ours is in force
_platform_style: str | None = None  # the platform's style name, while Fusion stands in for it
_following = False


def notifier() -> SchemeNotifier:
    global _notifier
    if _notifier is None:
        _notifier = SchemeNotifier()
    return _notifier


def apply_scheme(app=None) -> str:
    """Put the current scheme in force on the application: palette, style, style sheet; tell the widgets."""
    global _platform_palette, _platform_style
    from PySide6.QtWidgets import QApplication

    app = app or QApplication.instance()
    if app is None:
        return scheme()
    current = scheme()
    if current == DARK:
        native = _platform_palette if _platform_palette is not None else app.palette()
        if native.window().color().lightness() >= 128:  # the platform draws light: draw dark ourselves
            if _platform_palette is None:
                _platform_palette = QPalette(app.palette())
                _platform_style = _style_name(app)
            if _style_name(app).lower() != "fusion":
                app.setStyle("Fusion")
            app.setPalette(dark_palette())
    elif _platform_palette is not None:  # back to light: give the platform its own look back
        if _platform_style and _style_name(app).lower() != _platform_style.lower():
            app.setStyle(_platform_style)
        app.setPalette(_platform_palette)
        _platform_palette, _platform_style = None, None
    from explorer.resources import style_sheet_text

    app.setStyleSheet(style_sheet_text(current))
    notifier().changed.emit(current)
    return current


def _style_name(app) -> str:
    """The style under the style sheet ("fusion", "breeze", ...): with a sheet set, Qt names its own layer ''."""
    name = app.style().name()
    if not name and app.styleSheet():
        app.setStyleSheet("")  # the caller sets the new one right after
        name = app.style().name()
    return name


def follow_system(app) -> None:
    """Re-apply when the system's colour scheme changes while the app runs (unless one is forced)."""
    global _following
    if _following:
        return
    _following = True

    def changed(_hint) -> None:
        if _forced is None:
            apply_scheme(app)

    app.styleHints().colorSchemeChanged.connect(changed)


__all__ = [
    "DARK", "LIGHT", "ROLES", "apply_scheme", "color", "contrast_ratio", "dark_palette", "fill_style_sheet",
    "follow_system", "is_dark", "notifier", "qcolor", "scheme", "set_scheme", "system_scheme",
]
