"""Selective disclosure, tried field by field: tick what to show a verifier, see what it learns.

``disclosure_report(credential, holder_key, reveal, verifier, at)`` really presents the chosen
fields (``present``, with a fresh challenge from ``verifier``), really verifies the presentation
(``CredentialVerifier.verify``) and reports, per field, what reached the verifier:

- ``value``: the field itself, with its salt and a Merkle proof;
- ``leaf hash (salted)``: a hidden field whose leaf hash travels as a sibling in another field's
  proof. Its salt is what keeps the value from being guessed (lesson 10 guesses an unsalted one);
- ``nothing``: a hidden field the verifier never sees, not even as a hash.

It also says whether the verifier accepted (or the reason it refused) and whether the fields it
``needs`` were all shown. ``disclosure_picker`` puts the same report behind one checkbox per field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from blockkit.encoding import encode
from blockkit.errors import InvalidCredential
from blockkit.merkle import hash_leaf

if TYPE_CHECKING:
    import pandas as pd

    from blockkit.keys import PrivateKey
    from blockkit.sharing.credentials import Credential, CredentialVerifier

__all__ = ["DisclosureReport", "disclosure_picker", "disclosure_report"]

SHOWN, SIBLING, UNSEEN = "value", "leaf hash (salted)", "nothing"


@dataclass(frozen=True)
class DisclosureReport:
    """What one presentation gave one verifier."""

    revealed: tuple[str, ...]
    """The fields shown, in the credential's order."""
    seen: dict[str, str]
    """Field → ``"value"``, ``"leaf hash (salted)"`` or ``"nothing"``."""
    accepted: bool
    """Whether the verifier accepted the presentation."""
    reason: str
    """``"accepted"``, or the verifier's reason tag for refusing."""
    missing: tuple[str, ...]
    """Fields the verifier needs that were not shown."""
    size: int
    """Bytes of the encoded presentation (what travels to the verifier)."""
    proof_hashes: int
    """Sibling hashes in all the Merkle proofs together."""

    def to_df(self, credential: Credential) -> pd.DataFrame:
        """One row per field: what the verifier received, and the value when it was shown."""
        import pandas as pd

        rows = [
            {
                "field": f.name,
                "verifier receives": self.seen[f.name],
                "value": f.value if self.seen[f.name] == SHOWN else "",
            }
            for f in credential.fields
        ]
        return pd.DataFrame(rows).set_index("field")

    def summary(self) -> str:
        """One line: shown fields, the verdict, what is missing, the size."""
        verdict = "accepted" if self.accepted else f"refused ({self.reason})"
        missing = f"; missing what it needs: {', '.join(self.missing)}" if self.missing else ""
        return (
            f"{len(self.revealed)} field(s) shown, verifier {verdict}{missing}; "
            f"{self.size} bytes, {self.proof_hashes} proof hashes"
        )


def disclosure_report(
    credential: Credential,
    holder_key: PrivateKey,
    reveal: Iterable[str],
    verifier: CredentialVerifier,
    at: int,
    needs: Iterable[str] = (),
) -> DisclosureReport:
    """Present ``reveal`` to ``verifier`` (a fresh challenge each time), verify it, and report
    what reached the verifier field by field. Showing no field is allowed (it proves only that the
    holder holds an anchored credential); an unknown field name raises ``ValueError``."""
    from blockkit.sharing.credentials import present

    wanted = set(reveal)
    presentation = present(
        credential,
        holder_key,
        sorted(wanted),
        verifier=verifier.name,
        challenge=verifier.challenge(),
        at=at,
    )
    try:
        verifier.verify(presentation, at)
        accepted, reason = True, "accepted"
    except InvalidCredential as refusal:
        accepted, reason = False, refusal.reason
    siblings = {h for d in presentation.disclosures for h in d.proof.siblings}
    seen = {
        f.name: SHOWN if f.name in wanted else SIBLING if hash_leaf(f.leaf) in siblings else UNSEEN
        for f in credential.fields
    }
    return DisclosureReport(
        revealed=tuple(presentation.revealed_names),
        seen=seen,
        accepted=accepted,
        reason=reason,
        missing=tuple(name for name in needs if name not in wanted),
        size=len(encode(presentation)),
        proof_hashes=sum(len(d.proof.siblings) for d in presentation.disclosures),
    )


def disclosure_picker(
    credential: Credential,
    holder_key: PrivateKey,
    verifier: CredentialVerifier,
    at: int,
    needs: Iterable[str] = (),
    start: Iterable[str] = (),
) -> Any:
    """One checkbox per field; each change presents the ticked fields to ``verifier`` afresh
    and shows what it received, its verdict and whether it got what it ``needs``."""
    import ipywidgets as widgets

    needed = tuple(needs)
    ticked = set(start)
    boxes = {
        f.name: widgets.Checkbox(
            value=f.name in ticked,
            description=f.name + (" *" if f.name in needed else ""),
            indent=False,
        )
        for f in credential.fields
    }
    out = widgets.HTML()

    def update(_: object = None) -> None:
        reveal = [name for name, box in boxes.items() if box.value]
        report = disclosure_report(credential, holder_key, reveal, verifier, at, needed)
        rows = "".join(
            f"<tr><td><b>{escape(f.name)}</b></td><td>{escape(report.seen[f.name])}</td>"
            f"<td>{escape(str(f.value)) if report.seen[f.name] == SHOWN else ''}</td></tr>"
            for f in credential.fields
        )
        colour = "#1b7f3b" if report.accepted and not report.missing else "#b03a2e"
        out.value = (
            f'<div class="blockkit-disclosure"><p style="color:{colour}">'
            f"{escape(verifier.name)}: {escape(report.summary())}</p>"
            f'<table style="font-family:monospace">{rows}</table></div>'
        )

    for box in boxes.values():
        box.observe(update, names="value")
    update()
    note = widgets.HTML(f"<i>* {escape(verifier.name)} needs this field</i>" if needed else "")
    return widgets.VBox([widgets.HBox([widgets.VBox(list(boxes.values())), out]), note])
