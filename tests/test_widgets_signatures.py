"""The function behind lesson 02's tampering widget."""

from __future__ import annotations

from blockkit.keys import PrivateKey
from blockkit.widgets.signatures import signature_widget, tamper

ALICE = PrivateKey.from_seed("alice")


def test_only_the_untouched_message_and_signature_verify():
    assert tamper(ALICE, "pay 5", "pay 5").valid
    assert not tamper(ALICE, "pay 5", "pay 6").valid
    for bit in (0, 255, 511):
        assert not tamper(ALICE, "pay 5", "pay 5", bit).valid
    assert tamper(ALICE, "pay 5", "pay 6").summary() == "REJECTED: text edited"


def test_the_widget_shows_the_verdict_for_its_controls():
    box = signature_widget(ALICE, "pay 5")
    text, row, out = box.children
    flip, _bit = row.children
    assert "VALID: nothing changed" in out.value
    text.value = "pay 50"
    assert "REJECTED: text edited" in out.value
    text.value = "pay 5"
    flip.value = True
    assert "REJECTED: signature bit flipped" in out.value
