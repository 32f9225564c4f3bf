"""python_literal writes values Python reads back unchanged, and refuses what it cannot write."""

from __future__ import annotations

import ast
import math

import pytest
from hypothesis import given, settings, strategies as st

from explorer.core.snippets import MAX_LITERAL_DEPTH, NotScriptable, keyword_arguments, python_identifier, python_literal

FAST = settings(max_examples=200, deadline=None)
DEEP = settings(max_examples=5000, deadline=None)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4),
    max_leaves=20,
)


def evaluated(source: str):
    """What the source means, by evaluating only literals and float("nan"/"inf") calls."""
    tree = ast.parse(source, mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name) and node.func.id == "float" and len(node.args) == 1
        else:
            assert isinstance(node, (ast.Expression, ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Load, ast.UnaryOp, ast.USub, ast.Name)), ast.dump(node)
            if isinstance(node, ast.Name):
                assert node.id == "float"
    return eval(compile(tree, "<literal>", "eval"), {"__builtins__": {"float": float}})


def _check(value, quote):
    source = python_literal(value, quote=quote)
    assert evaluated(source) == value
    assert type(evaluated(source)) is type(value)
    return source


@FAST
@given(values, st.sampled_from(["'", '"']))
def test_literals_read_back_as_the_same_value(value, quote):
    _check(value, quote)


@pytest.mark.slow
@DEEP
@given(values, st.sampled_from(["'", '"']))
def test_literals_read_back_as_the_same_value_deep(value, quote):
    _check(value, quote)


@FAST
@given(st.text())
def test_double_quoted_strings_are_one_double_quoted_token(text):
    source = python_literal(text, quote='"')
    assert source.startswith('"') and source.endswith('"') and "\n" not in source
    assert ast.literal_eval(source) == text


def test_hostile_strings():
    for text in ['"""\nimport os\n"""', "'''", "a\\", "\\", "\r\n", "\u2028\x85\x0c", "\ud800", "🤗", "{}%s", "#"]:
        for quote in ("'", '"'):
            assert ast.literal_eval(python_literal(text, quote=quote)) == text
            assert "\n" not in python_literal(text, quote=quote)


def test_non_finite_floats_are_calls_that_run():
    assert python_literal(float("nan")) == 'float("nan")'
    assert python_literal([float("inf"), -float("inf")]) == '[float("inf"), float("-inf")]'
    assert math.isnan(evaluated(python_literal({"eps": float("nan")}))["eps"])


def test_tuples_and_subclasses():
    assert python_literal((1,)) == "(1,)" and python_literal(()) == "()"

    class Sneaky(str):
        def __repr__(self):
            return "__import__('os')"

    assert python_literal(Sneaky("x")) == "'x'"


@pytest.mark.parametrize("value", [object(), {1, 2}, 1j, range(3), [[object()]]])
def test_other_types_are_refused(value):
    with pytest.raises(NotScriptable):
        python_literal(value)


def test_depth_and_digits_are_bounded():
    deep: list = []
    for _ in range(MAX_LITERAL_DEPTH + 5):
        deep = [deep]
    with pytest.raises(NotScriptable, match="nested more than"):
        python_literal(deep)
    ok: list = []
    for _ in range(MAX_LITERAL_DEPTH):
        ok = [ok]
    assert evaluated(python_literal(ok)) == ok
    with pytest.raises(NotScriptable, match="thousands of digits"):
        python_literal(10**5000)


@pytest.mark.parametrize("name", ["", "1a", "a b", "a\n", "class", "None", "ünï", "a.b", "x)\nimport os\n(", None, 3])
def test_identifiers_are_plain_ascii_names(name):
    with pytest.raises(NotScriptable):
        python_identifier(name)


def test_keyword_arguments_keep_names_that_are_not_identifiers_as_data():
    assert keyword_arguments({"num_labels": 10, "class": 1, "ünï": "x", "eps": float("nan")}) == [
        "num_labels=10", 'eps=float("nan")', "**{'class': 1, 'ünï': 'x'}",
    ]
