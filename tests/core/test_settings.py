from __future__ import annotations

import json

from explorer.core.settings import SCHEMA_VERSION, Settings, load_settings, save_settings


def test_round_trip_is_versioned_and_atomic(tmp_path):
    path = tmp_path / "settings.json"
    save_settings(Settings(folders=["/models"], splitter_sizes=[300, 900], last_selection="/models/x"), path)
    data = json.loads(path.read_text())
    assert data["version"] == SCHEMA_VERSION
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # no temp file left behind
    loaded = load_settings(path)
    assert loaded.notice is None
    assert loaded.settings.folders == ["/models"] and loaded.settings.splitter_sizes == [300, 900]


def test_missing_file_gives_defaults_silently(tmp_path):
    loaded = load_settings(tmp_path / "absent.json")
    assert loaded.settings == Settings() and loaded.notice is None


def test_unknown_keys_are_ignored(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 1, "settings": {"folders": ["/a"], "from_the_future": 1}}))
    assert load_settings(path).settings.folders == ["/a"]


def test_wrong_types_and_newer_schema_are_set_aside(tmp_path):
    payloads = (
        {"version": 1, "settings": {"folders": "not-a-list"}},
        {"version": 99, "settings": {}},
        [1, 2],
        {"version": 1, "settings": {"folder_depth": "deep"}},
        {"version": 1, "settings": {"splitter_sizes": ["a"]}},
        {"version": 1, "settings": {"window_geometry": 5}},
    )
    for payload in payloads:
        path = tmp_path / "settings.json"
        path.write_text(json.dumps(payload))
        loaded = load_settings(path)
        assert loaded.notice and loaded.settings == Settings()
        assert not path.exists()


def test_json_nested_too_deeply_is_set_aside(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    loaded = load_settings(path)
    assert loaded.notice and loaded.settings == Settings()
