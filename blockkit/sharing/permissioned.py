"""A permissioned chain: only valid, unrevoked members of trusted organisations may transact.

On a public chain any key with coins may send a transaction. A chain shared by a tax office, a
bank and an insurer accepts transactions only from *members*: people whose organisation's
certificate authority (``blockkit.sharing.identity``) vouches for their key, whose certificate has
not expired and has not been revoked. ``MembershipRules`` is that rule, plugged into a ``Chain``
(``Chain(..., admission=rules)``):

* **Configuration in the genesis state.** The trusted organisations and their CA keys are written
  into the storage of a system account, ``MEMBERSHIP_ADDRESS``, before the genesis state root is
  computed. The genesis hash therefore commits to them: two nodes configured differently do not
  even share a first block.
* **Enrolment and revocation are transactions.** A member joins with an *enrol* transaction
  carrying its certificate, signed by the certified key itself (so it proves it holds the key),
  or sent by an admin of the same organisation. An organisation publishes a new revocation list
  with a *revoke* transaction (any member may relay it: the CA's signature is what counts). Both
  live in the system account's storage, under the state root — so every node agrees, at every
  height, on who is a member, and a reorganisation takes an enrolment or a revocation back out
  with the rest of its block.
* **Every other transaction** must come from a key with a certificate registered in that state
  and valid at the block's height, with a role allowed to write (``admin`` or ``member`` by
  default; ``auditor`` and ``observer`` only read). Otherwise the transaction is invalid —
  ``NotAMember``, an ``InvalidTransaction`` naming the certificate's problem — and so is any
  block containing it, exactly as with a forged signature.

This is what Hyperledger Fabric's membership service and configuration blocks do. The state of
the system account can be read like any contract's (``chain.storage(MEMBERSHIP_ADDRESS)``,
``chain.call_view(MEMBERSHIP_ADDRESS, "certificate", ["org:serial"])``); only its writes are
native code, because they check signatures, which the contract language cannot do.

Changing the set of organisations after genesis (a governance decision taken under a policy) is
not modelled: start a new chain (or a new channel) with the new configuration.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from blockkit.contracts.lang import compile_contract
from blockkit.contracts.vm import slot_key
from blockkit.encoding import decode, encode
from blockkit.errors import EncodingError, InvalidCertificate, InvalidTransaction
from blockkit.execution import OK, Receipt, apply_transaction
from blockkit.hashing import sha256, tagged_hash
from blockkit.keys import Address, PublicKey
from blockkit.sharing.identity import (
    ROLES,
    CertificateAuthority,
    MemberCertificate,
    Membership,
    RevocationList,
)
from blockkit.transactions import Transaction, sign_transaction

if TYPE_CHECKING:
    import pandas as pd

    from blockkit.chain import Chain
    from blockkit.keys import PrivateKey
    from blockkit.params import Params
    from blockkit.state import State

__all__ = [
    "ENROL",
    "MEMBERSHIP_ADDRESS",
    "MEMBERSHIP_SOURCE",
    "REVOKE",
    "MembershipRules",
    "NotAMember",
    "enrol_transaction",
    "members_df",
    "membership_of",
    "revoke_transaction",
]

#: The system account holding the membership: no key hashes to it (it is a tagged hash of a name).
MEMBERSHIP_ADDRESS = Address(tagged_hash(b"blockkit/system-account", b"membership")[:20])

ENROL, REVOKE = "enrol", "revoke"

#: The system account's code: its storage layout and its read-only views. Its writes are native
#: (``MembershipRules.apply``), because they check signatures; a call to it is not a contract call.
MEMBERSHIP_SOURCE = '''
class Membership:
    """The members of this permissioned chain. Written only by enrol and revoke transactions,
    which the chain checks natively; read by anyone. See blockkit.sharing.permissioned."""

    def __init__(self):
        self.organisations = {}
        self.certificates = {}
        self.revocations = {}

    def ca_key(self, organisation: str):
        return self.organisations.get(organisation)

    def certificate(self, cert_id: str):
        return self.certificates.get(cert_id)

    def revocation_list(self, organisation: str):
        return self.revocations.get(organisation)
'''

_PROGRAM = compile_contract(MEMBERSHIP_SOURCE)  # checked once, at import: the source is valid
_CODE_HASH = sha256(MEMBERSHIP_SOURCE.encode())
_ORGS = "organisations"
_CERTS = "certificates"
_CRLS = "revocations"
_INDEX = "organisation_index"  # a plain field: the sorted organisation names


class NotAMember(InvalidTransaction):
    """A transaction from a key that may not act on this permissioned chain: no registered
    certificate, or one that is expired, revoked or lacks a writing role. ``reason`` is the
    certificate check's tag (``"not-a-member"``, ``"revoked"``, ``"wrong-role"``...)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {message}")


def _slot(field: str, key: str) -> bytes:
    return slot_key(field, key, entry=True)


