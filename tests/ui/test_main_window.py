"""The window: browser fills from a scan, filter, selection, folders, drag and drop, empty state."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from explorer.core.paths import settings_file
from explorer.core.settings import Settings, load_settings


def visible_checkpoint_names(window) -> list[str]:
    proxy = window.browser.proxy
    names = []
    for row in range(proxy.rowCount()):
        location = proxy.index(row, 0)
        for child in range(proxy.rowCount(location)):
            names.append(proxy.index(child, 0, location).data())
    return names


def test_list_fills_with_every_sample(make_window, samples_root):
    window = make_window(folders=[samples_root])
    names = visible_checkpoint_names(window)
    assert sorted(names) == sorted(p.name for p in samples_root.iterdir())
    assert "7 checkpoints" in window.status_count.text()
    assert "scanned in" in window.status_count.text()


def test_filter_matches_name_model_type_and_architecture(make_window, samples_root, qtbot):
    window = make_window(folders=[samples_root])
    window.filter_edit.setText("gpt2")
    assert visible_checkpoint_names(window) == ["tiny-gpt2-lm"]
    window.filter_edit.setText("ForQuestionAnswering")
    assert visible_checkpoint_names(window) == ["tiny-bert-qa"]
    window.filter_edit.setText("distilbert")
    assert visible_checkpoint_names(window) == ["tiny-distilbert-sentiment"]
    window.filter_edit.clear()
    assert len(visible_checkpoint_names(window)) == 7


def test_ctrl_f_focuses_the_filter(make_window, samples_root, qtbot):
    window = make_window(folders=[samples_root])
    window.activateWindow()
    window.filter_action.trigger()
    assert window.filter_edit.hasFocus() or window.focusWidget() is window.filter_edit


def test_sorting_by_parameters(make_window, samples_root):
    window = make_window(folders=[samples_root])
    window.browser.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    names = visible_checkpoint_names(window)
    assert names[0] == "tiny-gpt2-lm"  # the largest sample


def test_selection_shows_overview_and_model_card(make_window, samples_root, qtbot):
    window = make_window(folders=[samples_root])
    assert window.browser.select_match("tiny-bert-ner")
    overview = window.overview
    assert overview.title.text() == "tiny-bert-ner"
    assert overview.fields["model_type"].text() == "bert"
    assert "BertForTokenClassification" in overview.fields["architectures"].text()
    assert "float32" in overview.fields["parameters"].text()
    # The card is read in a worker: the facts above show at once, the card when it has been read.
    qtbot.waitUntil(lambda: not overview.is_busy() and "license" in overview.card_fields.text(), timeout=5000)
    assert "apache-2.0" in overview.card_fields.text()
    assert "random weights" in overview.card.toPlainText()
    assert "random weights" in overview.badges.text()
    files = [overview.files.item(r, 0).text() for r in range(overview.files.rowCount())]
    assert "model.safetensors" in files and "config.json" in files


def test_add_folder_is_scanned_and_remembered(make_window, samples_root, tmp_path, qtbot):
    window = make_window(folders=[])
    target = tmp_path / "models"
    shutil.copytree(samples_root / "tiny-bert-qa", target / "tiny-bert-qa")
    with qtbot.waitSignal(window.scan_finished, timeout=30_000):
        window.add_folder(str(target))
    assert visible_checkpoint_names(window) == ["tiny-bert-qa"]
    saved = json.loads(settings_file().read_text())
    assert saved["settings"]["folders"] == [str(target)]
    with qtbot.waitSignal(window.scan_finished, timeout=30_000):
        window.remove_folder(str(target))
    assert visible_checkpoint_names(window) == []


def test_dropping_a_folder_adds_it(make_window, samples_root, tmp_path, qtbot):
    window = make_window(folders=[])
    target = tmp_path / "dropped"
    shutil.copytree(samples_root / "tiny-t5", target / "tiny-t5")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(target))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.scan_finished, timeout=30_000):
        window.dropEvent(event)
    assert str(target) in window.settings.folders
    assert "tiny-t5" in [c.id for c in window.browser.source_model.checkpoints()]


def test_empty_state_says_where_it_looked_and_creates_samples(make_window, tmp_path, qtbot):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    window = make_window(folders=[empty])
    assert window.left_stack.currentWidget() is window.empty_state
    assert str(empty) in window.empty_state.where.text()
    with qtbot.waitSignal(window.samples_created, timeout=120_000) as created:
        window.empty_state.samples_button.click()
    assert len(created.args[0]) == 7
    qtbot.waitUntil(lambda: not window.jobs.busy("scan") and len(window.browser.source_model.checkpoints()) >= 7, timeout=30_000)
    assert window.left_stack.currentWidget() is window.browser
    sample_ids = {c.id for c in window.browser.source_model.checkpoints()}
    assert {"tiny-bert-mlm", "tiny-gpt2-lm", "tiny-t5"} <= sample_ids


def test_corrupt_settings_are_set_aside_with_a_notice(make_window, qtbot):
    path = settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ not json", encoding="utf-8")
    loaded = load_settings()
    assert loaded.notice and "could not be read" in loaded.notice
    assert loaded.settings == Settings()
    assert not path.exists()
    assert any(p.name.startswith("settings.json.corrupt-") for p in path.parent.iterdir())
    window = make_window(folders=[], notice=loaded.notice)
    qtbot.waitUntil(lambda: getattr(window, "_last_notice", None) is not None, timeout=5000)
    assert "could not be read" in window._last_notice.text()


def test_geometry_and_splitter_are_saved_on_close(make_window, samples_root):
    window = make_window(folders=[samples_root])
    window.browser.select_match("tiny-t5")
    window.close()
    saved = load_settings().settings
    assert saved.window_geometry
    assert len(saved.splitter_sizes) == 2
    assert saved.last_selection and saved.last_selection.endswith("tiny-t5")


def test_window_is_shown_before_torch_and_transformers_are_imported(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        from explorer.app import create_application
        from explorer.core.settings import load_settings
        from explorer.ui.main_window import MainWindow
        app = create_application([])
        window = MainWindow(load_settings(), locations=[])
        window.show()
        app.processEvents()
        print("visible", window.isVisible(), "torch" in sys.modules, "transformers" in sys.modules)
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MODEL_EXPLORER_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "visible True False False" in out.stdout


@pytest.mark.slow
def test_screenshot_command_writes_a_png(tmp_path, samples_root):
    png = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MODEL_EXPLORER_HOME=str(tmp_path / "home"))
    out = subprocess.run(
        [sys.executable, "-m", "explorer", "--screenshot", str(png), "--folder", str(samples_root), "--select", "tiny-bert-mlm"],
        capture_output=True, text=True, env=env, timeout=180,
    )
    assert out.returncode == 0, out.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    assert (image.width(), image.height()) == (1280, 800)


@pytest.mark.slow
def test_warm_up_imports_the_stack_after_the_first_scan(tmp_path, samples_root):
    script = textwrap.dedent(
        """
        import sys, threading
        from PySide6.QtCore import QEventLoop, QTimer
        from explorer.app import create_application
        from explorer.core.settings import LoadedSettings, Settings
        from explorer.ui.main_window import MainWindow
        app = create_application([])
        window = MainWindow(LoadedSettings(Settings(folders=[sys.argv[1]])))
        window.show()
        loop = QEventLoop()
        window.scan_finished.connect(lambda stats: loop.quit())
        window.start_scan()
        loop.exec()
        warm = [t for t in threading.enumerate() if t.name == "warm-up-imports"]
        warm[0].join(120)
        from explorer.core import torch_import
        print("ready", sorted(torch_import._ready))
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MODEL_EXPLORER_HOME=str(tmp_path), MODEL_EXPLORER_WARM_UP="1")
    out = subprocess.run([sys.executable, "-c", script, str(samples_root)], capture_output=True, text=True, env=env, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "ready ['torch', 'transformers']" in out.stdout


def test_a_quick_second_selection_shows_its_own_card(make_window, samples_root, qtbot):
    window = make_window(folders=[samples_root])
    overview = window.overview
    assert window.browser.select_match("tiny-bert-ner")
    assert window.browser.select_match("tiny-gpt2-lm")
    qtbot.waitUntil(lambda: not overview.is_busy() and "Reading" not in overview.card.toPlainText(), timeout=5000)
    assert "tiny-gpt2-lm" in overview.card.toPlainText()
    assert "tiny-bert-ner" not in overview.card.toPlainText()


def test_legacy_cache_checkpoint_reaches_the_tabs_through_a_named_view(sample, tmp_path, qtbot):
    from explorer.core.discovery import ScanLocation
    from explorer.core.paths import cache_dir
    from explorer.core.settings import LoadedSettings
    from explorer.ui.main_window import MainWindow
    from tests.core.test_locate import make_flat_legacy_cache

    cache = tmp_path / "torch-transformers"
    make_flat_legacy_cache(cache, sample("tiny-bert-mlm"), "bert-base-uncased")
    window = MainWindow(LoadedSettings(Settings(), None), locations=[ScanLocation("legacy-cache", str(cache))])
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.tabs_ready, timeout=30_000):
        window.start_background_work()
    qtbot.waitUntil(lambda: window.last_stats is not None, timeout=30_000)
    assert window.browser.select_match("bert-base-uncased")
    parameters = next(window.tabs.widget(i) for i in range(window.tabs.count()) if window.tabs.tabText(i) == "Parameters")
    qtbot.waitUntil(lambda: not window.is_busy() and parameters._checkpoint is not None, timeout=10_000)
    assert parameters._checkpoint.path.startswith(str(cache_dir()))


