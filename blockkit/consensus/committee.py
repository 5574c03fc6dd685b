"""Permissioned block production: only members of a fixed validator set may seal a block.

Proof of authority, Raft and PBFT share this chain rule. A block is *sealed* by its proposer: the
header's ``seal`` is the proposer's signature over ``Header.seal_message`` (every field but the
seal and the nonce), and the proposer must be a validator. Work plays no part: each block weighs
one, the target never changes and the nonce stays 0. What differs between the protocols is who
may propose when, and when a block counts as final; each subclass adds that.

Signature checks are memoised (``verify_seal``): in a simulation every node checks the same block
and every replica the same vote, and a check is a pure function of key, message and signature, so
computing it once per distinct triple gives every node the same answer a fresh check would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

from blockkit.blocks import Block, Header
from blockkit.consensus.base import Consensus, HeaderLookup
from blockkit.errors import InvalidBlock
from blockkit.keys import Address, PrivateKey, PublicKey
from blockkit.params import CLASSROOM, Params

__all__ = ["Committee", "committee_keys", "verify_signature"]


@lru_cache(maxsize=65_536)
def verify_signature(public_key: PublicKey, message: bytes, signature: bytes) -> bool:
    """``public_key.is_valid_signature(signature, message)``, computed once per distinct triple."""
    return public_key.is_valid_signature(signature, message)


def committee_keys(count: int, label: str, suite: str = "ed25519") -> list[PrivateKey]:
    """``count`` reproducible validator keys named ``label-0``, ``label-1``, … (for lessons)."""
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"a committee has at least one member, not {count!r}")
    return [PrivateKey.from_seed(f"{label}-{i}", suite) for i in range(count)]


class Committee(Consensus):
    """A fixed, ordered validator set; a block is valid when a validator signed its header."""

    name = "committee"

    def __init__(
        self,
        validators: Sequence[PublicKey],
        params: Params = CLASSROOM,
        *,
        keys: Sequence[PrivateKey] = (),
    ) -> None:
        if not validators:
            raise ValueError("a committee needs at least one validator")
        if not all(isinstance(v, PublicKey) for v in validators):
            raise TypeError("validators are PublicKeys (use key.public_key)")
        self.params = params
        self.validators: tuple[PublicKey, ...] = tuple(validators)
        self.addresses: tuple[Address, ...] = tuple(v.address for v in self.validators)
        if len(set(self.addresses)) != len(self.addresses):
            raise ValueError("a validator appears twice in the set")
        self._index = {address: i for i, address in enumerate(self.addresses)}
        self.keys: tuple[PrivateKey, ...] = tuple(keys)
        """Private keys for a simulation: node ``i`` uses only ``keys[i]``."""

    @property
    def size(self) -> int:
        """Number of validators."""
        return len(self.validators)

    def index_of(self, address: bytes) -> int:
        """Position of ``address`` in the validator set; ``InvalidBlock`` if it is not in it."""
        try:
            return self._index[Address(address)]
        except KeyError:
            raise InvalidBlock(
                "not-a-validator", f"{Address(address).short} is not in the validator set"
            ) from None

    def next_target(self, chain: HeaderLookup, parent: Header) -> int:
        """Unchanged from the parent: the target plays no part in sealed blocks."""
        return parent.target

    def check_header(self, chain: HeaderLookup, parent: Header, header: Header) -> None:
        """The proposer is a validator, signed the header, and (subclass) was allowed to."""
        if header.nonce != 0:
            raise InvalidBlock("unexpected-nonce", "sealed blocks carry nonce 0")
        if header.target != parent.target:
            raise InvalidBlock("bad-target", "sealed blocks keep the parent's target")
        index = self.index_of(header.proposer)
        if not verify_signature(self.validators[index], header.seal_message, header.seal):
            raise InvalidBlock(
                "bad-seal",
                f"the seal is not validator {index}'s signature over this header "
                "(forged, or the header was changed after sealing)",
            )
        self.check_turn(chain, parent, header, index)

    def check_turn(self, chain: HeaderLookup, parent: Header, header: Header, index: int) -> None:
        """Protocol-specific: may validator ``index`` seal this block? Default: any validator."""

    def weight(self, header: Header) -> int:
        """Every sealed block weighs one: the longest valid branch wins."""
        return 1

    def seal(self, block: Block, key: PrivateKey | None = None) -> Block:  # type: ignore[override]
        """Sign ``block``'s header with ``key`` (default: the key of its proposer, if held)."""
        if key is None:
            matching = [k for k in self.keys if k.address == block.header.proposer]
            if not matching:
                raise ValueError("seal(block, key=...): no key held for this block's proposer")
            key = matching[0]
        if key.address != block.header.proposer:
            raise ValueError("the sealing key must belong to the block's proposer")
        header = replace(block.header, seal=key.sign(block.header.seal_message))
        return replace(block, header=header)