class MembershipRules:
    """The admission rules of a permissioned chain: trusted organisations and writing roles.

    >>> tax = CertificateAuthority.from_seed("tax")
    >>> rules = MembershipRules([tax])
    >>> rules.organisations
    ('tax',)
    """

    def __init__(
        self,
        organisations: Iterable[CertificateAuthority] | dict[str, PublicKey],
        *,
        write_roles: Iterable[str] = ("admin", "member"),
        name: str = "network",
    ) -> None:
        if isinstance(organisations, dict):
            keys = dict(organisations)
        else:
            keys = {}
            for ca in organisations:
                if not isinstance(ca, CertificateAuthority):
                    raise TypeError(
                        "organisations are CertificateAuthority objects or a dict of "
                        f"organisation name -> CA PublicKey, not {type(ca).__name__}"
                    )
                keys[ca.organisation] = ca.public_key
        if not keys:
            raise ValueError("a permissioned chain needs at least one trusted organisation")
        check = Membership(name)
        for org, key in sorted(keys.items()):
            check.add_organisation(org, key)  # refuses bad names, non-keys, a shared CA key
        self.write_roles = tuple(write_roles)
        unknown = [r for r in self.write_roles if r not in ROLES]
        if unknown or not self.write_roles:
            raise ValueError(f"write_roles must be some of {ROLES}, not {self.write_roles}")
        self.name = name
        self._keys: dict[str, PublicKey] = dict(sorted(keys.items()))
        self._cache: tuple[bytes, Membership] | None = None

    @property
    def organisations(self) -> tuple[str, ...]:
        """The trusted organisations, sorted."""
        return tuple(self._keys)

    def __repr__(self) -> str:
        return f"MembershipRules({', '.join(self._keys)}; writers: {', '.join(self.write_roles)})"

    # --- the Admission protocol -----------------------------------------------------------------

    def install(self, state: State) -> None:
        """Write the trusted organisations into the genesis state's system account."""
        state.install_code(MEMBERSHIP_ADDRESS, _CODE_HASH, MEMBERSHIP_SOURCE)
        for org, key in self._keys.items():
            state.storage_set(MEMBERSHIP_ADDRESS, _slot(_ORGS, org), key.to_canonical())
        state.storage_set(MEMBERSHIP_ADDRESS, slot_key(_INDEX), list(self._keys))

    def apply(
        self, state: State, tx: Transaction, params: Params, block_height: int, timestamp: int
    ) -> Receipt:
        """Apply ``tx`` if its sender may act (or it is a valid enrolment or revocation);
        otherwise raise ``NotAMember`` (or another ``InvalidTransaction``) and change nothing."""
        if tx.recipient == MEMBERSHIP_ADDRESS:
            return self._apply_system(state, tx, block_height)
        self.check_sender(state, tx.public_key, block_height)
        return apply_transaction(state, tx, params, block_height, timestamp)

    # --- reading the membership from a state ----------------------------------------------------

    def membership(self, state: State) -> Membership:
        """The ``Membership`` recorded in ``state``: organisations, revocation lists and every
        enrolled certificate (rebuilt only when the system account's storage changed)."""
        root = state.storage_root(MEMBERSHIP_ADDRESS)
        if self._cache is not None and self._cache[0] == root:
            return self._cache[1]
        membership = _membership_from(state, self.name)
        self._cache = (root, membership)
        return membership

    def check_sender(
        self, state: State, sender: PublicKey, height: int, roles: Iterable[str] | None = None
    ) -> MemberCertificate:
        """The certificate under which ``sender`` may write at ``height``, or ``NotAMember``."""
        try:
            return self.membership(state).check_sender(
                sender, height=height, roles=self.write_roles if roles is None else roles
            )
        except InvalidCertificate as exc:
            raise NotAMember(exc.reason, str(exc).split(": ", 1)[-1]) from None

    # --- system transactions ---------------------------------------------------------------------

    def _apply_system(self, state: State, tx: Transaction, height: int) -> Receipt:
        if tx.value:
            raise InvalidTransaction(
                "a membership transaction moves no coins: send it with value 0"
            )
        try:
            payload = decode(tx.data)
        except EncodingError:
            payload = None
        if not (isinstance(payload, list) and len(payload) == 2 and payload[0] in (ENROL, REVOKE)):
            raise InvalidTransaction(
                "a transaction to the membership account carries "
                'encode(["enrol", certificate]) or encode(["revoke", revocation list]): use '
                "enrol_transaction or revoke_transaction"
            )
        membership = self.membership(state)
        try:
            if payload[0] == ENROL:
                writes = self._enrolment(membership, tx, payload[1], height)
            else:
                writes = self._revocation(membership, state, tx, payload[1], height)
        except InvalidCertificate as exc:
            raise NotAMember(exc.reason, str(exc).split(": ", 1)[-1]) from None
        state.take_nonce_and_fee(tx, tx.fee)  # raises, changing nothing, if it cannot pay
        for slot, value in writes:
            state.storage_set(MEMBERSHIP_ADDRESS, slot, value)
        return Receipt(tx.hash, OK, 0, tx.fee)

    def _enrolment(
        self, membership: Membership, tx: Transaction, value: Any, height: int
    ) -> list[tuple[bytes, Any]]:
        try:
            cert = MemberCertificate.from_canonical(value)
        except (EncodingError, TypeError, ValueError, IndexError) as exc:
            raise InvalidCertificate("malformed", f"not a member certificate ({exc})") from None
        membership.validate(cert, height=height)
        if any(c.fingerprint == cert.fingerprint for c in membership.lookup(cert.address)):
            raise InvalidCertificate(
                "already-enrolled", f"certificate {cert.cert_id} is already enrolled"
            )
        if tx.sender != cert.address:
            admin = membership.check_sender(tx.public_key, height=height, roles=("admin",))
            if admin.organisation != cert.organisation:
                raise InvalidCertificate(
                    "wrong-organisation",
                    f"an admin of {admin.organisation} cannot enrol a member of "
                    f"{cert.organisation}; the member sends its own enrolment, or one of "
                    f"{cert.organisation}'s admins does",
                )
        return [(_slot(_CERTS, cert.cert_id), cert.to_canonical())]

    def _revocation(
        self, membership: Membership, state: State, tx: Transaction, value: Any, height: int
    ) -> list[tuple[bytes, Any]]:
        membership.check_sender(tx.public_key, height=height)  # any member may relay a list
        try:
            crl = RevocationList.from_canonical(value)
        except (EncodingError, TypeError, ValueError, IndexError) as exc:
            raise InvalidCertificate("malformed", f"not a revocation list ({exc})") from None
        known = membership.crl(crl.organisation)
        for entry in crl.entries:
            if (known is None or known.entry(entry.serial) is None) and entry.height < height:
                raise InvalidCertificate(
                    "backdated-revocation",
                    f"serial {entry.serial} is revoked at height {entry.height}, before this "
                    f"block ({height}): blocks already accepted cannot be made invalid",
                )
        trial = _membership_from(state, self.name)  # update_crl checks signature and order
        trial.update_crl(crl)
        return [(_slot(_CRLS, crl.organisation), crl.to_canonical())]


