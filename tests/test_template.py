"""Pack placeholders and body paths."""

from __future__ import annotations

import pytest

from monitor.template import MISSING, TemplateError, lookup, placeholders, render


def test_whole_placeholder_keeps_type_and_partial_becomes_text() -> None:
    """`"{{n}}"` stays an integer; `"#{{n}}"` becomes a string."""
    assert render({"a": "{{n}}", "b": "#{{ n }}", "c": ["{{s}}"]}, {"n": 7, "s": "x"}) == {
        "a": 7,
        "b": "#7",
        "c": ["x"],
    }


def test_unknown_placeholder_names_what_is_defined() -> None:
    """A missing variable raises with the list of variables that do exist."""
    with pytest.raises(TemplateError, match=r"unknown variable \{\{nope\}\} \(defined: a\)"):
        render("/x/{{nope}}", {"a": 1})


def test_placeholders_found_in_nested_values() -> None:
    """Every placeholder anywhere in a request is found for static validation."""
    assert placeholders({"path": "/r/{{owner}}/{{repo}}", "json": {"b": ["{{run_id}}"]}}) == {
        "owner",
        "repo",
        "run_id",
    }


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("ok", True),
        ("user.id", 5),
        ("items[1].id", "b"),
        ("$", {"ok": True}),
        ("items[9].id", MISSING),
        ("user.none", MISSING),
    ],
)
def test_lookup(path: str, value: object) -> None:
    """Dotted paths with indexes reach into JSON; absent parts are MISSING, not None."""
    body = {"ok": True, "user": {"id": 5}, "items": [{"id": "a"}, {"id": "b"}]}
    if path == "$":
        value = body
    assert lookup(body, path) == value or lookup(body, path) is value
