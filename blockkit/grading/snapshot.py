"""Snapshots: how a *mutable* blockkit object (a chain, a CA, a private collection...) crosses
from a student's kernel to the grader as data, and is rebuilt there.

Most answers are values (``blockkit.grading.wire``). The capstone's are not: its milestones build
and change a whole service, a channel's chain with contracts on it, CAs, encrypted stores. The
grader must judge that service without trusting any object from the kernel, so the kernel sends a
snapshot of each object (plain data, with references to other snapshots so that shared objects
stay shared: the registry's chain *is* the channel's chain), and the grader rebuilds it here with
the library's own constructors and checks:

* a chain is rebuilt from its genesis parameters and its blocks are **replayed** with
  ``Chain.add_block``: every signature, every membership rule and every contract call is checked
  and executed again in the grader's VM (gas-metered, so bounded). A kernel can claim only a chain
  that validates.
* keys are rebuilt from their secrets (a member's keys must match its certificate), revocation
  lists are accepted only when their CA signed them, contracts are found on the rebuilt chain.
* off-chain data (the sealed records of a private collection, a CA's book of certificates) is
  data: the kernel may claim any of it, as an honest function could have built it, and the judges
  check it from outside (reading records with members' keys, comparing with hashes on chain).

Nothing is unpickled and no name from the kernel is imported: a snapshot names one of the types
registered here (``CODECS``), and each loader type-checks what it is given. A loader that refuses
raises ``SnapshotError``; the wire reports it as a reply the grader could not read.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = [
    "CODECS",
    "REPLAY_GAS",
    "SnapshotError",
    "dump",
    "is_snapshot_type",
    "load",
    "register",
    "register_dataclass",
    "replay_budget",
]


class SnapshotError(ValueError):
    """A snapshot that cannot be taken (kernel side) or rebuilt (grader side)."""


REPLAY_GAS = 25_000_000
"""Gas one reply's chains may ask for (the sum of their transactions' gas limits) when replayed.
Replaying runs contracts in the grader, so a kernel must not be able to make it run for long: the
VM runs about a million gas a second at worst, and a whole capstone service asks for about 5
million."""

_GAS_LEFT: ContextVar[list[int] | None] = ContextVar("blockkit_replay_gas", default=None)


@contextmanager
def replay_budget(gas_left: list[int]) -> Iterator[None]:
    """Charge every chain replayed inside this block to ``gas_left`` (one budget per reply)."""
    token = _GAS_LEFT.set(gas_left)
    try:
        yield
    finally:
        _GAS_LEFT.reset(token)


Dumper = Callable[[Any], Any]
Loader = Callable[[Any], Any]

#: qualified type name -> (dump, load). ``dump`` returns the object's state as data (which may
#: hold other registered objects); ``load`` rebuilds the object from that state, decoded.
CODECS: dict[str, tuple[Dumper, Loader]] = {}


def type_name(cls: type) -> str:
    """``module.QualifiedName`` of a class: the name a snapshot travels under."""
    return f"{cls.__module__}.{cls.__qualname__}"


def register(name: str, dump_state: Dumper, load_state: Loader) -> None:
    """Let objects of the type called ``name`` cross as snapshots."""
    CODECS[name] = (dump_state, load_state)


def register_dataclass(cls: type) -> None:
    """Let instances of the dataclass ``cls`` cross as their fields, rebuilt with ``cls(**fields)``
    (its ``__post_init__``, if any, checks them)."""
    register(type_name(cls), *_dataclass(cls.__module__, cls.__qualname__))


def is_snapshot_type(value: Any) -> bool:
    """True when ``value`` is of a type that crosses as a snapshot."""
    return type_name(type(value)) in CODECS


def dump(value: Any) -> tuple[str, Any] | None:
    """``(type name, state)`` of a registered object, or None for any other value."""
    name = type_name(type(value))
    codec = CODECS.get(name)
    if codec is None:
        return None
    return name, codec[0](value)


def load(name: str, state: Any) -> Any:
    """Rebuild a registered object; ``SnapshotError`` when ``state`` is not a valid one."""
    codec = CODECS.get(name)
    if codec is None:
        raise SnapshotError(f"{name[:100]} is not a type that crosses as a snapshot")
    try:
        return codec[1](state)
    except SnapshotError:
        raise
    except Exception as exc:  # the library refused it: say why, briefly
        raise SnapshotError(f"not a valid {name.rsplit('.', 1)[-1]}: {exc}"[:300]) from None


# --- checks the loaders share ---------------------------------------------------------------------


def _fields(state: Any, count: int, what: str) -> list[Any]:
    if type(state) is not list or len(state) != count:
        raise SnapshotError(f"a {what} snapshot is a list of {count} fields")
    return state


def _is(value: Any, cls: type, what: str) -> Any:
    if not isinstance(value, cls) or (isinstance(value, bool) and cls is int):
        raise SnapshotError(f"{what} should be a {cls.__name__}, not {type(value).__name__}")
    return value


def _list_of(value: Any, cls: type, what: str) -> list[Any]:
    if type(value) not in (list, tuple):
        raise SnapshotError(f"{what} should be a list")
    return [_is(item, cls, what) for item in value]


def _dict_of(value: Any, key: type, item: type, what: str) -> dict[Any, Any]:
    if type(value) is not dict:
        raise SnapshotError(f"{what} should be a dict")
    for k, v in value.items():
        _is(k, key, f"a key of {what}")
        _is(v, item, f"a value of {what}")
    return value


def _optional(value: Any, cls: type, what: str) -> Any:
    return None if value is None else _is(value, cls, what)


def _new(cls: type, **attributes: Any) -> Any:
    """An instance of ``cls`` with exactly these attributes, without running its constructor
    (for objects whose constructor makes what the snapshot already holds, such as a new chain)."""
    obj = cls.__new__(cls)
    vars(obj).update(attributes)
    return obj


# --- keys -----------------------------------------------------------------------------------------


def _dump_private_key(key: Any) -> list[Any]:
    if not key._secret:
        raise SnapshotError("a private key made without its secret bytes cannot be sent")
    return [key.suite, key._secret]


def _load_private_key(state: Any) -> Any:
    from blockkit.keys import PrivateKey

    suite, secret = _fields(state, 2, "private key")
    return PrivateKey.from_secret(_is(secret, bytes, "a secret"), _is(suite, str, "a suite"))


def _dump_agreement_key(key: Any) -> int:
    return int(key.ecc.d)


def _load_agreement_key(state: Any) -> Any:
    from Crypto.PublicKey import ECC

    from blockkit.sharing.identity import AGREEMENT_CURVE, _agreement_key_from_scalar

    order = int(ECC._curves[AGREEMENT_CURVE].order)
    if not (type(state) is int and 1 <= state < order):
        raise SnapshotError("an agreement key is a scalar between 1 and the curve's order")
    return _agreement_key_from_scalar(state)


def _dump_random(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, b"".join(n.to_bytes(4, "big") for n in internal), gauss]  # compact


def _load_random(state: Any) -> random.Random:
    version, internal, gauss = _fields(state, 3, "random generator")
    words = _is(internal, bytes, "the generator's state")
    rng = random.Random()
    numbers = tuple(int.from_bytes(words[i : i + 4], "big") for i in range(0, len(words), 4))
    rng.setstate((version, numbers, gauss))  # refuses a state of the wrong size
    return rng


# --- identities -----------------------------------------------------------------------------------


def _dump_member(member: Any) -> list[Any]:
    return [member.certificate, member.signing_key, member.agreement_key]


def _load_member(state: Any) -> Any:
    from blockkit.keys import PrivateKey
    from blockkit.sharing.identity import AgreementKey, Member, MemberCertificate

    cert, signing, agreement = _fields(state, 3, "member")
    _is(cert, MemberCertificate, "a member's certificate")
    _is(signing, PrivateKey, "a member's signing key")
    _is(agreement, AgreementKey, "a member's agreement key")
    return Member(cert, signing, agreement)  # refuses keys that do not match the certificate


def _dump_authority(ca: Any) -> list[Any]:
    return [
        ca.organisation,
        ca._key,
        list(ca.certificates.values()),
        ca._next_serial,
        sorted(ca._compromised),
        ca.crl,
    ]


def _load_authority(state: Any) -> Any:
    from blockkit.keys import PrivateKey
    from blockkit.sharing.identity import (
        CertificateAuthority,
        MemberCertificate,
        RevocationList,
    )

    organisation, key, certificates, next_serial, compromised, crl = _fields(state, 6, "CA")
    ca = CertificateAuthority(
        _is(organisation, str, "a CA's organisation"), _is(key, PrivateKey, "a CA's key")
    )
    for cert in _list_of(certificates, MemberCertificate, "a CA's certificates"):
        if cert.issuer_key_id != ca.key_id or cert.organisation != ca.organisation:
            raise SnapshotError(f"certificate {cert.cert_id} was not issued by this CA")
        ca.certificates[cert.serial] = cert
    ca._next_serial = _is(next_serial, int, "a CA's next serial")
    ca._compromised = set(_list_of(compromised, bytes, "a CA's compromised keys"))
    _is(crl, RevocationList, "a CA's revocation list")
    if crl.issuer_key_id != ca.key_id or not ca.public_key.is_valid_signature(
        crl.signature, crl.signing_message
    ):
        raise SnapshotError(f"the revocation list of {organisation} is not signed by its CA")
    ca.crl = crl
    ca._revoked = {entry.serial: entry for entry in crl.entries}
    return ca


def _dump_membership(membership: Any) -> list[Any]:
    organisations = [[org, o.ca_key, o.crl] for org, o in membership._orgs.items()]
    return [membership.name, organisations, list(membership._by_serial.values())]


def _load_membership(state: Any) -> Any:
    from blockkit.keys import PublicKey
    from blockkit.sharing.identity import MemberCertificate, Membership, RevocationList

    name, organisations, certificates = _fields(state, 3, "membership")
    membership = Membership(_is(name, str, "a membership's name"))
    for entry in _list_of(organisations, list, "a membership's organisations"):
        org, ca_key, crl = _fields(entry, 3, "trusted organisation")
        membership.add_organisation(
            _is(org, str, "an organisation"), _is(ca_key, PublicKey, "a CA key")
        )
        if crl is not None:  # checked: signed by that CA
            if _is(crl, RevocationList, "a revocation list").organisation != org:
                raise SnapshotError(f"the revocation list held for {org} is another's")
            membership.update_crl(crl)
    for cert in _list_of(certificates, MemberCertificate, "registered certificates"):
        membership.restore(cert)
    return membership


# --- chains and channels --------------------------------------------------------------------------


def _dump_rules(rules: Any) -> list[Any]:
    return [rules.name, list(rules.write_roles), dict(rules._keys)]


def _load_rules(state: Any) -> Any:
    from blockkit.keys import PublicKey
    from blockkit.sharing.permissioned import MembershipRules

    name, roles, keys = _fields(state, 3, "membership rules")
    return MembershipRules(
        _dict_of(keys, str, PublicKey, "the trusted CA keys"),
        write_roles=_list_of(roles, str, "writing roles"),
        name=_is(name, str, "the rules' name"),
    )


def _dump_chain(chain: Any) -> list[Any]:
    from blockkit.consensus.pow import ProofOfWork

    if type(chain.consensus) is not ProofOfWork or chain.store is not None or chain.clock:
        raise SnapshotError(
            "only a chain with the default proof of work, no block store and no clock can be "
            "sent to the grader"
        )
    blocks = [block.encoded for block in chain.main_chain()][1:]
    return [
        chain.params,
        dict(chain.allocations),
        chain.genesis.header.timestamp,
        chain.admission,
        chain.genesis.hash,
        blocks,
    ]


def _load_chain(state: Any) -> Any:
    from blockkit.blocks import Block
    from blockkit.chain import Chain
    from blockkit.errors import InvalidBlock
    from blockkit.execution import GAS_PRICE
    from blockkit.params import Params
    from blockkit.sharing.permissioned import MembershipRules

    params, allocations, genesis_time, admission, genesis, blocks = _fields(state, 6, "chain")
    chain = Chain(
        _is(params, Params, "a chain's params"),
        allocations=_dict_of(allocations, bytes, int, "a chain's allocations"),
        genesis_time=_is(genesis_time, int, "a chain's genesis time"),
        admission=_optional(admission, MembershipRules, "a chain's admission rules"),
    )
    if chain.genesis.hash != genesis:
        raise SnapshotError("the chain's genesis does not match its parameters and allocations")
    try:
        parsed = [Block.decode(data) for data in _list_of(blocks, bytes, "a chain's blocks")]
    except InvalidBlock as exc:
        raise SnapshotError(f"a block of the chain is malformed: {exc}"[:300]) from None
    gas = sum(tx.fee // GAS_PRICE for block in parsed for tx in block.transactions)
    left = _GAS_LEFT.get() or [REPLAY_GAS]
    if gas > left[0]:
        raise SnapshotError(
            f"the chain's transactions ask for {gas:,} gas in all; the grader replays at most "
            f"{REPLAY_GAS:,} (use the library's default gas limits)"
        )
    left[0] -= gas
    for number, block in enumerate(parsed, start=1):
        try:
            chain.add_block(block)
        except InvalidBlock as exc:
            raise SnapshotError(f"block {number} of the chain is invalid: {exc}"[:300]) from None
        if chain.height != number:
            raise SnapshotError(f"block {number} of the chain does not extend the one before")
    return chain


def _dump_channel(channel: Any) -> list[Any]:
    return [
        channel.name,
        list(channel.organisations),
        channel.rules,
        channel.params,
        channel.chain,
        channel._directory,
    ]


def _load_channel(state: Any) -> Any:
    from blockkit.chain import Chain
    from blockkit.params import Params
    from blockkit.sharing.channels import Channel
    from blockkit.sharing.identity import Membership
    from blockkit.sharing.permissioned import MembershipRules

    name, organisations, rules, params, chain, directory = _fields(state, 6, "channel")
    return _new(
        Channel,
        name=_is(name, str, "a channel's name"),
        organisations=tuple(_list_of(organisations, str, "a channel's organisations")),
        rules=_is(rules, MembershipRules, "a channel's rules"),
        params=_is(params, Params, "a channel's params"),
        chain=_is(chain, Chain, "a channel's chain"),
        _directory=_is(directory, Membership, "a channel's directory"),
    )


def _dump_consortium(consortium: Any) -> list[Any]:
    return [dict(consortium.authorities), consortium.params, dict(consortium.channels)]


def _load_consortium(state: Any) -> Any:
    from blockkit.params import Params
    from blockkit.sharing.channels import Channel, Consortium
    from blockkit.sharing.identity import CertificateAuthority

    authorities, params, channels = _fields(state, 3, "consortium")
    return _new(
        Consortium,
        authorities=_dict_of(authorities, str, CertificateAuthority, "a consortium's CAs"),
        params=_is(params, Params, "a consortium's params"),
        channels=_dict_of(channels, str, Channel, "a consortium's channels"),
    )


# --- contracts driven from Python -----------------------------------------------------------------


def _no_submit(wrapper: Any) -> None:
    if wrapper._submit is not None:
        raise SnapshotError(f"a {type(wrapper).__name__} with its own submit cannot be sent")


def _dump_registry(registry: Any) -> list[Any]:
    _no_submit(registry)
    return [registry.backend, registry.address, registry.gas]


def _load_registry(state: Any) -> Any:
    from blockkit.chain import Chain
    from blockkit.keys import Address
    from blockkit.sharing.credentials import CredentialRegistry

    backend, address, gas = _fields(state, 3, "credential registry")
    chain = _is(backend, Chain, "a registry's chain")
    _is(address, Address, "a registry's address")
    if not chain.state.account(address).code_hash:
        raise SnapshotError("there is no contract at the registry's address on its chain")
    return CredentialRegistry(chain, address, gas=_is(gas, int, "a registry's gas"))


def _dump_access(acl: Any) -> list[Any]:
    _no_submit(acl)
    return [acl.backend, acl.address, acl.membership, acl.gatekeeper, acl.gas]


def _load_access(state: Any) -> Any:
    from blockkit.chain import Chain
    from blockkit.keys import Address
    from blockkit.sharing.identity import Member, Membership
    from blockkit.sharing.policy import AccessControl

    backend, address, membership, gatekeeper, gas = _fields(state, 5, "access control")
    return AccessControl(  # reads the policy back from the contract on the rebuilt chain
        _is(backend, Chain, "an access control's chain"),
        _is(address, Address, "an access control's address"),
        _is(membership, Membership, "an access control's membership"),
        _is(gatekeeper, Member, "an access control's gatekeeper"),
        gas=_is(gas, int, "an access control's gas"),
    )


# --- private data ---------------------------------------------------------------------------------


_COLLECTION_FIELDS = (
    "name",
    "membership",
    "blocks_to_live",
    "reader_roles",
    "writer_roles",
    "rng",
    "height",
    "epoch",
    "organisations",
    "stores",
    "hashes",
    "headers",
    "purged",
    "history",
)


def _dump_collection(collection: Any) -> list[Any]:
    state = [getattr(collection, name) for name in _COLLECTION_FIELDS]
    state[_COLLECTION_FIELDS.index("purged")] = sorted(collection.purged)
    return state


def _load_collection(state: Any) -> Any:
    from blockkit.sharing.identity import Membership
    from blockkit.sharing.private import PrivateCollection, RecordHeader, SealedRecord

    fields = _fields(state, len(_COLLECTION_FIELDS), "collection")
    values = dict(zip(_COLLECTION_FIELDS, fields, strict=True))
    history = _list_of(values["history"], tuple, "a collection's history")
    if not history:
        raise SnapshotError("a collection's history starts with its first organisations")
    collection = PrivateCollection(  # checks the name, the roles and every organisation
        _is(values["name"], str, "a collection's name"),
        _is(values["membership"], Membership, "a collection's membership"),
        _list_of(values["organisations"], str, "a collection's organisations"),
        height=_is(values["height"], int, "a collection's height"),
        blocks_to_live=_optional(values["blocks_to_live"], int, "blocks_to_live"),
        reader_roles=_list_of(values["reader_roles"], str, "reader roles"),
        writer_roles=_list_of(values["writer_roles"], str, "writer roles"),
        rng=_optional(values["rng"], random.Random, "a collection's generator"),
    )
    collection.epoch = _is(values["epoch"], int, "a collection's epoch")
    stores = _dict_of(values["stores"], str, dict, "a collection's stores")
    for org, store in stores.items():
        _dict_of(store, str, SealedRecord, f"{org}'s store")
    collection.stores = stores
    collection.hashes = _dict_of(values["hashes"], str, bytes, "a collection's hashes")
    collection.headers = _dict_of(values["headers"], str, RecordHeader, "a collection's headers")
    collection.purged = set(_list_of(values["purged"], str, "purged records"))
    collection.history = [tuple(entry) for entry in history]
    return collection


def _dataclass(module: str, name: str) -> tuple[Dumper, Loader]:
    """The codec of a library dataclass, imported only when a snapshot of it is loaded."""

    def dump_state(value: Any) -> dict[str, Any]:
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}

    def load_state(state: Any) -> Any:
        import importlib

        cls = getattr(importlib.import_module(module), name)
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        if type(state) is not dict or set(state) != names:
            raise SnapshotError(f"a {name} has the fields {', '.join(sorted(names))}")
        return cls(**state)

    return dump_state, load_state


for _name, _codec in {
    "blockkit.params.Params": _dataclass("blockkit.params", "Params"),
    "blockkit.keys.PrivateKey": (_dump_private_key, _load_private_key),
    "blockkit.sharing.identity.AgreementKey": (_dump_agreement_key, _load_agreement_key),
    "random.Random": (_dump_random, _load_random),
    "blockkit.sharing.identity.Member": (_dump_member, _load_member),
    "blockkit.sharing.identity.CertificateAuthority": (_dump_authority, _load_authority),
    "blockkit.sharing.identity.Membership": (_dump_membership, _load_membership),
    "blockkit.sharing.permissioned.MembershipRules": (_dump_rules, _load_rules),
    "blockkit.chain.Chain": (_dump_chain, _load_chain),
    "blockkit.sharing.channels.Channel": (_dump_channel, _load_channel),
    "blockkit.sharing.channels.Consortium": (_dump_consortium, _load_consortium),
    "blockkit.sharing.credentials.CredentialRegistry": (_dump_registry, _load_registry),
    "blockkit.sharing.policy.AccessControl": (_dump_access, _load_access),
    "blockkit.sharing.private.PrivateCollection": (_dump_collection, _load_collection),
    "blockkit.sharing.private.RecordHeader": _dataclass("blockkit.sharing.private", "RecordHeader"),
}.items():
    register(_name, *_codec)