def _membership_from(state: State, name: str) -> Membership:
    """Rebuild a ``Membership`` from the system account's storage in ``state``."""
    storage = state.storage(MEMBERSHIP_ADDRESS)
    membership = Membership(name)
    for org in storage.get(slot_key(_INDEX), []):
        key = PublicKey.from_canonical(storage[_slot(_ORGS, org)])
        crl_value = storage.get(_slot(_CRLS, org))
        crl = RevocationList.from_canonical(crl_value) if crl_value is not None else None
        membership.add_organisation(org, key, crl)
    certificates = []
    for slot, value in storage.items():
        path = decode(slot)
        if path[0] == _CERTS:
            certificates.append(MemberCertificate.from_canonical(value))
    for cert in sorted(certificates, key=lambda c: (c.organisation, c.serial)):
        membership.restore(cert)
    return membership


def membership_of(chain: Chain) -> Membership:
    """The membership at ``chain``'s tip (its rules must be ``MembershipRules``)."""
    rules = chain.admission
    if not isinstance(rules, MembershipRules):
        raise ValueError("this chain is not permissioned: create it with admission=rules")
    return rules.membership(chain.state)


def enrol_transaction(
    key: PrivateKey, certificate: MemberCertificate, *, nonce: int, chain_id: int, fee: int = 0
) -> Transaction:
    """A transaction enrolling ``certificate``: signed by the certified key itself, or by an admin
    of the same organisation."""
    data = encode([ENROL, certificate.to_canonical()])
    return sign_transaction(
        key, MEMBERSHIP_ADDRESS, 0, nonce=nonce, chain_id=chain_id, fee=fee, data=data
    )


def revoke_transaction(
    key: PrivateKey, crl: RevocationList, *, nonce: int, chain_id: int, fee: int = 0
) -> Transaction:
    """A transaction publishing an organisation's new revocation list (any member may send it)."""
    data = encode([REVOKE, crl.to_canonical()])
    return sign_transaction(
        key, MEMBERSHIP_ADDRESS, 0, nonce=nonce, chain_id=chain_id, fee=fee, data=data
    )


def members_df(chain: Chain, height: int | None = None) -> pd.DataFrame:
    """Every member enrolled at the tip, with the status of its certificate at ``height``
    (default: the tip's height; ``chain.height + 1`` shows what the next block will accept, e.g.
    a revocation that takes effect there)."""
    return membership_of(chain).members_df(chain.height if height is None else height)
