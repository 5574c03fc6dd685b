"""Watching state change: apply transactions one by one and record balances, refusals and roots.

``replay(state, transactions, names)`` applies each transaction to a copy of ``state`` and returns
a table with one row per transaction: accepted or the reason it was refused, every named account's
balance afterwards, and the new state root. ``plot_balances`` draws the balances as the table goes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from blockkit.errors import InvalidTransaction
from blockkit.state import State
from blockkit.transactions import Transaction

__all__ = ["plot_balances", "replay"]


def replay(
    state: State,
    transactions: Sequence[Transaction],
    names: Mapping[str, bytes],
    fee_recipient: bytes | None = None,
) -> pd.DataFrame:
    """Apply ``transactions`` in order to a copy of ``state``; one row per transaction.

    A refused transaction changes nothing and its row says why. When ``fee_recipient`` is given,
    each accepted transaction's fee is credited to it, as a block would credit its proposer.
    """
    current = state.copy()
    by_address = {bytes(address): name for name, address in names.items()}
    rows = []
    for step, tx in enumerate(transactions, start=1):
        try:
            current.apply_transaction(tx)
            outcome = "accepted"
            if fee_recipient is not None:
                current.credit(fee_recipient, tx.fee)
        except InvalidTransaction as error:
            outcome = f"refused: {type(error).__name__}"
        row: dict[str, Any] = {
            "step": step,
            "transaction": f"{by_address.get(bytes(tx.sender), tx.sender.short)} → "
            f"{by_address.get(bytes(tx.recipient), tx.recipient.short)} {tx.value} "
            f"(fee {tx.fee}, nonce {tx.nonce})",
            "outcome": outcome,
        }
        for name, address in names.items():
            row[name] = current.balance(address)
        row["state root"] = current.root().hex()[:16]
        rows.append(row)
    return pd.DataFrame(rows)


def plot_balances(table: pd.DataFrame, names: Sequence[str], ax: Any = None) -> Any:
    """Balances after each step as lines; refused steps marked with a red cross."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    for name in names:
        ax.plot(table["step"], table[name], marker="o", label=name)
    refused = table[table["outcome"] != "accepted"]
    for step in refused["step"]:
        ax.axvline(step, color="#d62728", linestyle=":", linewidth=1)
    ax.set_xlabel("transaction (red dotted: refused, nothing changed)")
    ax.set_ylabel("balance")
    ax.set_xticks(list(table["step"]))
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    return ax
