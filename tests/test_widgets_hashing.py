"""The functions behind lesson 00's bytes table and lesson 01's avalanche widget."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blockkit.widgets.basics import bytes_table, bytes_widget
from blockkit.widgets.hashing import avalanche, avalanche_widget, bit_difference, flip_bit


def _bits(data: bytes) -> str:
    return "".join(f"{b:08b}" for b in data)


@given(st.binary(min_size=1, max_size=40), st.data())
def test_flip_bit_changes_exactly_that_bit(data, draw):
    bit = draw.draw(st.integers(0, 8 * len(data) - 1))
    flipped = flip_bit(data, bit)
    a, b = _bits(data), _bits(flipped)
    assert [i for i in range(len(a)) if a[i] != b[i]] == [bit]
    assert flip_bit(flipped, bit) == data


def test_flip_bit_refuses_bits_outside_the_message():
    with pytest.raises(ValueError, match="outside"):
        flip_bit(b"ab", 16)
    with pytest.raises(ValueError, match="outside"):
        flip_bit(b"ab", -1)


@given(st.binary(max_size=40), st.binary(max_size=40))
def test_bit_difference_matches_a_string_comparison(a, b):
    if len(a) != len(b):
        with pytest.raises(ValueError):
            bit_difference(a, b)
    else:
        assert bit_difference(a, b) == sum(x != y for x, y in zip(_bits(a), _bits(b), strict=True))


def test_avalanche_hashes_both_messages_with_sha256():
    result = avalanche("blockkit", 7)
    assert result.flipped == b"clockkit"
    assert result.digest == hashlib.sha256(b"blockkit").digest()
    assert result.flipped_digest == hashlib.sha256(b"clockkit").digest()
    assert result.changed_bits == bit_difference(result.digest, result.flipped_digest)
    assert f"changed {result.changed_bits} of 256" in result.summary()


def test_avalanche_is_about_half_on_average():
    rng = random.Random(1)
    counts = [avalanche(rng.randbytes(8), rng.randrange(64)).changed_bits for _ in range(500)]
    assert 124 < sum(counts) / len(counts) < 132  # mean 128, standard error ~0.36


def test_avalanche_widget_follows_its_slider_and_text():
    box = avalanche_widget("blockkit", bit=7)
    text, slider, report = box.children
    assert avalanche("blockkit", 7).summary() in report.value
    slider.value = 8
    assert avalanche("blockkit", 8).summary() in report.value
    text.value = "ab"
    assert slider.max == 15
    assert avalanche("ab", 8).summary() in report.value
    text.value = ""
    assert "type a message" in report.value


def test_bytes_table_splits_multibyte_characters():
    table = bytes_table("hé")
    assert list(table["byte"]) == list("hé".encode())
    assert list(table["character"]) == ["h", "é", ""]
    assert list(table["bits"]) == [f"{b:08b}" for b in "hé".encode()]
    widget = bytes_widget("hé")
    assert "3 bytes" in widget.children[1].value
