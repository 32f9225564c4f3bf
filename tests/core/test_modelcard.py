"""Model cards: front matter fields, a body always, and no way for a card to exhaust memory or block."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.core.modelcard import (
    FIELD_TEXT_LIMIT,
    MARKDOWN_BUDGET_CHARS,
    MARKDOWN_BUDGET_TABLE_CELLS,
    MAX_CARD_BYTES,
    PLAIN_LINE_CHARS,
    SHOWN_FIELDS,
    card_display,
    parse_model_card,
    read_model_card,
)

FIFO_RELEASER = """
import errno, os, sys, time
# Opens the FIFO's writing end whenever a reader waits on it, so a blocked read ends; prints each release.
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK))
        print("released a blocked reader", flush=True)
    except OSError as exc:
        if exc.errno != errno.ENXIO:
            raise
    time.sleep(0.05)
"""


def fifo_releaser(fifo, seconds: float = 20.0) -> subprocess.Popen:
    """A process that frees any reader blocked on ``fifo``: a regression fails the test instead of hanging it."""
    return subprocess.Popen([sys.executable, "-c", FIFO_RELEASER, str(fifo), str(seconds)], stdout=subprocess.PIPE, text=True)


def releases(releaser: subprocess.Popen) -> str:
    releaser.terminate()
    out, _ = releaser.communicate(timeout=10)
    return out


def test_front_matter_fields_and_body():
    card = parse_model_card("---\nlicense: apache-2.0\ntags:\n- R&D\n- text\n---\n# Title\nText.\n")
    assert card.problem is None
    assert card.field_text("license") == "apache-2.0" and card.field_text("tags") == "R&D, text"
    assert card.body.startswith("# Title")


def test_yaml_alias_bomb_is_not_expanded():
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b]\n---\nbody\n"
    card = parse_model_card(bomb)
    assert "anchors" in card.problem and card.front_matter == {} and card.body == "body\n"


def test_invalid_yaml_and_huge_or_missing_files(tmp_path):
    assert "not valid YAML" in parse_model_card("---\nkey: [unclosed\n---\nbody\n").problem
    assert read_model_card(None) is None
    assert "README.md does not exist" in read_model_card(str(tmp_path / "absent.md")).problem
    huge = tmp_path / "README.md"
    huge.write_text("x" * (MAX_CARD_BYTES + 10))
    card = read_model_card(str(huge))
    assert "larger than 2 MiB" in card.problem and len(card.body) == MAX_CARD_BYTES


def test_fifo_card_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "README.md"
    os.mkfifo(fifo)
    releaser = fifo_releaser(fifo)
    started = time.monotonic()
    card = read_model_card(str(fifo))
    elapsed = time.monotonic() - started
    assert releases(releaser) == ""
    assert "not a regular file" in card.problem and card.body == ""
    assert elapsed < 2


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_device_card_is_never_read(tmp_path):
    link = tmp_path / "README.md"
    link.symlink_to("/dev/zero")
    card = read_model_card(str(link))
    assert "not a regular file" in card.problem and card.body == ""


def test_deep_front_matter_is_a_problem_not_a_recursion_error():
    flow = parse_model_card("---\ntags: " + "[" * 50_000 + "\n---\nbody\n")
    assert "front matter" in flow.problem and flow.body == "body\n"
    shallow_enough_for_yaml = parse_model_card("---\ntags: " + "[" * 500 + "]" * 500 + "\n---\nbody\n")
    assert "nested more than" in shallow_enough_for_yaml.problem and shallow_enough_for_yaml.front_matter == {}
    block = "---\na:\n" + "".join(" " * i + "b:\n" for i in range(1, 3000)) + "---\nbody\n"
    assert "front matter" in parse_model_card(block).problem


def test_huge_numbers_and_odd_dates_show_as_text():
    # A hex or sexagesimal literal makes an int too long for str(); YAML makes dates of what looks like one.
    card = parse_model_card(
        "---\nlicense: 0x" + "f" * 5000 + "\nbase_model: " + "1:" * 3000 + "1\ntags: [2001-12-14t21:59:43.10-05:00, 1e99999]\n"
        "language: " + "L" * 5000 + "\ndatasets: [" + ", ".join(["d"] * 10_000) + "]\n---\nbody\n"
    )
    assert card.problem is None
    assert "more than a thousand digits" in card.field_text("license")
    assert "more than a thousand digits" in card.field_text("base_model")
    assert card.field_text("tags").startswith("2001-12-14 21:59:43.100000-05:00, 1e99999")
    assert len(card.field_text("language")) == FIELD_TEXT_LIMIT and card.field_text("language").endswith("…")
    assert len(card.field_text("datasets")) <= FIELD_TEXT_LIMIT
    assert "out of range" in parse_model_card("---\nlicense: 0000-00-00\n---\nbody\n").problem


def test_nested_field_values_are_shortened_not_dumped():
    card = parse_model_card("---\ntags: [a, [b, [c, [d]]], {k: v}]\nmetrics: {x: [1, 2], y: {z: 3}}\n---\n")
    assert card.field_text("tags") == "a, [b, …], {k: v}"
    assert card.field_text("metrics") == "x: [1, 2], y: {z: 3}"


def _table(rows: int, columns: int = 4) -> str:
    lines = ["|" + "|".join(f" h{c} " for c in range(columns)) + "|", "|" + "---|" * columns]
    lines += ["|" + "|".join(f" {r}.{c} " for c in range(columns)) + "|" for r in range(rows)]
    return "\n".join(lines) + "\n"


def test_normal_card_is_all_markdown():
    body = "# Title\n\nText with a [link](https://example.com).\n\n" + _table(50) + "\n```python\nx = 1\n```\n"
    assert card_display(body).markdown == body and card_display(body).plain == "" and card_display(body).note is None


def test_big_table_is_markdown_up_to_the_cell_budget():
    body = "# Results\n\n" + _table(6000)
    display = card_display(body)
    assert display.markdown.startswith("# Results") and display.markdown.endswith("\n")
    assert display.markdown.count("|") <= MARKDOWN_BUDGET_TABLE_CELLS
    assert display.markdown.count("|") > MARKDOWN_BUDGET_TABLE_CELLS - 10  # cut at the row where it passed
    assert display.markdown + display.plain == body
    assert "table cells" in display.note and display.note.startswith("The rest of this model card")


def test_giant_line_is_all_plain_text_in_short_lines():
    body = "[" * (1024 * 1024)
    display = card_display(body)
    assert display.markdown == "" and display.note.startswith("This model card (1.0 MiB)")
    assert max(len(line) for line in display.plain.split("\n")) == PLAIN_LINE_CHARS
    assert display.plain.replace("\n", "") == body


def test_long_card_is_cut_at_a_line_start():
    body = ("A paragraph of prose. " * 10 + "\n\n") * 2000
    display = card_display(body)
    assert len(display.markdown) <= MARKDOWN_BUDGET_CHARS and display.markdown.endswith("\n")
    assert display.markdown + display.plain == body and "128.0 KiB" in display.note


# --------------------------------------------------------------------------- fuzzing

_FRAGMENTS = st.sampled_from(
    [
        "license: apache-2.0\n", "tags:\n- a\n- b\n", "tags: [", "]", "{", "}", "&a ", "*a ", "<<: *a\n", "!!python/object:os.system ",
        "!!binary aGVsbG8=\n", "0x" + "f" * 4000, "0b" + "1" * 15000, "1:" * 400, "2001-13-45\n", "9999-12-31t25:61:61Z\n",
        "1e99999\n", ".inf\n", "- ", "  ", "\t", ": ", "? ", "|\n", ">\n", "'", '"', "\\u0000", "\x00", "\ufeff", "%YAML 1.1\n",
        "--- \n", "...\n", "language: " + "[" * 300, "metrics: " + "{a: " * 200, "\n",
    ]
)
_FRONT_MATTER = st.lists(st.one_of(_FRAGMENTS, st.text(max_size=40)), max_size=30).map("".join)
_CARD = st.one_of(
    st.text(max_size=3000),
    st.tuples(_FRONT_MATTER, st.text(max_size=200)).map(lambda parts: f"---\n{parts[0]}\n---\n{parts[1]}"),
)


def _assert_card_is_harmless(text: str) -> None:
    started = time.monotonic()
    card = parse_model_card(text)
    for name in SHOWN_FIELDS:
        assert len(card.field_text(name)) <= FIELD_TEXT_LIMIT
    assert card.problem is None or "\n" not in card.problem
    display = card_display(card.body, budget_chars=500, budget_cells=20)
    assert display.markdown.count("|") <= 20 and len(display.markdown) <= 500
    assert display.markdown + display.plain.replace("\n", "") == card.body[: len(display.markdown)] + card.body[len(display.markdown) :].replace("\n", "")
    assert time.monotonic() - started < 2


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_CARD)
def test_fuzzed_cards_never_raise(text):
    _assert_card_is_harmless(text)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_CARD)
def test_fuzzed_cards_never_raise_deeper(text):
    _assert_card_is_harmless(text)
