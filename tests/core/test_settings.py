from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from explorer.core.settings import MAX_SETTINGS_BYTES, SCHEMA_VERSION, Settings, load_settings, save_settings


def backups(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith("settings.json.corrupt-"))


def test_round_trip_is_versioned_and_atomic(tmp_path):
    path = tmp_path / "settings.json"
    assert save_settings(Settings(folders=["/models"], splitter_sizes=[300, 900], last_selection="/models/x"), path)
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


@pytest.mark.parametrize(
    "payload",
    [
        {"version": 1, "settings": {"folders": "not-a-list"}},
        [1, 2],
        {"version": 1, "settings": {"folder_depth": "deep"}},
        {"version": 1, "settings": {"splitter_sizes": ["a"]}},
        {"version": 1, "settings": {"splitter_sizes": [2**40, 10]}},  # would overflow Qt's setSizes
        {"version": 1, "settings": {"window_geometry": 5}},
        {"version": 1, "settings": {"folders": ["/a\u0000b"]}},  # every os call on it would raise
        {"version": 1, "settings": [1]},
        {"version": "2", "settings": {}},
        {"version": 0, "settings": {}},
        {"version": True, "settings": {}},
    ],
)
def test_wrong_types_are_set_aside_with_a_notice(tmp_path, payload):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(payload))
    loaded = load_settings(path)
    assert loaded.notice and "could not be read" in loaded.notice and loaded.settings == Settings()
    assert not path.exists()
    assert len(backups(tmp_path)) == 1 and str(backups(tmp_path)[0]) in loaded.notice


