"""The layer rules: the core and the tasks never import Qt; start-up paths import no torch."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "explorer"
QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6", "explorer.ui", "explorer.app")
HEAVY_MODULES = ("torch", "transformers", "accelerate")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", ["core", "tasks"])
def test_core_and_tasks_never_import_qt(layer):
    offenders = []
    for path in (PACKAGE / layer).rglob("*.py"):
        for name in imported_modules(path):
            if name.startswith(QT_MODULES):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_cli_never_imports_qt():
    for name in ("cli.py", "launcher.py"):
        offenders = [n for n in imported_modules(PACKAGE / name) if n.startswith(QT_MODULES[:3])]
        assert not offenders


def test_start_up_modules_do_not_import_torch_at_module_level():
    start_up = [PACKAGE / "app.py", PACKAGE / "__init__.py", PACKAGE / "launcher.py", *sorted((PACKAGE / "ui").glob("*.py"))]
    offenders = [
        f"{p.name} imports {n}" for p in start_up for n in top_level_imports(p) if n.split(".")[0] in HEAVY_MODULES
    ]
    assert not offenders, "\n".join(offenders)


def test_import_linter_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed")
    out = subprocess.run([str(lint)], capture_output=True, text=True, cwd=PACKAGE.parent, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_scan_command_imports_neither_qt_nor_torch(tmp_path, samples_root):
    script = (
        "import sys; from explorer import cli; cli.main(['scan', '--folder', sys.argv[1], '--json']); "
        "bad = [m for m in ('PySide6', 'torch', 'transformers') if m in sys.modules]; "
        "sys.stderr.write('LOADED:' + ','.join(bad))"
    )
    env = dict(os.environ, MODEL_EXPLORER_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script, str(samples_root)], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().endswith("LOADED:")
