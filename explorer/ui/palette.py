"""The app's named colours, one palette per colour scheme (light, dark).

Every colour the UI uses comes from here by its role (``color("error")``): the style sheet,
HTML in labels, item-model brushes and the plots. The scheme follows the system's (Qt's style
hints); ``set_scheme`` forces one (tests, screenshots). Roles, not hues: "error" is a dark red
on a light background and a light red on a dark one, so both stay readable.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication

LIGHT = "light"
DARK = "dark"

# role -> (light, dark)
ROLES: dict[str, tuple[str, str]] = {
    # text colours
    "text": ("#1f2329", "#e6e8ec"),
    "muted": ("#6b7280", "#9aa1ac"),
    "ok": ("#1b7f3b", "#6fd391"),
    "warning": ("#a15c00", "#f0b35a"),
    "error": ("#b00020", "#ff8a8a"),
    "accent": ("#3451b2", "#8ea4ff"),
    "link": ("#3451b2", "#8ea4ff"),
    # backgrounds of notices and highlighted rows
    "surface": ("#ffffff", "#1e2126"),
    "surface_alt": ("#f4f5f8", "#262a31"),
    "border": ("#dcdfe6", "#3a3f48"),
    "warning_bg": ("#fff4e5", "#3a2e1a"),
    "warning_border": ("#f0c58a", "#7a5a26"),
    "error_bg": ("#fde8ea", "#3d2024"),
    "error_border": ("#f4a3a8", "#8a3a42"),
    "ok_bg": ("#e6f4ea", "#1d3326"),
    "selection_bg": ("#e3eefc", "#23364f"),
    "changed_bg": ("#fff4d6", "#3a3320"),
    "new_bg": ("#fdecea", "#3d2326"),
    "dropped_bg": ("#eef1f8", "#2a2f3a"),
    "mismatch_bg": ("#fde2e1", "#432528"),
    # badges: white text on these in both schemes
    "badge_random": ("#5c2d91", "#7e4bc0"),
    "badge_tokenizer": ("#1f6f43", "#2c8a57"),
    "badge_code": ("#8a4b00", "#a8600f"),
    "badge_problem": ("#a4262c", "#c2363d"),
    # plots
    "plot_line": ("#3c78c8", "#7aa7ea"),
    "plot_fill": ("#c8d7f5", "#2f4466"),
    "plot_grid": ("#d0d4dc", "#3a3f48"),
}

_forced: str | None = None


def set_scheme(scheme: str | None) -> None:
    """Force the light or dark palette (None: follow the system)."""
    global _forced
    if scheme not in (None, LIGHT, DARK):
        raise ValueError(f"unknown colour scheme {scheme!r}")
    _forced = scheme


def scheme() -> str:
    """LIGHT or DARK: the forced one, else the system's (Qt's style hints), else what the palette looks like."""
    if _forced is not None:
        return _forced
    app = QGuiApplication.instance()
    if app is None:
        return LIGHT
    hint = app.styleHints().colorScheme()
    if hint == Qt.ColorScheme.Dark:
        return DARK
    if hint == Qt.ColorScheme.Light:
        return LIGHT
    window = app.palette().window().color()
    return DARK if window.lightness() < 128 else LIGHT


def is_dark() -> bool:
    return scheme() == DARK


def color(role: str) -> str:
    """The hex colour of a role in the current scheme."""
    light, dark = ROLES[role]
    return dark if is_dark() else light


def qcolor(role: str) -> QColor:
    return QColor(color(role))


__all__ = ["DARK", "LIGHT", "ROLES", "color", "is_dark", "qcolor", "scheme", "set_scheme"]
