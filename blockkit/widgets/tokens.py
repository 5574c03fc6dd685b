"""Who sees what: query one contract's view as each party and compare the answers.

A contract function can answer differently depending on ``caller``: the owner of a car sees its
whole record, the insurer only the policy. ``views_by_role(chain, contract, parties)`` asks
``Chain.call_view`` once per party, ``view_table`` lines the answers up field by field, and
``role_selector`` shows one party's answer at a time with a toggle.

Remember what lesson 09 shows next to it: ``call_view``'s ``caller`` is only *claimed* (nothing is
signed), so these are the answers a contract *offers* each party, not a privacy guarantee.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import pandas as pd

from blockkit.errors import ContractError
from blockkit.keys import ADDRESS_SIZE, Address

__all__ = ["ABSENT", "readable", "role_selector", "view_table", "views_by_role"]

#: How ``view_table`` marks a field a party's view does not contain.
ABSENT = "—"


def readable(value: Any, names: Mapping[bytes, str] | None = None) -> str:
    """``value`` as short text: addresses by name (or ``0x1a2b…``), 32-byte digests as hex
    prefixes, lists and dicts item by item."""
    names = names or {}
    if isinstance(value, bytes):
        if len(value) == ADDRESS_SIZE:
            return names.get(bytes(value), Address(bytes(value)).short)
        return bytes(value).hex()[:16] + ("…" if len(value) > 8 else "")
    if isinstance(value, dict):
        inner = ", ".join(f"{key}: {readable(item, names)}" for key, item in value.items())
        return "{" + inner + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(readable(item, names) for item in value) + "]"
    return str(value)


def views_by_role(
    chain: Any,
    contract: bytes,
    parties: Mapping[str, bytes],
    function: str = "view",
    args: Sequence[Any] = (),
) -> dict[str, Any]:
    """What ``function(*args)`` of ``contract`` returns when each party calls it (a free
    ``call_view`` with ``caller`` set to the party's address); a refusal becomes the text
    ``"refused: <reason>"``."""
    views: dict[str, Any] = {}
    for role, address in parties.items():
        try:
            views[role] = chain.call_view(contract, function, list(args), caller=address)
        except ContractError as error:
            views[role] = f"refused: {error}"
    return views


def view_table(views: Mapping[str, Any], names: Mapping[bytes, str] | None = None) -> pd.DataFrame:
    """One row per field (in the order fields first appear), one column per party; a field a
    party does not see shows ``ABSENT``."""
    fields: list[str] = []
    for view in views.values():
        for key in view if isinstance(view, dict) else ["(answer)"]:
            if key not in fields:
                fields.append(key)
    columns = {}
    for role, view in views.items():
        shown = view if isinstance(view, dict) else {"(answer)": view}
        columns[role] = [readable(shown[f], names) if f in shown else ABSENT for f in fields]
    return pd.DataFrame(columns, index=pd.Index(fields, name="field"))


def role_selector(
    chain: Any,
    contract: bytes,
    parties: Mapping[str, bytes],
    function: str = "view",
    names: Mapping[bytes, str] | None = None,
) -> Any:
    """Toggle between parties and see what ``function`` returns to each one."""
    import ipywidgets as widgets

    views = views_by_role(chain, contract, parties, function)
    roles = list(parties)
    toggle = widgets.ToggleButtons(options=roles, value=roles[0], description="ask as")
    out = widgets.HTML()

    def update(_: object = None) -> None:
        role = toggle.value
        view = views[role]
        shown = view if isinstance(view, dict) else {"(answer)": view}
        rows = "".join(
            f"<tr><td><b>{escape(str(key))}</b></td><td>{escape(readable(value, names))}</td></tr>"
            for key, value in shown.items()
        )
        out.value = (
            f'<div class="blockkit-role-view"><p>{escape(function)}() as <b>{escape(role)}</b> '
            f"({len(shown)} field{'s' if len(shown) != 1 else ''}):</p>"
            f'<table style="font-family:monospace">{rows}</table></div>'
        )

    toggle.observe(update, names="value")
    update()
    return widgets.VBox([toggle, out])
