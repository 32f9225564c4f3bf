"""Consent under attack: code it does not cover, code swapped after the check, reads that block, damaged records."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from explorer.core.consent import (
    STATE_CHANGED,
    STATE_GRANTED,
    STATE_NOT_GRANTED,
    ConsentRequired,
    ConsentStore,
    ConsentStoreError,
    code_access,
    load_custom_config,
)
from explorer.core.paths import consent_file
from tests import hostile_corpus as corpus
from tests.core.config_fixtures import write_custom_code_checkpoint

EVIL_CONFIGURATION = """\
from pathlib import Path
Path({marker!r}).write_text("swapped code ran")
from transformers import PretrainedConfig
class TinyCustomConfig(PretrainedConfig):
    model_type = "tiny-custom"
"""


def _returns_within(seconds: float, function, *args):
    """Run ``function`` in a thread; fail the test if it has not returned in time (a read that blocks)."""
    result: dict = {}

    def target():
        try:
            result["value"] = function(*args)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{function.__name__} blocked for more than {seconds} s"
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_consent_covers_custom_generate_and_every_python_file_in_the_tree(tmp_path):
    marker = tmp_path / "generate-ran"
    folder = corpus.custom_generate_code(tmp_path / "ckpt", marker)
    store = ConsentStore()
    status = store.status(folder)
    assert [f.name for f in status.files] == ["configuration_x.py", "custom_generate/generate.py"]
    store.grant(folder)
    assert store.status(folder).state == STATE_GRANTED
    (folder / "custom_generate" / "generate.py").write_text("print('edited after consent')\n")
    status = store.status(folder)
    assert status.state == STATE_CHANGED and status.changed_files == ["custom_generate/generate.py"]
    assert not marker.exists()


def test_with_consent_transformers_imports_only_the_approved_bytes(tmp_path):
    marker = tmp_path / "marker"
    evil = tmp_path / "evil-ran"
    folder = write_custom_code_checkpoint(tmp_path / "ckpt", marker)
    store = ConsentStore()
    store.grant(folder)
    access = code_access(folder, store)
    assert access.trust_remote_code and access.path != str(folder)
    # The code is swapped after the check: what transformers reads is the copy made at the check.
    (folder / "configuration_x.py").write_text(EVIL_CONFIGURATION.format(marker=str(evil)))
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(access.path, trust_remote_code=True, local_files_only=True)
    assert type(config).__name__ == "TinyCustomConfig"
    assert marker.exists() and not evil.exists()
    # And the next check sees the swap: nothing runs until the user approves again.
    with pytest.raises(ConsentRequired, match="changed"):
        load_custom_config(folder, store)
    assert not evil.exists()


def test_code_swapped_back_and_forth_during_loads_never_runs(tmp_path):
    marker = tmp_path / "marker"
    evil = tmp_path / "evil-ran"
    folder = write_custom_code_checkpoint(tmp_path / "ckpt", marker)
    store = ConsentStore()
    store.grant(folder)
    approved = (folder / "configuration_x.py").read_bytes()
    swapped = EVIL_CONFIGURATION.format(marker=str(evil)).encode()
    stop = threading.Event()

    def swapper():
        while not stop.is_set():
            for content in (swapped, approved):
                temporary = folder / ".swap.tmp"
                temporary.write_bytes(content)
                os.replace(temporary, folder / "configuration_x.py")

    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    outcomes = {"ran": 0, "refused": 0}
    try:
        for _ in range(15):
            try:
                load_custom_config(folder, store)
                outcomes["ran"] += 1
            except ConsentRequired:
                outcomes["refused"] += 1
    finally:
        stop.set()
        thread.join()
    assert not evil.exists(), "code swapped in after the consent check ran"
    assert sum(outcomes.values()) == 15


def test_a_fifo_named_like_code_never_blocks_and_cannot_be_approved(tmp_path):
    folder = corpus.fifo_code(tmp_path / "ckpt")
    store = ConsentStore()
    status = _returns_within(5, store.status, folder)
    assert status.state == STATE_NOT_GRANTED
    assert any("modeling_x.py is not a regular file" in problem for problem in status.problems)
    with pytest.raises(ValueError, match="cannot be allowed"):
        _returns_within(5, store.grant, folder)


def test_auto_map_pointing_outside_is_never_read_as_the_checkpoint_s_code(tmp_path):
    folder = corpus.auto_map_outside(tmp_path / "ckpt")
    store = ConsentStore()
    status = store.status(folder)
    assert status.files == []
    assert status.state == STATE_NOT_GRANTED
    assert any("'../outside.Thing'" in problem and "never read or run" in problem for problem in status.problems)
    with pytest.raises(ValueError, match="cannot be allowed"):
        store.grant(folder)


def test_a_store_written_by_a_newer_version_is_neither_used_nor_rewritten(tmp_path):
    folder = write_custom_code_checkpoint(tmp_path / "ckpt", tmp_path / "marker")
    store = ConsentStore()
    store.grant(folder)
    future = json.loads(consent_file().read_text())
    future["version"] = 7
    future["revocations"] = ["something this version does not know"]
    consent_file().write_text(json.dumps(future))
    before = consent_file().read_bytes()
    status = store.status(folder)
    assert status.state == STATE_NOT_GRANTED
    assert any("newer version" in problem for problem in status.problems)
    with pytest.raises(ConsentStoreError, match="newer version"):
        store.grant(folder)
    with pytest.raises(ConsentStoreError):
        store.revoke(folder)
    assert consent_file().read_bytes() == before


def test_unknown_fields_survive_a_rewrite(tmp_path):
    folder = write_custom_code_checkpoint(tmp_path / "ckpt", tmp_path / "marker")
    consent_file().parent.mkdir(parents=True, exist_ok=True)
    consent_file().write_text(json.dumps({"version": 1, "checkpoints": {"/elsewhere": {"files": {}, "note": "kept"}}, "extra": [1, 2]}))
    ConsentStore().grant(folder)
    data = json.loads(consent_file().read_text())
    assert data["extra"] == [1, 2]
    assert data["checkpoints"]["/elsewhere"] == {"files": {}, "note": "kept"}
    assert str(folder.resolve()) in data["checkpoints"]


def test_a_damaged_store_is_set_aside_never_overwritten_and_backups_never_clash(tmp_path):
    folder = write_custom_code_checkpoint(tmp_path / "ckpt", tmp_path / "marker")
    store = ConsentStore()
    consent_file().parent.mkdir(parents=True, exist_ok=True)
    backups = []
    for damage in (b"{not json", b"[1, 2, 3]"):
        consent_file().write_bytes(damage)
        status = store.status(folder)
        assert status.state == STATE_NOT_GRANTED and any("damaged" in p or "not valid JSON" in p for p in status.problems)
        store.grant(folder)  # both within the same second
        assert store.status(folder).state == STATE_GRANTED
        backups = sorted(p for p in consent_file().parent.iterdir() if ".damaged-" in p.name)
        assert backups[-1].read_bytes() == damage
    assert len(backups) == 2 and backups[0].read_bytes() != backups[1].read_bytes()


def test_status_of_a_huge_tree_of_python_files_stays_bounded(tmp_path):
    folder = corpus.write_config(tmp_path / "ckpt", auto_map={"AutoModel": "modeling_x.XModel"})
    for index in range(600):
        (folder / f"m{index}.py").write_text("x = 1\n")
    started = time.monotonic()
    status = ConsentStore().status(folder)
    assert time.monotonic() - started < 10
    assert any("more than 500 Python files" in problem for problem in status.problems)
