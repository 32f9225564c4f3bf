"""Install the desktop entry, AppStream metainfo and icons under a prefix (default ~/.local).

    python packaging/install_desktop_files.py [--prefix DIR]

After `pip install .` this makes Model Explorer appear in the desktop's application menu.
The icon is installed under the application id, as the desktop entry names it.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

APP_ID = "io.github.modelexplorer.ModelExplorer"
PACKAGING = Path(__file__).resolve().parent
ROOT = PACKAGING.parent
ICONS = ROOT / "resources" / "icons"
PNG_SIZES = (16, 32, 48, 64, 128, 256)


def planned_files(prefix: Path) -> dict[Path, Path]:
    """Destination -> source of every file the install writes."""
    share = Path(prefix) / "share"
    files = {
        share / "applications" / f"{APP_ID}.desktop": PACKAGING / f"{APP_ID}.desktop",
        share / "metainfo" / f"{APP_ID}.metainfo.xml": PACKAGING / f"{APP_ID}.metainfo.xml",
        share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg": ICONS / "model-explorer.svg",
    }
    for size in PNG_SIZES:
        files[share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"] = ICONS / f"model-explorer-{size}.png"
    return files


def install(prefix: Path) -> list[Path]:
    written = []
    for destination, source in planned_files(prefix).items():
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        written.append(destination)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description="Install Model Explorer's desktop entry, metainfo and icons.")
    parser.add_argument("--prefix", type=Path, default=Path.home() / ".local")
    args = parser.parse_args()
    for path in install(args.prefix):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
