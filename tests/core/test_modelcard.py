"""Model cards: front matter fields, a body always, and no way for a card to exhaust memory."""

from __future__ import annotations

from explorer.core.modelcard import MAX_CARD_BYTES, parse_model_card, read_model_card


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
    assert "cannot be read" in read_model_card(str(tmp_path / "absent.md")).problem
    huge = tmp_path / "README.md"
    huge.write_text("x" * (MAX_CARD_BYTES + 10))
    card = read_model_card(str(huge))
    assert "larger than 2 MiB" in card.problem and len(card.body) == MAX_CARD_BYTES
