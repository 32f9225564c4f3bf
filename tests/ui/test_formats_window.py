"""The window on every format: each tab shows an adapter or a GGUF with its own page, a transformers
checkpoint with the usual one, and an adapter's Config page selects its base in the browser."""

from __future__ import annotations

import shutil

import pytest

from explorer.ui.tab import FormatSwitch
from tests.format_builders import write_gguf, write_lora_adapter


@pytest.mark.slow
def test_tabs_switch_pages_by_format_and_an_adapter_leads_to_its_base(make_window, qtbot, tmp_path, sample):
    base = tmp_path / "models" / "tiny-gpt2-lm"
    shutil.copytree(sample("tiny-gpt2-lm"), base)
    write_lora_adapter(base, tmp_path / "models" / "my-lora")
    write_gguf(tmp_path / "models" / "tiny.gguf")
    window = make_window(folders=[tmp_path / "models"], wait=False)
    with qtbot.waitSignals([window.tabs_ready, window.scan_finished], timeout=30_000):
        window.start_background_work()
    tabs = {window.tabs.tabText(i): window.tabs.widget(i) for i in range(window.tabs.count())}
    config, parameters = tabs["Config"], tabs["Parameters"]
    assert isinstance(config, FormatSwitch) and isinstance(parameters, FormatSwitch)

    assert window.browser.select_match("tiny.gguf")
    assert type(config.current_page()).__name__ == "GgufConfigPage"
    assert type(parameters.current_page()).__name__ == "GgufParametersPage"
    assert window.browser.select_match("my-lora")
    assert type(config.current_page()).__name__ == "AdapterConfigPage"
    assert config.page_for("gguf").checkpoint() is None  # the page not shown was let go
    window.tabs.setCurrentWidget(config)
    page = config.current_page()
    qtbot.waitUntil(lambda: not window.is_busy() and not config.is_busy(), timeout=20_000)
    page._link("select-base")
    assert window.browser.current_checkpoint().path == str(base)
    assert config.current_page() is config.main  # the base is a transformers checkpoint: the usual page
