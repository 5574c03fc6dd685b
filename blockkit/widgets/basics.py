"""Text, bytes, hex and bits side by side: the first thing every lesson builds on.

``bytes_table(text)`` lists each byte of a text's UTF-8 encoding; ``bytes_widget`` shows the same
table live while a student types.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["bytes_table", "bytes_widget"]


def bytes_table(text: str) -> pd.DataFrame:
    """One row per UTF-8 byte of ``text``: the character it belongs to, its value, hex and bits."""
    rows = []
    for char in text:
        for i, byte in enumerate(char.encode("utf-8")):
            rows.append(
                {
                    "character": char if i == 0 else "",
                    "byte": byte,
                    "hex": f"{byte:02x}",
                    "bits": f"{byte:08b}",
                }
            )
    return pd.DataFrame(rows, columns=["character", "byte", "hex", "bits"])


def bytes_widget(text: str = "héllo") -> Any:
    """A text box and the live table of its bytes."""
    import ipywidgets as widgets

    box = widgets.Text(value=text, description="text")
    table = widgets.HTML()

    def update(_: object = None) -> None:
        data = box.value.encode("utf-8")
        table.value = (
            f"<p>{len(box.value)} characters, {len(data)} bytes, hex <code>{data.hex()}</code></p>"
            + bytes_table(box.value).to_html(index=False)
        )

    box.observe(update, names="value")
    update()
    return widgets.VBox([box, table])
