"""What the stage cores see of a state partition: a prefix's keys of one byte mapping."""

from __future__ import annotations

from streamproc.state import PrefixView, _dict_scan


def test_a_prefix_view_holds_exactly_its_prefixs_keys() -> None:
    data = {b"i:0:a": b"1", b"i:1:a": b"2", b"c:a": b"3"}
    view = PrefixView(data, b"i:0:", _dict_scan(data))
    assert b"a" in view
    assert b"b" not in view
    assert b"i:0:a" not in view  # keys are given without the prefix
    view[b"b"] = b"4"
    assert b"b" in view and data[b"i:0:b"] == b"4"
    del view[b"a"]
    assert b"a" not in view and b"i:1:a" in data
    assert "a" not in view  # not bytes: never a key
    assert dict(view.items()) == {b"b": b"4"}
