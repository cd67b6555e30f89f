"""The model's text features: character n-gram hashes, sublinear counts, words, link tokens."""

from __future__ import annotations

import numpy as np
import pytest

from streamproc.detect.links import assess_links
from streamproc.detect.ngrams import (
    CHAR_ORDERS,
    char_hashes,
    normalise,
    sublinear,
    url_features,
    word_features,
)
from streamproc.detect.spam import spam_input
from streamproc.events import comment_from_dict


def test_every_character_ngram_of_each_order_is_hashed() -> None:
    low = normalise("Abc de")  # padded: " abc de " has 8 characters
    assert len(char_hashes(low)) == sum(8 - n + 1 for n in CHAR_ORDERS)
    assert char_hashes("").dtype == np.uint32


def test_hashes_are_stable_and_tell_orders_and_texts_apart() -> None:
    a, b = char_hashes("spam"), char_hashes("spam")
    assert np.array_equal(a, b)  # no per-process salt: the model is shared between workers
    assert len(set(a.tolist())) == len(a)  # " s", " sp", " spa" … all differ
    assert not set(char_hashes("ham").tolist()) & set(char_hashes("xyz").tolist())


def test_sublinear_counts_are_unit_scaled() -> None:
    hashes = np.array([7, 7, 7, 3, 9], dtype=np.uint32)
    index, values = sublinear(hashes)
    assert index.tolist() == [3, 7, 9]
    assert values @ values == pytest.approx(1.0)
    assert values[1] / values[0] == pytest.approx(1 + np.log(3))  # three times: 2.1x, not 3x


def test_normalise_drops_urls_and_digit_values() -> None:
    assert normalise("Call 0871 234 5678 at https://x.example.com/a NOW") == "call 0000 000 0000 at now"
    assert normalise("see www.host.org or host.net/page please") == "see or please"


def test_word_features_count_sublinearly_and_pair_words() -> None:
    names, values = word_features("buy buy now")
    got = dict(zip(names, values, strict=True))
    assert set(got) == {"w:buy", "w:now", "b:buy buy", "b:buy now"}
    assert got["w:buy"] / got["w:now"] == pytest.approx(1 + np.log(2))
    assert sum(v * v for v in values) == pytest.approx(1.0)


def test_url_features_name_domain_host_and_path_words() -> None:
    links = assess_links("see https://www.gift-zone.example.com/free-robux/claim?x=1").data["links"]
    names, _ = url_features(links)
    assert "u:d:example.com" in names and "u:t:robux" in names and "u:t:claim" in names


def test_spam_input_lays_out_named_features_then_characters() -> None:
    text = "Check out my channel http://bit.ly/x"
    comment = comment_from_dict(
        {"id": "c", "thread_id": "t", "text": text, "posted_at": "2026-01-01T00:00:00Z"}
    )
    inp = spam_input(comment, {"links": assess_links(text)}, None)
    k = len(inp.names)
    assert inp.names[: inp.text] == [n for n in inp.names if n[:2] in ("w:", "b:", "u:")]
    assert inp.names[inp.text : k - 1] == [f"s:{s.code}" for s in inp.signals]
    assert inp.names[-1] == "rules.prior" and len(inp.vector.index) == len(inp.vector.values) > k
    features = inp.features
    assert features[0][0] == inp.names[0] and isinstance(features[k][0], int)
