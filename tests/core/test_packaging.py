"""Desktop entry, AppStream metainfo, icons, style sheet and the PyInstaller spec agree and exist."""

from __future__ import annotations

import ast
import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from explorer import resources

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
APP_ID = "io.github.modelexplorer.ModelExplorer"
DESKTOP = PACKAGING / f"{APP_ID}.desktop"
METAINFO = PACKAGING / f"{APP_ID}.metainfo.xml"


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def metainfo() -> ET.Element:
    return ET.parse(METAINFO).getroot()


def test_desktop_entry_fields():
    import explorer

    assert explorer.APP_ID == APP_ID  # the running app names its desktop file with it
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Model Explorer"
    assert entry["Exec"].split()[0] == "model-explorer"
    assert entry["Icon"] == APP_ID
    assert set(entry["Categories"].rstrip(";").split(";")) >= {"Development", "Science"}
    assert entry["Terminal"] == "false"


def test_metainfo_ids_agree_with_the_desktop_entry():
    root = metainfo()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID == DESKTOP.stem
    launchable = root.find("launchable")
    assert launchable.get("type") == "desktop-id" and launchable.text == DESKTOP.name
    assert root.findtext("provides/binary") == desktop_entry()["Exec"].split()[0]
    assert root.findtext("name") == desktop_entry()["Name"]
    assert root.findtext("summary")
    assert root.find("description/p") is not None
    assert root.find("content_rating").get("type").startswith("oars-")
    assert root.findtext("metadata_license") and root.findtext("project_license")


def test_entry_point_named_by_the_desktop_entry_exists():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert desktop_entry()["Exec"].split()[0] in project["project"]["scripts"]


def test_installed_icon_matches_the_desktop_entry(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("install_desktop_files", PACKAGING / "install_desktop_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.install(tmp_path)
    icon_name = desktop_entry()["Icon"]
    share = tmp_path / "share"
    assert (share / "icons/hicolor/scalable/apps" / f"{icon_name}.svg").is_file()
    for size in resources.APP_ICON_SIZES:
        assert (share / f"icons/hicolor/{size}x{size}/apps" / f"{icon_name}.png").is_file()
    assert (share / "applications" / DESKTOP.name).read_bytes() == DESKTOP.read_bytes()
    assert (share / "metainfo" / METAINFO.name).is_file()
    assert all(path.stat().st_size > 0 for path in written)


def test_resource_path_finds_the_icon_and_style_sheet():
    svg = resources.resource_path(resources.APP_ICON_SVG)
    assert svg.is_file() and ET.parse(svg).getroot().tag.endswith("svg")
    assert [p.name for p in resources.app_icon_paths()] == ["model-explorer.svg"] + [
        f"model-explorer-{n}.png" for n in resources.APP_ICON_SIZES
    ]
    assert "QTabBar::tab" in resources.style_sheet_text()


def test_resource_path_prefers_the_packaged_copy(tmp_path, monkeypatch):
    # An installed wheel carries resources inside the package (hatch force-include).
    packaged = tmp_path / "explorer"
    (packaged / "resources").mkdir(parents=True)
    (packaged / "resources" / "style.qss").write_text("QWidget {}")
    monkeypatch.setattr(resources, "_PACKAGE_DIR", packaged)
    assert resources.resource_path("style.qss") == packaged / "resources" / "style.qss"
    with pytest.raises(FileNotFoundError, match="style-missing.qss"):
        resources.resource_path("style-missing.qss")
    with pytest.raises(ValueError):
        resources.resource_path("../pyproject.toml")
    monkeypatch.setattr(resources, "_PACKAGE_DIR", tmp_path / "nowhere" / "explorer")
    assert resources.app_icon_paths() == [] and resources.style_sheet_text() == ""  # no crash without resources


def test_png_icons_have_their_sizes_and_match_the_svg():
    import struct

    for size in resources.APP_ICON_SIZES:
        data = resources.resource_path(f"icons/model-explorer-{size}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert (width, height) == (size, size)


def test_style_sheet_and_icon_load_in_qt(qapp):
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler
    from PySide6.QtGui import QIcon
    from PySide6.QtSvg import QSvgRenderer
    from PySide6.QtWidgets import QTabWidget, QTreeView, QWidget

    assert QSvgRenderer(str(resources.resource_path(resources.APP_ICON_SVG))).isValid()
    icon = QIcon()
    for path in resources.app_icon_paths():
        icon.addFile(str(path))
    assert not icon.isNull()

    warnings = []
    previous = qInstallMessageHandler(lambda kind, _context, text: warnings.append(text) if kind != QtMsgType.QtDebugMsg else None)
    try:
        window = QWidget()
        window.setStyleSheet(resources.style_sheet_text())
        tabs = QTabWidget(window)
        tabs.addTab(QTreeView(), "Overview")
        window.show()
        window.ensurePolished()
        tabs.ensurePolished()
        window.close()
    finally:
        qInstallMessageHandler(previous)
    assert not [w for w in warnings if "style" in w.lower() or "parse" in w.lower()], warnings


def test_pyinstaller_spec_is_python_and_points_at_real_files():
    source = (PACKAGING / "model-explorer.spec").read_text()
    tree = ast.parse(source)
    assert "pyinstaller --noconfirm --clean packaging/model-explorer.spec" in source
    calls = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= calls
    assert (ROOT / "explorer" / "__main__.py").is_file()
    assert (ROOT / "resources").is_dir()
    assert "PySide6.QtWebEngineCore" in source or '"QtWebEngineCore"' in source
    assert "packaging/model-explorer.spec" in (PACKAGING / "README.md").read_text()


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_file_validates():
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    # Hints are allowed: "Development;Science;" (as asked for) earns one for naming two main categories.
    complaints = [line for line in result.stdout.splitlines() if ": error:" in line or ": warning:" in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstream not installed")
def test_metainfo_validates():
    result = subprocess.run(["appstreamcli", "validate", "--no-net", "--explain", str(METAINFO)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
