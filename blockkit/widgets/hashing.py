"""The avalanche effect: flip one bit of a message and about half the bits of its hash flip.

``avalanche(message, bit)`` computes it; ``avalanche_widget`` lets a student type a message and
slide which bit to flip, and shows both digests with the changed bits highlighted.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from typing import Any

__all__ = ["Avalanche", "avalanche", "avalanche_widget", "bit_difference", "flip_bit"]

DIGEST_BITS = 256


def flip_bit(data: bytes, bit: int) -> bytes:
    """``data`` with bit number ``bit`` flipped (bit 0 is the highest bit of the first byte)."""
    if not 0 <= bit < 8 * len(data):
        raise ValueError(f"bit {bit} is outside a message of {8 * len(data)} bits")
    out = bytearray(data)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


def bit_difference(a: bytes, b: bytes) -> int:
    """How many bits differ between two byte strings of equal length."""
    if len(a) != len(b):
        raise ValueError(f"cannot compare {len(a)} bytes with {len(b)} bytes bit by bit")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


@dataclass(frozen=True)
class Avalanche:
    """Two messages one bit apart, and how different their SHA-256 digests are."""

    message: bytes
    flipped: bytes
    bit: int
    digest: bytes
    flipped_digest: bytes

    @property
    def changed_bits(self) -> int:
        """Bits that differ between the two digests (about 128 of 256 on average)."""
        return bit_difference(self.digest, self.flipped_digest)

    def summary(self) -> str:
        """One line: which bit was flipped and how many digest bits changed."""
        share = 100 * self.changed_bits / DIGEST_BITS
        return (
            f"flipping bit {self.bit} of the message changed {self.changed_bits} of "
            f"{DIGEST_BITS} digest bits ({share:.1f}%)"
        )

    def __repr__(self) -> str:
        return (
            f"message  {self.message!r}\nflipped  {self.flipped!r}\n"
            f"sha256   {self.digest.hex()}\nsha256   {self.flipped_digest.hex()}\n"
            f"{self.summary()}"
        )


def avalanche(message: bytes | str, bit: int = 0) -> Avalanche:
    """Flip bit ``bit`` of ``message`` and hash both versions."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    flipped = flip_bit(data, bit)
    return Avalanche(
        data, flipped, bit, hashlib.sha256(data).digest(), hashlib.sha256(flipped).digest()
    )


def _bit_grid(result: Avalanche) -> str:
    """The 256 digest bits as a 32 x 8 grid; changed bits in red."""
    a = int.from_bytes(result.digest, "big")
    b = int.from_bytes(result.flipped_digest, "big")
    cells = []
    for i in range(DIGEST_BITS):
        mask = 1 << (DIGEST_BITS - 1 - i)
        colour = "#d62728" if (a ^ b) & mask else "#dddddd"
        cells.append(
            f'<span style="display:inline-block;width:9px;height:9px;margin:1px;'
            f'background:{colour}"></span>'
        )
        if i % 32 == 31:
            cells.append("<br>")
    return "".join(cells)


def _report_html(result: Avalanche) -> str:
    return (
        '<div style="font-family:monospace">'
        f"<div>message: {html.escape(repr(result.message))}</div>"
        f"<div>flipped: {html.escape(repr(result.flipped))}</div>"
        f"<div>sha256: {result.digest.hex()}</div>"
        f"<div>sha256: {result.flipped_digest.hex()}</div>"
        f'<div class="blockkit-avalanche-summary"><b>{result.summary()}</b></div>'
        f"<div>{_bit_grid(result)}</div></div>"
    )


def avalanche_widget(message: str = "blockkit", bit: int = 0) -> Any:
    """A text box for the message, a slider for the bit to flip, and the live comparison."""
    import ipywidgets as widgets

    text = widgets.Text(value=message, description="message")
    slider = widgets.IntSlider(
        value=bit, min=0, max=max(0, 8 * len(message.encode()) - 1), description="flip bit"
    )
    report = widgets.HTML()

    def update(_: object = None) -> None:
        data = text.value.encode("utf-8")
        if not data:
            report.value = "<i>type a message to hash</i>"
            return
        slider.max = 8 * len(data) - 1
        report.value = _report_html(avalanche(data, min(slider.value, slider.max)))

    text.observe(update, names="value")
    slider.observe(update, names="value")
    update()
    return widgets.VBox([text, slider, report])