def test_json_nested_too_deeply_is_set_aside(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    loaded = load_settings(path)
    assert loaded.notice and loaded.settings == Settings()
    assert "nested" in loaded.notice and "\n" not in loaded.notice


def test_a_huge_settings_file_is_not_read(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 1, "settings": {"folders": ["/m" * 1000] * (MAX_SETTINGS_BYTES // 1000)}}))
    loaded = load_settings(path)
    assert loaded.notice and "more than" in loaded.notice and loaded.settings == Settings()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_settings_file_gives_a_notice_without_blocking(tmp_path):
    path = tmp_path / "settings.json"
    os.mkfifo(path)  # nobody writes to it: a blocking read would hang forever
    loaded = load_settings(path)
    assert loaded.notice and "not a regular file" in loaded.notice and loaded.settings == Settings()


def test_a_folder_named_like_the_settings_file_gives_a_notice(tmp_path):
    path = tmp_path / "settings.json"
    path.mkdir()
    loaded = load_settings(path)
    assert loaded.notice and loaded.settings == Settings()


def test_corrupt_files_in_the_same_second_keep_every_backup(tmp_path):
    path = tmp_path / "settings.json"
    contents = [f"{{ corrupt number {i}" for i in range(5)]
    for text in contents:  # well within one second: the old names had one-second resolution
        path.write_text(text)
        assert load_settings(path).notice
    kept = backups(tmp_path)
    assert len(kept) == 5
    assert sorted(p.read_text() for p in kept) == sorted(contents)


def test_a_file_changed_after_it_was_read_is_not_moved_aside(tmp_path):
    """Another instance saving good settings between our read and our rename keeps them."""
    from explorer.core.atomic import file_identity, set_aside

    path = tmp_path / "settings.json"
    path.write_text("{ corrupt")
    identity = file_identity(path)
    save_settings(Settings(folders=["/good"]), path)
    assert set_aside(path, identity) is None
    assert load_settings(path).settings.folders == ["/good"]


# ------------------------------------------------------------------ a newer version's file


def newer_file(path: Path, **values) -> str:
    text = json.dumps({"version": SCHEMA_VERSION + 1, "settings": values, "profiles": {"x": 1}}, indent=1)
    path.write_text(text)
    return text


def test_a_newer_versions_file_is_read_as_far_as_understood_and_kept(tmp_path):
    path = tmp_path / "settings.json"
    text = newer_file(path, folders=["/models"], folder_depth={"per-folder": 3}, splitter_sizes=[200, 800], colour="blue")
    loaded = load_settings(path)
    assert loaded.settings.folders == ["/models"] and loaded.settings.splitter_sizes == [200, 800]
    assert loaded.settings.folder_depth == Settings().folder_depth  # a shape this version does not understand
    assert "newer version" in loaded.notice and "will not save" in loaded.notice and "\n" not in loaded.notice
    assert path.read_text() == text and not backups(tmp_path)


def test_a_newer_versions_file_is_never_written_over(tmp_path):
    path = tmp_path / "settings.json"
    text = newer_file(path, folders=["/models"])
    loaded = load_settings(path)
    loaded.settings.folders.append("/added-by-the-older-version")
    assert save_settings(loaded.settings, path) is False
    assert path.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_a_newer_version_that_saved_while_this_one_ran_keeps_its_file(tmp_path):
    path = tmp_path / "settings.json"
    save_settings(Settings(folders=["/mine"]), path)
    loaded = load_settings(path)
    assert loaded.notice is None
    text = newer_file(path, folders=["/newer"])  # the newer version starts and saves meanwhile
    assert save_settings(loaded.settings, path) is False
    assert path.read_text() == text


def test_a_newer_file_with_an_unknown_shape_gives_defaults_and_stays(tmp_path):
    path = tmp_path / "settings.json"
    text = json.dumps({"version": 7, "settings": ["a new layout"]})
    path.write_text(text)
    loaded = load_settings(path)
    assert loaded.settings == Settings() and "newer version" in loaded.notice
    assert path.read_text() == text


# ------------------------------------------------------------------ the command line says it


@pytest.fixture
def cli_main():
    from explorer import cli
    from explorer.core import crash_log

    yield cli.main
    crash_log.uninstall()  # cli.main installs the crash log for the whole process


def test_the_cli_prints_a_settings_notice_once_on_stderr(cli_main, capsys):
    from explorer.core.paths import settings_file

    path = settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ not json")
    assert cli_main(["scan"]) == 0
    notices = [line for line in capsys.readouterr().err.splitlines() if "Settings file" in line]
    assert len(notices) == 1 and "could not be read" in notices[0] and "kept as" in notices[0]
    assert cli_main(["scan"]) == 0  # the file was moved aside: nothing more to say
    assert "Settings file" not in capsys.readouterr().err


def test_the_cli_scans_a_newer_versions_folders_and_says_so(cli_main, capsys, tmp_path):
    from explorer.core.paths import settings_file

    models = tmp_path / "models"
    models.mkdir()
    path = settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = newer_file(path, folders=[str(models)])
    assert cli_main(["scan"]) == 0
    captured = capsys.readouterr()
    assert str(models) in captured.out.splitlines()[-1]  # "looked in: ..., <the folder>"
    assert len([line for line in captured.err.splitlines() if "newer version" in line]) == 1
    assert path.read_text() == text


# ------------------------------------------------------------------ fuzzing


def check_outcome(path: Path, raw: bytes) -> None:
    loaded = load_settings(path)
    result = loaded.settings
    assert isinstance(result, Settings)
    assert isinstance(result.folders, list) and all(isinstance(f, str) and "\x00" not in f for f in result.folders)
    assert type(result.folder_depth) is int and 0 <= result.folder_depth <= 32
    assert all(type(n) is int and 0 <= n < 2**31 for n in result.splitter_sizes)
    for name in ("window_geometry", "window_state", "last_selection"):
        assert getattr(result, name) is None or isinstance(getattr(result, name), str)
    if loaded.notice is None:
        # Only a well-formed file of this version loads silently, exactly as written.
        data = json.loads(raw)
        assert data.get("version", 1) == SCHEMA_VERSION
        saved = data.get("settings") or {}
        for name in ("folders", "folder_depth", "splitter_sizes"):
            if name in saved:
                assert getattr(result, name) == saved[name]
    elif "newer version" in loaded.notice:
        assert path.read_bytes() == raw  # kept as the newer version wrote it
    else:
        assert result == Settings() and "\n" not in loaded.notice
        assert not path.exists() or path.read_bytes() != raw  # moved aside


def load_bytes(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "settings.json"
        path.write_bytes(raw)
        check_outcome(path, raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
field_values = st.fixed_dictionaries(
    {},
    optional={
        "folders": st.lists(st.text(max_size=12), max_size=4) | json_values,
        "window_geometry": st.none() | st.text(max_size=12) | json_values,
        "window_state": st.none() | json_values,
        "splitter_sizes": st.lists(st.integers(min_value=-5, max_value=2**40), max_size=3) | json_values,
        "last_selection": st.none() | st.text(max_size=12),
        "folder_depth": st.integers(min_value=-3, max_value=40) | json_values,
        "unknown": json_values,
    },
)
settings_documents = st.fixed_dictionaries(
    {},
    optional={"version": st.integers(min_value=-1, max_value=4) | json_values, "settings": field_values | json_values},
)


def mutate(data: bytes, draw) -> bytes:
    """Flip, cut or splice bytes of a valid file: the torn and hand-edited files people really have."""
    position = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
    kind = draw(st.sampled_from(["cut", "flip", "insert"]))
    if kind == "cut":
        return data[:position]
    if kind == "flip":
        return data[:position] + bytes([data[position] ^ draw(st.integers(1, 255))]) + data[position + 1 :] if data else data
    return data[:position] + draw(st.binary(min_size=1, max_size=8)) + data[position:]


@st.composite
def settings_bytes(draw):
    kind = draw(st.sampled_from(["random", "json", "mutated"]))
    if kind == "random":
        return draw(st.binary(max_size=200))
    document = draw(settings_documents)
    raw = json.dumps(document, allow_nan=True).encode("utf-8")
    return mutate(raw, draw) if kind == "mutated" else raw


FAST = hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEEP = hypothesis_settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(settings_bytes())
def test_fuzz_load_settings_never_raises(raw):
    load_bytes(raw)


@pytest.mark.slow
@DEEP
@given(settings_bytes())
def test_fuzz_load_settings_never_raises_deep(raw):
    load_bytes(raw)


# ------------------------------------------------------------------ kill -9 while writing

KILLED_WRITER_IMPORTS = """
import os
import sys
from pathlib import Path
from explorer.core.consent import ConsentStore
from explorer.core.settings import Settings, save_settings
"""
KILLED_WRITER_LOOP = """
settings_path, consent_path, checkpoints_root, step = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
store = ConsentStore(consent_path)
checkpoints = sorted(Path(checkpoints_root).iterdir())
while True:
    save_settings(expected_settings(step), settings_path)
    os.write(1, f"settings {step}\\n".encode())  # one write: a kill never cuts the line
    store.grant(checkpoints[step % len(checkpoints)])
    os.write(1, f"consent {step}\\n".encode())
    step += 1
"""


def expected_settings(step: int) -> Settings:
    """Step ``step``'s settings: several kilobytes, every part saying which step wrote it."""
    return Settings(folders=[f"/models/{step}/{j}/" + "x" * 200 for j in range(step % 40 + 1)], folder_depth=step % 33)


def code_checkpoints(root: Path, count: int = 3) -> Path:
    for index in range(count):
        folder = root / f"custom-{index}"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({"model_type": "custom", "auto_map": {"AutoConfig": "configuration_custom.CustomConfig"}}))
        (folder / "configuration_custom.py").write_text(f"# checkpoint {index}\nclass CustomConfig: pass\n")
    return root


def temporary_files(folder: Path, stem: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{stem}-"))


def kill_writers_at_random_moments(tmp_path: Path, kills: int, seed: int) -> int:
    """Start a writer of settings and consent records, SIGKILL it at a random moment, check the files; repeat.

    Returns how many kills left a temporary file (landed inside a write).
    """
    import inspect
    import random
    import signal
    import subprocess
    import sys
    import time

    from explorer.core.consent import STORE_VERSION, ConsentStore

    rng = random.Random(seed)
    settings_path = tmp_path / "config" / "settings.json"
    consent_path = tmp_path / "data" / "consent.json"
    checkpoints = code_checkpoints(tmp_path / "checkpoints")
    script = KILLED_WRITER_IMPORTS + inspect.getsource(expected_settings) + KILLED_WRITER_LOOP
    step, mid_write, granted_indices = 0, 0, set()
    for _ in range(kills):
        writer = subprocess.Popen(
            [sys.executable, "-c", script, str(settings_path), str(consent_path), str(checkpoints), str(step)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        # Once this writer has written both files, leftovers of the writer killed before are gone.
        lines = []
        while not lines or not lines[-1].startswith("consent"):
            lines.append(writer.stdout.readline())
            assert lines[-1], writer.stderr.read()
        time.sleep(rng.uniform(0, 0.03))
        writer.send_signal(signal.SIGKILL)
        lines += writer.stdout.read().split("\n")
        writer.wait(10)
        confirmed = [line.split() for line in lines if line.strip()]
        last_settings = max(int(n) for kind, n in confirmed if kind == "settings")

        loaded = load_settings(settings_path)
        assert loaded.notice is None, loaded.notice
        on_disk_step = int(loaded.settings.folders[0].split("/")[2])
        assert on_disk_step in (last_settings, last_settings + 1)  # the old content or the new one
        assert loaded.settings == expected_settings(on_disk_step)  # complete, not a mix
        granted_steps = {int(n) % 3 for kind, n in confirmed if kind == "consent"}
        granted_indices |= granted_steps
        in_flight = granted_indices | {last_settings % 3}  # the grant after the last confirmed settings
        records = json.loads(consent_path.read_text())
        assert records["version"] == STORE_VERSION
        on_disk = {sorted(checkpoints.iterdir()).index(Path(key)) for key in records["checkpoints"]}
        assert on_disk in (granted_indices, in_flight)  # the old records or the new ones
        granted_indices = on_disk
        store = ConsentStore(consent_path)
        assert all(store.status(c).granted for i, c in enumerate(sorted(checkpoints.iterdir())) if i in granted_indices)

        leftovers = temporary_files(settings_path.parent, "settings") + temporary_files(consent_path.parent, "consent")
        assert len(temporary_files(settings_path.parent, "settings")) <= 1 and len(temporary_files(consent_path.parent, "consent")) <= 1, leftovers
        mid_write += bool(leftovers)
        step = last_settings + 2

    # The next write by anyone tidies what the last killed writer left.
    save_settings(Settings(folders=["/final"]), settings_path)
    ConsentStore(consent_path).grant(next(checkpoints.iterdir()))
    assert temporary_files(settings_path.parent, "settings") == [] and temporary_files(consent_path.parent, "consent") == []
    return mid_write


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_settings_and_consent_records_survive_kill_9(tmp_path):
    kill_writers_at_random_moments(tmp_path, kills=15, seed=10)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_settings_and_consent_records_survive_kill_9_many_times(tmp_path):
    assert kill_writers_at_random_moments(tmp_path, kills=200, seed=11) > 0
