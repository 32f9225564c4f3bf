"""One answer to "where do we scan": the window, the command line and repo-id lookups share it."""

from __future__ import annotations

import json
import shutil

from explorer import cli
from explorer.core.checkpoint import SOURCE_FOLDER, SOURCE_HUB_CACHE, SOURCE_LEGACY
from explorer.core.discovery import ScanLocation, default_hub_cache
from explorer.core.locate import locate_checkpoint
from explorer.core.locations import ScanPlaces, named_locations, usual_locations
from explorer.core.paths import samples_dir, scan_index_file, settings_file
from explorer.core.settings import Settings, save_settings


def test_nothing_named_means_the_usual_places(tmp_path):
    assert named_locations([], []) is None
    places = ScanPlaces.from_command_line([], [])
    assert not places.named and places.remembers
    assert places.locations([]) == usual_locations([])


def test_named_places_are_absolute_hub_caches_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert named_locations(["hub"], ["mine", "other"]) == [
        ScanLocation(SOURCE_HUB_CACHE, str(tmp_path / "hub")),
        ScanLocation(SOURCE_FOLDER, str(tmp_path / "mine")),
        ScanLocation(SOURCE_FOLDER, str(tmp_path / "other")),
    ]


def test_usual_places_hub_cache_legacy_caches_user_folders_then_samples(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    legacy = tmp_path / "hf" / "transformers"
    legacy.mkdir(parents=True)
    mine = str(tmp_path / "mine")
    assert usual_locations([mine]) == [
        ScanLocation(SOURCE_HUB_CACHE, default_hub_cache()),
        ScanLocation(SOURCE_LEGACY, str(legacy)),
        ScanLocation(SOURCE_FOLDER, mine),
    ]  # no samples folder yet: not listed
    samples_dir().mkdir(parents=True)
    assert usual_locations([mine])[-1] == ScanLocation(SOURCE_FOLDER, str(samples_dir()))
    # A user who added the samples folder themselves sees it once.
    with_samples = usual_locations([str(samples_dir())])
    assert [loc.path for loc in with_samples].count(str(samples_dir())) == 1


def test_usual_places_take_the_saved_folders_unless_given(tmp_path):
    save_settings(Settings(folders=[str(tmp_path / "saved")]))
    places = ScanPlaces()
    assert places.locations()[-1] == ScanLocation(SOURCE_FOLDER, str(tmp_path / "saved"))
    assert places.locations([str(tmp_path / "live")])[-1] == ScanLocation(SOURCE_FOLDER, str(tmp_path / "live"))


def test_a_damaged_settings_file_is_told_and_the_defaults_are_scanned():
    settings_file().parent.mkdir(parents=True, exist_ok=True)
    settings_file().write_text("{ damaged")
    notices: list[str] = []
    assert ScanPlaces().locations(notices=notices) == usual_locations([])
    assert len(notices) == 1 and "could not be read" in notices[0]


def test_named_places_replace_the_usual_ones_and_remember_nothing(tmp_path):
    save_settings(Settings(folders=[str(tmp_path / "saved")]))
    places = ScanPlaces.from_command_line([], [str(tmp_path / "one")])
    assert places.named and not places.remembers
    assert places.index_path() is None
    assert places.locations() == [ScanLocation(SOURCE_FOLDER, str(tmp_path / "one"))]
    assert places.locations([str(tmp_path / "saved")]) == [ScanLocation(SOURCE_FOLDER, str(tmp_path / "one"))]


def test_folders_added_in_a_session_join_the_named_places_only(tmp_path):
    named = ScanPlaces.from_command_line([], [str(tmp_path / "one")])
    named.folder_added(str(tmp_path / "two"))
    named.folder_added(str(tmp_path / "two"))
    assert [loc.path for loc in named.locations()] == [str(tmp_path / "one"), str(tmp_path / "two")]
    named.folder_removed(str(tmp_path / "one"))
    assert [loc.path for loc in named.locations()] == [str(tmp_path / "two")]
    usual = ScanPlaces()
    usual.folder_added(str(tmp_path / "two"))  # the usual places follow the settings, not the session
    assert usual.locations([]) == usual_locations([])


def test_the_scan_index_is_used_only_for_remembered_usual_places():
    assert ScanPlaces().index_path() == scan_index_file()
    assert ScanPlaces(remember=False).index_path() is None
    assert ScanPlaces([ScanLocation(SOURCE_FOLDER, "/x")]).index_path() is None


def test_the_command_line_scans_the_usual_places_with_the_saved_folders_and_the_samples(samples_root, tmp_path, capsys):
    shutil.copytree(samples_root / "tiny-t5", samples_dir() / "tiny-t5")
    mine = tmp_path / "mine"
    shutil.copytree(samples_root / "tiny-bert-mlm", mine / "tiny-bert-mlm")
    save_settings(Settings(folders=[str(mine)]))
    assert cli.main(["scan", "--json"]) == 0
    found = {item["id"]: item["path"] for item in json.loads(capsys.readouterr().out)}
    assert found == {"tiny-t5": str(samples_dir() / "tiny-t5"), "tiny-bert-mlm": str(mine / "tiny-bert-mlm")}


def test_a_repo_id_is_looked_up_in_the_same_places_as_the_scan(samples_root, tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(samples_root / "tiny-bert-mlm", mine / "tiny-bert-mlm")
    save_settings(Settings(folders=[str(mine)]))
    assert locate_checkpoint("tiny-bert-mlm") == str(mine / "tiny-bert-mlm")
    shutil.copytree(samples_root / "tiny-t5", samples_dir() / "tiny-t5")
    assert locate_checkpoint("tiny-t5") == str(samples_dir() / "tiny-t5")
