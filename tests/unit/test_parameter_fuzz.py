"""Hypothesis fuzz of the business-parameter readers (issue 10 item 3): whatever text a caller sends, a reader
answers a value of its type or the caller's error (HTTP 400, `InvalidParameter.<Name>`), never anything else."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certdeploy.api.errors import ApiError
from certdeploy.api.rpc import MAX_KEYWORD_LENGTH, MAX_LIST_ITEMS, RpcParameters

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5),
    max_leaves=20,
)
_TEXTS = st.one_of(
    st.text(max_size=100),
    _JSON.map(json.dumps),
    st.builds(lambda depth, close: "[" * depth + "]" * close, st.integers(0, 5_000), st.integers(0, 5_000)),
    st.lists(st.integers(), max_size=50).map(lambda items: ",".join(map(str, items))),
    st.integers(0, MAX_LIST_ITEMS + 1).map(lambda count: "[" + ",".join(["1"] * count) + "]"),
)


def _answer(read: Callable[[], object]) -> object:
    try:
        return read()
    except ApiError as error:
        assert (error.status, error.code) == (400, "InvalidParameter.P")
        return None


@given(_TEXTS)
def test_every_reader_answers_a_value_or_an_invalid_parameter(text: str) -> None:
    params = RpcParameters([("P", text)])

    ids = _answer(lambda: params.optional_integer_list("P"))
    urls = _answer(lambda: params.optional_json_text_list("P"))
    number = _answer(lambda: params.optional_integer("P"))
    keyword = _answer(lambda: params.optional_keyword("P"))

    assert ids is None or (isinstance(ids, list) and len(ids) <= MAX_LIST_ITEMS)
    assert ids is None or all(type(item) is int and -(2**63) <= item < 2**63 for item in ids)
    assert urls is None or (isinstance(urls, list) and all(isinstance(url, str) for url in urls))
    assert number is None or type(number) is int
    assert keyword is None or (isinstance(keyword, str) and len(keyword) <= MAX_KEYWORD_LENGTH)


@pytest.mark.parametrize("read", ["optional_integer_list", "optional_json_text_list"])
def test_a_list_nested_a_hundred_thousand_deep_is_an_invalid_parameter(read: str) -> None:
    params = RpcParameters([("P", "[" * 100_000 + "]" * 100_000)])

    with pytest.raises(ApiError, match="nested too deeply") as caught:
        getattr(params, read)("P")
    assert caught.value.code == "InvalidParameter.P"
