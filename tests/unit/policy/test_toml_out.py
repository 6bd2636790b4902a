from __future__ import annotations

import tomllib

import pytest

from server.policy.toml_out import dumps


def test_scalars_arrays_tables_and_table_arrays_round_trip() -> None:
    table = {
        "flag": False,
        "count": 7,
        "names": ["a", "b"],
        "empty": [],
        "nested": {"deeper": {"n": 1}},
        "items": [{"id": "x"}, {"id": "y"}],
    }
    assert tomllib.loads(dumps("rule", table)) == {"rule": table}


def test_strings_are_escaped_so_they_read_back_unchanged() -> None:
    text = 'quote " backslash \\ newline \n tab \t bell \x07 del \x7f cr \r ff \f bs \b é'
    assert tomllib.loads(dumps("rule", {"text": text}))["rule"]["text"] == text


def test_keys_that_are_not_bare_are_quoted() -> None:
    written = dumps("rule", {"two words": 1, "sub table": {"x": 2}})
    assert '"two words" = 1' in written
    assert '[rule."sub table"]' in written
    assert tomllib.loads(written) == {"rule": {"two words": 1, "sub table": {"x": 2}}}


def test_the_comment_becomes_a_header() -> None:
    written = dumps("rule", {}, comment="first\n\nthird")
    assert written == "# first\n#\n# third\n\n[rule]\n"


def test_no_comment_no_header() -> None:
    assert dumps("rule", {"a": 1}) == "[rule]\na = 1\n"


@pytest.mark.parametrize("value", [1.5, None, [1.5]])
def test_values_outside_policy_documents_are_refused(value: object) -> None:
    with pytest.raises(TypeError, match="cannot write"):
        dumps("rule", {"v": value})
