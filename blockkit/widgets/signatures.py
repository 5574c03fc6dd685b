"""Tampering with signed messages: change the text or flip a signature bit, watch verification fail.

``tamper(key, message, edited, flip=None)`` signs ``message`` and checks the signature against the
edited text (and optionally a signature with one bit flipped); ``signature_widget`` does it live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blockkit.keys import PrivateKey
from blockkit.widgets.hashing import flip_bit

__all__ = ["Tampering", "signature_widget", "tamper"]


@dataclass(frozen=True)
class Tampering:
    """A signature made for one text, checked against another (or altered itself)."""

    signed_text: str
    checked_text: str
    signature: bytes
    checked_signature: bytes
    valid: bool

    def summary(self) -> str:
        """One line saying what was checked and whether it verified."""
        changes = []
        if self.checked_text != self.signed_text:
            changes.append("text edited")
        if self.checked_signature != self.signature:
            changes.append("signature bit flipped")
        what = ", ".join(changes) or "nothing changed"
        verdict = "VALID" if self.valid else "REJECTED"
        return f"{verdict}: {what}"


def tamper(key: PrivateKey, message: str, edited: str, flip: int | None = None) -> Tampering:
    """Sign ``message`` with ``key``; verify against ``edited`` (and bit ``flip`` flipped)."""
    signature = key.sign(message.encode("utf-8"))
    checked = signature if flip is None else flip_bit(signature, flip)
    valid = key.public_key.is_valid_signature(checked, edited.encode("utf-8"))
    return Tampering(message, edited, signature, checked, valid)


def signature_widget(key: PrivateKey, message: str) -> Any:
    """Edit the signed text or flip one signature bit and see whether the signature still holds."""
    import ipywidgets as widgets

    text = widgets.Text(value=message, description="text", layout=widgets.Layout(width="60%"))
    flip = widgets.Checkbox(value=False, description="flip a signature bit")
    bit = widgets.IntSlider(value=0, min=0, max=511, description="bit")
    out = widgets.HTML()

    def update(_: object = None) -> None:
        result = tamper(key, message, text.value, bit.value if flip.value else None)
        colour = "#2ca02c" if result.valid else "#d62728"
        out.value = (
            f'<div style="font-family:monospace">signed:  {message!r}<br>'
            f"checked: {text.value!r}<br>signature: {result.checked_signature.hex()[:32]}…<br>"
            f'<b class="blockkit-signature-verdict" style="color:{colour}">{result.summary()}'
            "</b></div>"
        )

    for control in (text, flip, bit):
        control.observe(update, names="value")
    update()
    return widgets.VBox([text, widgets.HBox([flip, bit]), out])
