"""The audit trail: who read or changed what, when, and under which policy, rebuilt from the
chain as a table, and checked against the chain so that a missing or altered line is caught.

An auditor at a ministry asks: "who has seen this company's tax record, and who allowed it?" In
a paper world the answer is a log kept by whoever holds the file, and a log its keeper can edit
proves little. Here every step of an access is a signed transaction of an access-policy contract
(``blockkit.sharing.policy``), so the log *is* the chain's events:

========== ====================================================================================
action     the event behind it
========== ====================================================================================
request    ``Requested``: a member asks to read or write a record
approve    ``Approved``: a member endorses a request under the policy
grant      ``Granted``: the policy was met and the grant executed
read       ``Read``: the reader's receipt, posted *before* the data holder releases the record
           (a read of private data happens off chain; the receipt puts it on chain)
write      ``Written``: the hash of a new record, posted by its writer under a write grant
refused    ``Refused``: something was refused, with its reason tag (``no-grant``, ``revoked``,
           ``policy-not-met``, ...), logged by the member who refused it (the gatekeeper)
enrol      ``Enrolled`` / ``Removed``: an organisation's admin changed who may act
remove
========== ====================================================================================

``audit_df`` turns those events into a pandas table with one row per event (columns
``AUDIT_COLUMNS``); ``filter_audit`` selects rows. ``check_audit`` answers the auditor's second
question, "is this table the truth?":

* every row matches the chain, in order (a row deleted, added or edited in an exported table is
  ``audit-mismatch``);
* every grant is justified: the approvals logged before it, counting only members whose
  certificates were valid *at the height they approved* (re-checked against the CAs' revocation
  lists in a ``Membership``), satisfy the policy named in the row (``unjustified-grant``); this
  catches a contract whose member table was not updated after a revocation;
* every read and write has a grant for that member, record and action before it
  (``read-without-grant``, ``write-without-grant``).

What it cannot see: reads by the organisations that hold the record themselves (they decrypt
their own copy, no one else is asked) and copies a reader makes after it received the data. An
audit trail proves what passed through the protocol, not what people did outside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from blockkit.errors import TamperedData
from blockkit.keys import Address
from blockkit.sharing.identity import Membership
from blockkit.sharing.policy import AccessControl, parse_policy

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ACTIONS_BY_EVENT",
    "AUDIT_COLUMNS",
    "AuditMismatch",
    "audit_df",
    "audit_rows",
    "check_audit",
    "filter_audit",
    "find_problems",
]

#: The columns of an audit table, in order.
AUDIT_COLUMNS = [
    "height",
    "time",
    "organisation",
    "member",
    "role",
    "action",
    "request",
    "collection",
    "record",
    "policy",
    "reason",
    "address",
    "by",
    "digest",
    "tx",
]

#: The audit action each contract event stands for.
ACTIONS_BY_EVENT = {
    "Requested": "request",
    "Approved": "approve",
    "Granted": "grant",
    "Read": "read",
    "Written": "write",
    "Refused": "refused",
    "Enrolled": "enrol",
    "Removed": "remove",
}


class AuditMismatch(TamperedData):
    """An audit table disagrees with the chain, or shows a grant, read or write the policy does
    not justify. ``reason``: ``audit-mismatch``, ``unjustified-grant``, ``read-without-grant``,
    ``write-without-grant``; ``row`` is the index of the offending row (or None)."""

    def __init__(self, reason: str, message: str, row: int | None = None) -> None:
        super().__init__(reason, message)
        self.row = row


def _name(membership: Membership, address: Address, organisation: str) -> str:
    """The subject of the certificate registered for ``address`` in ``organisation``."""
    for cert in reversed(membership.lookup(address)):
        if cert.organisation == organisation:
            return cert.subject
    return address.short


def audit_rows(*controls: AccessControl) -> list[dict[str, Any]]:
    """One dict per event of the given policy contracts, oldest first (by height, then in the
    order the events were emitted), with the keys of ``AUDIT_COLUMNS``."""
    rows: list[tuple[int, int, int, dict[str, Any]]] = []
    for c, control in enumerate(controls):
        if not isinstance(control, AccessControl):
            raise TypeError(f"audit_rows takes AccessControl objects, not {type(control).__name__}")
        policy = str(control.policy)
        targets: dict[int, tuple[str, str]] = {}  # request id -> (collection, record)
        for i, event in enumerate(control.events()):
            action = ACTIONS_BY_EVENT.get(event.name)
            if action is None:
                continue
            f = event.fields
            address = Address(bytes(f["member"]))
            organisation = f.get("organisation", "")
            by = f.get("by")
            digest = f.get("digest")
            if event.name == "Requested":
                targets[f["id"]] = (f["collection"], f["record"])
            # Approvals name only the request: show what it was for.
            collection, record = targets.get(f.get("id", -1), ("", ""))
            row = {
                "height": event.height,
                "time": f.get("time", 0),
                "organisation": organisation,
                "member": _name(control.membership, address, organisation),
                "role": f.get("role", ""),
                "action": action,
                "request": f.get("id", -1),
                "collection": f.get("collection", collection),
                "record": f.get("record", record),
                "policy": policy,
                "reason": f.get("reason", ""),
                "address": str(address),
                "by": "" if by is None else str(Address(bytes(by))),
                "digest": "" if not digest else bytes(digest).hex(),
                "tx": "" if event.tx is None else event.tx.hex(),
            }
            rows.append((event.height, c, i, row))
    rows.sort(key=lambda item: item[:3])
    return [row for *_, row in rows]


def audit_df(*controls: AccessControl) -> pd.DataFrame:
    """The audit trail of one or more policy contracts as a pandas table (``AUDIT_COLUMNS``)."""
    import pandas as pd

    return pd.DataFrame(audit_rows(*controls), columns=AUDIT_COLUMNS)


def filter_audit(
    df: pd.DataFrame,
    *,
    organisation: str | Iterable[str] | None = None,
    member: str | Iterable[str] | None = None,
    record: str | Iterable[str] | None = None,
    action: str | Iterable[str] | None = None,
    collection: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """The rows matching every given filter (each a value or several values)."""
    keep = df.index == df.index  # all True
    for column, wanted in (
        ("organisation", organisation),
        ("member", member),
        ("record", record),
        ("action", action),
        ("collection", collection),
    ):
        if wanted is None:
            continue
        values = [wanted] if isinstance(wanted, str) else list(wanted)
        keep &= df[column].isin(values)
    return df[keep]


def _records(df: pd.DataFrame | Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(df, list | tuple):
        return [dict(row) for row in df]
    missing = [c for c in AUDIT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"an audit table has the columns AUDIT_COLUMNS; missing {missing}")
    return [
        {column: _plain(value) for column, value in row.items()}
        for row in df[AUDIT_COLUMNS].to_dict("records")
    ]


def _plain(value: Any) -> Any:
    """numpy scalars (from a DataFrame) back to Python ints and strs, for comparison."""
    return value.item() if hasattr(value, "item") else value


def find_problems(
    df: pd.DataFrame | Sequence[dict[str, Any]],
    *,
    control: AccessControl | None = None,
    membership: Membership | None = None,
) -> list[AuditMismatch]:
    """Every inconsistency ``check_audit`` would raise, as a list (empty when the table holds).

    With ``control``, the table is compared row by row with the chain and ``membership``
    defaults to the control's. Without it, only the table's own logic is checked (grants
    justified by the approvals above them, reads and writes by grants).
    """
    rows = _records(df)
    problems: list[AuditMismatch] = []
    if control is not None:
        membership = membership if membership is not None else control.membership
        problems += _compare(rows, audit_rows(control))
    approvals: dict[tuple[str, int], list[dict[str, Any]]] = {}
    grants: dict[tuple[str, int], dict[str, Any]] = {}
    for index, row in enumerate(rows):
        key = (row["policy"], row["request"])
        action = row["action"]
        if action == "approve":
            approvals.setdefault(key, []).append(row)
        elif action == "grant":
            problem = _unjustified(row, approvals.get(key, []), membership, index)
            if problem is not None:
                problems.append(problem)
            grants[key] = row
        elif action in ("read", "write"):
            grant = grants.get(key)
            if grant is None or any(
                grant[c] != row[c] for c in ("address", "collection", "record")
            ):
                problems.append(
                    AuditMismatch(
                        f"{action}-without-grant",
                        f"row {index}: {row['member']} ({row['organisation']}) {action}s "
                        f"{row['record']!r} of {row['collection']} under request "
                        f"{row['request']}, but no grant for that member and record precedes it",
                        index,
                    )
                )
    return problems


def _compare(rows: list[dict[str, Any]], chain: list[dict[str, Any]]) -> list[AuditMismatch]:
    for index, (given, truth) in enumerate(zip(rows, chain, strict=False)):
        changed = [c for c in AUDIT_COLUMNS if given.get(c) != truth[c]]
        if changed:
            return [
                AuditMismatch(
                    "audit-mismatch",
                    f"row {index} differs from the chain in {', '.join(changed)} (the chain says "
                    f"{', '.join(f'{c}={truth[c]!r}' for c in changed)}); rebuild the table with "
                    "audit_df",
                    index,
                )
            ]
    if len(rows) != len(chain):
        return [
            AuditMismatch(
                "audit-mismatch",
                f"the table has {len(rows)} rows, the chain {len(chain)} events: rows were "
                f"{'removed' if len(rows) < len(chain) else 'added'}; rebuild it with audit_df",
                min(len(rows), len(chain)),
            )
        ]
    return []


def _unjustified(
    grant: dict[str, Any],
    approvals: list[dict[str, Any]],
    membership: Membership | None,
    index: int,
) -> AuditMismatch | None:
    policy = parse_policy(grant["policy"])
    counted: set[tuple[str, str]] = set()
    ignored: list[str] = []
    for row in approvals:
        status = "valid"
        if membership is not None:
            status = _status_at(membership, row)
        if status == "valid":
            counted.add((row["organisation"], row["role"]))
        else:
            ignored.append(f"{row['member']} ({row['organisation']}, {status})")
    if policy.satisfied_by(counted):
        return None
    orgs = ", ".join(sorted(org for org, _ in counted)) or "nobody"
    extra = f"; not counted: {', '.join(ignored)}" if ignored else ""
    return AuditMismatch(
        "unjustified-grant",
        f"row {index}: request {grant['request']} was granted, but the valid approvals before it "
        f"(by {orgs}{extra}) do not satisfy {grant['policy']}",
        index,
    )


def _status_at(membership: Membership, row: dict[str, Any]) -> str:
    """The approver's certificate status at the height it approved (``"valid"`` or a reason)."""
    certs = [
        cert
        for cert in membership.lookup(Address(bytes.fromhex(row["address"].removeprefix("0x"))))
        if cert.organisation == row["organisation"]
    ]
    if not certs:
        return "not-a-member"
    statuses = [membership.status(cert, height=int(row["height"])) for cert in reversed(certs)]
    return "valid" if "valid" in statuses else statuses[0]


def check_audit(
    df: pd.DataFrame | Sequence[dict[str, Any]],
    *,
    control: AccessControl | None = None,
    membership: Membership | None = None,
) -> None:
    """Return nothing when the audit table is consistent (see the module docstring); else raise
    the first ``AuditMismatch`` (``reason`` says which check, ``row`` where)."""
    problems = find_problems(df, control=control, membership=membership)
    if problems:
        raise problems[0]