def test_path_buttons_need_a_selection(make_window, samples_root):
    window = make_window(folders=[samples_root])
    window.overview.set_checkpoint(None)
    assert not window.overview.copy_button.isEnabled() and not window.overview.open_button.isEnabled()
    assert window.browser.select_match("tiny-t5")
    assert window.overview.copy_button.isEnabled() and window.overview.open_button.isEnabled()


def test_names_from_disk_show_as_typed(make_window, sample, tmp_path):
    folder = tmp_path / "<i>bold"
    shutil.copytree(sample("tiny-bert-qa"), folder)
    window = make_window(folders=[tmp_path])
    assert window.browser.select_match("<i>bold")
    overview = window.overview
    assert overview.title.text() == "<i>bold"
    assert overview.title.textFormat() == Qt.TextFormat.PlainText
    assert overview.fields["path"].textFormat() == Qt.TextFormat.PlainText


def test_the_next_start_reuses_what_this_session_read(make_window, samples_root, tmp_path):
    import shutil

    from explorer.core.paths import scan_index_file
    from tests.core.hub_layout import age_tree

    folder = shutil.copytree(samples_root, tmp_path / "mine")
    age_tree(folder)
    first = make_window(folders=[folder])
    assert scan_index_file().is_file()
    first.close()
    second = make_window(folders=[folder])
    assert second.last_stats.reused == 7 and len(visible_checkpoint_names(second)) == 7


def test_places_named_on_the_command_line_are_not_saved_for_the_next_start(make_window, sample, tmp_path):
    from explorer.core.paths import scan_index_file
    from tests.core.hub_layout import HubRepo, commit_hash

    repo = HubRepo(tmp_path / "hub", "org/tiny")
    repo.add_folder(commit_hash("one"), sample("tiny-bert-mlm"))
    make_window(hub_caches=[tmp_path / "hub"])
    assert not scan_index_file().exists()


def test_troubles_of_the_scan_itself_are_counted_in_the_status_bar(make_window, samples_root):
    from explorer.core.paths import cache_dir

    cache_dir().parent.mkdir(parents=True, exist_ok=True)
    cache_dir().write_text("a file where the app's cache folder should be")
    window = make_window(folders=[samples_root])
    assert len(visible_checkpoint_names(window)) == 7
    assert "1 scan note" in window.status_count.text()
    assert "could not be saved for the next start" in window.status_count.toolTip()
