"""The browser's own tree model: sorting and filtering inside it keep the selection and the open repos; rows
streamed in by a scan are inserted, then sorted once; rows taken out by a rescan leave no dangling index."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt

from explorer.core.checkpoint import Checkpoint
from explorer.ui.browser import CheckpointBrowser


def _hub(repo: str, revision: str, refs=(), size: int = 10, params: int = 5) -> Checkpoint:
    return Checkpoint(
        id=repo, source="hub-cache", path=f"/cache/models--{repo.replace('/', '--')}/snapshots/{revision}", revision=revision,
        refs=list(refs), repo_path=f"/cache/models--{repo.replace('/', '--')}", origin="/cache", size_bytes=size,
        repo_size_bytes=size, num_parameters=params, model_type="bert",
    )


def _folder(name: str, size: int) -> Checkpoint:
    return Checkpoint(id=name, source="folder", path=f"/mine/{name}", origin="/mine", size_bytes=size, num_parameters=1, model_type="gpt2")


def _names(model, parent=QModelIndex()) -> list[str]:
    return [model.index(row, 0, parent).data() for row in range(model.rowCount(parent))]


def test_sorting_and_filtering_keep_the_selection_and_open_repos(qtbot):
    browser = CheckpointBrowser()
    qtbot.addWidget(browser)
    model = browser.source_model
    browser.add_checkpoints([
        _hub("org/small", "a" * 40, ["main"], size=10), _hub("org/big", "b" * 40, ["main"], size=300),
        _hub("org/big", "c" * 40, [], size=200), _folder("zeta", 50), _folder("alpha", 70),
    ])
    cache, mine = model.index(0, 0), model.index(1, 0)
    assert _names(model) == ["Hugging Face cache — /cache  ·  310 B", "Folder — /mine  ·  120 B"]
    assert _names(model, cache) == ["org/big", "org/small"] and _names(model, mine) == ["alpha", "zeta"]
    big = model.index(0, 0, cache)
    browser.expand(big)
    assert browser.select_key(_hub("org/big", "c" * 40).key)
    browser.sortByColumn(3, Qt.SortOrder.AscendingOrder)
    cache = model.index(0, 0)
    assert _names(model, cache) == ["org/small", "org/big"] and _names(model, model.index(1, 0)) == ["zeta", "alpha"]
    assert browser.current_checkpoint().revision == "c" * 40
    assert browser.isExpanded(model.index(1, 0, cache))  # the open repo moved with its row
    browser.apply_filter("zeta")
    assert _names(model) == ["Folder — /mine  ·  120 B"] and browser.current_checkpoint() is None
    browser.apply_filter("")
    assert len(_names(model)) == 2


def test_streamed_rows_are_inserted_then_sorted_once(qtbot, qapp):
    browser = CheckpointBrowser()
    qtbot.addWidget(browser)
    model = browser.source_model
    browser.show()
    qtbot.waitExposed(browser)
    layouts = []
    model.layoutChanged.connect(lambda *args: layouts.append(args))
    browser.begin_filling()
    browser.add_checkpoints([_folder("zeta", 1)])
    browser.expand_locations()
    qapp.processEvents()
    browser.add_checkpoints([_folder("alpha", 2), _folder("mid", 3)])
    qapp.processEvents()
    # No layout change per batch (the view would lay out every row found so far, at each batch).
    assert layouts == []
    assert _names(model, model.index(0, 0)) == ["zeta", "alpha", "mid"]  # arrival order while the scan runs
    with qtbot.waitSignal(model.layoutChanged):
        browser.end_filling()
    assert _names(model, model.index(0, 0)) == ["alpha", "mid", "zeta"]


def test_a_rescan_that_removes_the_selected_row_leaves_nothing_dangling(qtbot):
    browser = CheckpointBrowser()
    qtbot.addWidget(browser)
    model = browser.source_model
    kept, gone = _hub("org/a", "a" * 40, ["main"]), _hub("org/b", "b" * 40, ["main"])
    browser.add_checkpoints([kept, gone])
    assert browser.select_key(gone.key)
    added, removed, changed = model.apply_scan([kept])
    assert removed == [gone] and not added and not changed
    assert browser.current_checkpoint() is None
    browser.sortByColumn(2, Qt.SortOrder.DescendingOrder)  # reads every persistent index: none points at a freed row
    assert _names(model, model.index(0, 0)) == ["org/a"]


def test_each_place_shows_what_its_checkpoints_take(qtbot):
    browser = CheckpointBrowser()
    qtbot.addWidget(browser)
    model = browser.source_model
    both = _hub("org/a", "a" * 40, ["main"], size=100)
    browser.add_checkpoints([both, _hub("org/a", "b" * 40, [], size=100), _folder("x", 5), _folder("y", 7)])
    assert [model.index(row, 3).data() for row in range(2)] == ["100 B", "12 B"]  # a repo's blobs once; folders add up
    assert model.index(1, 0).data() == "Folder — /mine  ·  12 B"  # a place's row spans the columns: said after its title
    model.apply_scan([both, _folder("x", 5)])
    assert [model.index(row, 3).data() for row in range(2)] == ["100 B", "5 B"]
