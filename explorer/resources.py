"""Find the app's resource files (icons, style sheet) wherever the app runs from.

- installed wheel: ``explorer/resources/`` (pyproject's hatch force-include maps the
  repository's ``resources/`` there);
- source checkout or editable install: ``<repository>/resources/``;
- PyInstaller one-folder build: the spec copies them to ``explorer/resources/`` in the bundle,
  which is the first case again.

Plain paths and text: the window turns them into icons and style sheets. The style sheet is a
template whose colours are roles; ``style_sheet_text`` fills them from explorer/ui/palette.py.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent

APP_ICON_SVG = "icons/model-explorer.svg"
APP_ICON_SIZES = (16, 32, 48, 64, 128, 256)
STYLE_SHEET = "style.qss"


def resource_dirs() -> list[Path]:
    """Candidate resource folders, most specific first."""
    return [_PACKAGE_DIR / "resources", _PACKAGE_DIR.parent / "resources"]


def resource_path(name: str) -> Path:
    """Path of a resource such as ``"style.qss"`` or ``"icons/model-explorer.svg"``.

    Raises FileNotFoundError naming the places looked at, so a broken install says why.
    """
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"resource names are relative to the resources folder: {name!r}")
    for folder in resource_dirs():
        candidate = folder / relative
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(folder) for folder in resource_dirs())
    raise FileNotFoundError(f"resource {name!r} not found (looked in {looked})")


def app_icon_paths() -> list[Path]:
    """The icon's SVG and every PNG size present (a window icon takes them all); [] if none."""
    paths = []
    for name in (APP_ICON_SVG, *(f"icons/model-explorer-{size}.png" for size in APP_ICON_SIZES)):
        try:
            paths.append(resource_path(name))
        except FileNotFoundError:
            continue
    return paths


def style_sheet_template() -> str:
    """The style sheet as written, colour roles unfilled; '' if it is missing."""
    try:
        return resource_path(STYLE_SHEET).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError, UnicodeDecodeError):
        return ""


def style_sheet_text(scheme: str | None = None) -> str:
    """The app's style sheet for a colour scheme ("light", "dark"; None: the one in force),
    or '' if it is missing (the app still works unstyled)."""
    template = style_sheet_template()
    if not template:
        return ""
    from explorer.ui.palette import fill_style_sheet

    return fill_style_sheet(template, scheme)
