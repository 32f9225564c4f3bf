"""The text report of ``inspect`` names what a checkpoint's pickles would import, when any of it is dangerous."""

from __future__ import annotations

import os
import pickle

from explorer import cli
from tests import hostile_corpus as corpus
from tests.core.pickle_builders import float_tensor_file, write_torch_zip


def test_inspect_names_dangerous_pickle_imports_in_one_line(tmp_path, capsys):
    marker = tmp_path / "ran"
    folder = corpus.malicious_pickle_bin(tmp_path / "case", marker)
    write_torch_zip(folder / "optimizer.pt", pickle.dumps({"state": {}}, protocol=2))
    assert cli.main(["inspect", str(folder)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("pickle imports:")]
    assert lines == [f"pickle imports: pytorch_model.bin would import {os.system.__module__}.system (dangerous; not run)"]
    assert not marker.exists()


def test_inspect_is_silent_about_safe_pickles(tmp_path, capsys):
    folder = corpus.write_config(tmp_path / "case")
    float_tensor_file(folder / "pytorch_model.bin")
    assert cli.main(["inspect", str(folder)]) == 0
    assert "pickle imports:" not in capsys.readouterr().out
