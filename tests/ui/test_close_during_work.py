"""Closing the window while a model loads or runs: the process is gone within 2 s.

The app runs in its own process, started as ``model-explorer`` starts it (``explorer.app.main``),
offscreen. A driver, scheduled on the app's own event loop, plays the user: select the
checkpoint, open the Demo tab, press Load or Run, and close the window in the chosen phase,
printing the moment it closed. The test measures from that moment to the process's exit: the
end of ``closeEvent``, ``app.exec()`` returning, ``_exit_after_jobs`` and the interpreter's exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXIT_BUDGET_SECONDS = 2.0

DRIVER = r"""
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import explorer.app as app_module

phase, name = sys.argv[1], sys.argv[2]
state = {"step": "select", "since": time.monotonic(), "started": time.monotonic()}


def say(text):
    print(text, flush=True)


def close(window, tab):
    say(f"closing {time.time():.6f} busy={tab.is_busy()} label={tab.progress_label.text()!r}")
    window.close()


def drive():
    windows = [w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow" and w.isVisible()]
    if not windows:
        return
    window = windows[0]
    tabs = {window.tabs.tabText(i): window.tabs.widget(i) for i in range(window.tabs.count())}
    tab = tabs.get("Demo")
    step = state["step"]
    if time.monotonic() - state["started"] > 90:
        say(f"driver gave up at step {step}")
        timer.stop()
        window.close()
        return
    if step == "select":
        if tab is None or not window.browser.select_match(name):
            return
        window.tabs.setCurrentWidget(tab)
        state["step"] = "ready"
    elif step == "ready":
        if not tab.load_button.isEnabled() or tab.current_task() is None:
            return
        if phase == "loading" and "transformers" not in sys.modules:
            return  # the warm-up imports it: this phase is about the weights, not the import
        if phase == "running":
            tab.form().set_value("max_new_tokens", 400)
            tab.run_button.click()
        else:
            tab.load_button.click()
        state["step"], state["since"] = "working", time.monotonic()
    elif step == "working":
        label = tab.progress_label.text()
        if phase == "importing" and label.startswith("Importing transformers"):
            close(window, tab)
        elif phase == "loading" and label.startswith("Loading weights"):
            close(window, tab)
        elif phase == "running" and label.startswith("Generating"):
            state["step"], state["since"] = "generating", time.monotonic()
        else:
            return
        if state["step"] != "generating":
            timer.stop()
    elif step == "generating" and time.monotonic() - state["since"] > 0.3:
        timer.stop()
        close(window, tab)


real_create = app_module.create_application


def create_application(argv):
    app = real_create(argv)
    global timer
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(drive)
    timer.start()
    return app


app_module.create_application = create_application
sys.exit(app_module.main(["--folder", sys.argv[3]]))
"""


@pytest.fixture(scope="session")
def deep_model(tmp_path_factory, sample) -> Path:
    """A GPT-2 of 48 thin layers: loading takes a few tenths of a second and a token a few ms."""
    import transformers as tf

    folder = tmp_path_factory.mktemp("deep") / "gpt2-deep"
    source = sample("tiny-gpt2-lm")
    tokenizer = tf.AutoTokenizer.from_pretrained(source)
    config = tf.GPT2Config(vocab_size=len(tokenizer), n_positions=512, n_embd=256, n_layer=48, n_head=4,
                           bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    tf.GPT2LMHeadModel(config).save_pretrained(folder)
    for item in source.iterdir():
        if item.name.startswith(("tokenizer", "special_tokens", "vocab", "merges", "chat_template")):
            shutil.copy(item, folder / item.name)
    return folder


@pytest.mark.parametrize("phase", ["importing", "loading", "running"])
def test_closing_during_a_load_or_a_run_exits_within_2_s(deep_model, phase):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    # The start-up warm-up imports torch and transformers; without it the first load does.
    env["MODEL_EXPLORER_WARM_UP"] = "0" if phase == "importing" else "1"
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, phase, deep_model.name, str(deep_model.parent)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = process.communicate(timeout=180)
    finally:
        process.kill()
    exited = time.time()
    closing = next((line for line in out.splitlines() if line.startswith("closing ")), None)
    assert closing is not None, f"the driver never closed the window:\n{out}\n{err[-3000:]}"
    closed_at, busy = float(closing.split()[1]), closing.split()[2]
    assert busy == "busy=True", f"the Demo tab was idle when the window closed: {closing}"
    assert process.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert exited - closed_at < EXIT_BUDGET_SECONDS, f"{exited - closed_at:.2f} s from close to exit ({closing})"
