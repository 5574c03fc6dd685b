"""Channels: separate ledgers for subsets of organisations on one network.

A consortium of a tax office, a market regulator, two banks and an insurer does not want one
ledger that everybody reads. The tax office and the banks share loan data; the regulator and the
tax office share licence data; the insurer sees neither. Hyperledger Fabric's answer, built here,
is a **channel**: a ledger of its own (its own ``Chain``, its own genesis, its own members) that
only the nodes of its organisations hold. A non-member organisation has no copy to read, and
the channel's admission rules (``blockkit.sharing.permissioned``) refuse its transactions.

``Consortium`` holds every organisation's certificate authority; ``create_channel(name,
organisations)`` starts a permissioned chain whose genesis trusts exactly those organisations.
Reading goes through ``Channel.ledger(member)``, which hands out the channel's chain only to a
member of one of its organisations whose certificate is valid (``AccessDenied`` otherwise);
writing goes through ``Channel.submit``, which checks the same before the chain's own admission
rules check it again — the second check is the one that counts, because a block produced by any
node is validated by every other.

What a channel does *not* do: hide data from the organisations inside it (every member node
holds the whole channel ledger). Data only some of them may read goes into private data
collections (``blockkit.sharing.private``), whose hashes sit on the channel.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from blockkit.chain import Chain
from blockkit.errors import AccessDenied, InvalidCertificate
from blockkit.hashing import tagged_hash
from blockkit.params import CLASSROOM, Params
from blockkit.sharing.identity import CertificateAuthority, Member, Membership
from blockkit.sharing.permissioned import MembershipRules, enrol_transaction, membership_of

if TYPE_CHECKING:
    import pandas as pd

    from blockkit.blocks import Block
    from blockkit.transactions import Transaction

__all__ = ["Channel", "Consortium", "channel_params"]


def channel_params(params: Params, name: str) -> Params:
    """``params`` with a chain id of the channel's own, derived from its name, and no block
    reward: members of a permissioned channel take turns to order blocks, nobody mines, and no
    coins are created (fees still go to the block's proposer)."""
    if not isinstance(name, str) or not name:
        raise ValueError("a channel has a non-empty name")
    digest = tagged_hash(b"blockkit/channel-id", name.encode())
    chain_id = 1 << 32 | int.from_bytes(digest[:4], "big")  # never a preset's small id
    return replace(params, name=f"{params.name}/{name}", chain_id=chain_id, block_reward=0)


class Channel:
    """One channel: a permissioned chain trusted by a subset of the consortium's organisations."""

    def __init__(
        self,
        name: str,
        authorities: Sequence[CertificateAuthority],
        *,
        params: Params = CLASSROOM,
        allocations: dict[bytes, int] | None = None,
        genesis_time: int = 0,
    ) -> None:
        if not authorities:
            raise ValueError(f"channel {name!r} needs at least one organisation")
        self.name = name
        self.organisations = tuple(sorted(ca.organisation for ca in authorities))
        self.rules = MembershipRules(authorities, name=name)
        # each channel has its own chain id, so a transaction signed for one channel can never
        # be replayed on another by a member of both (replay protection, as between chains)
        self.params = channel_params(params, name)
        self.chain = Chain(
            self.params, admission=self.rules, allocations=allocations, genesis_time=genesis_time
        )
        self._directory = Membership.of(*authorities, name=name)

    def __repr__(self) -> str:
        return (
            f"Channel({self.name!r}: {', '.join(self.organisations)}; height {self.chain.height})"
        )

    def is_member(self, member: Member, *, height: int | None = None) -> bool:
        """True when ``member``'s organisation is in the channel and its certificate is valid."""
        try:
            self._check(member, "use", height)
        except AccessDenied:
            return False
        return True

    def _check(self, member: Member, action: str, height: int | None) -> None:
        if not isinstance(member, Member):
            raise TypeError(f"a channel is used by a Member, not {type(member).__name__}")
        organisation = member.organisation
        if organisation not in self.organisations:
            raise AccessDenied(
                "not-in-channel",
                f"{member.name} of {organisation} may not {action} channel {self.name!r}: its "
                f"organisations are {', '.join(self.organisations)}",
            )
        at = self.chain.height if height is None else height
        try:
            self._directory.validate(member.certificate, height=at)
        except InvalidCertificate as exc:
            raise AccessDenied(
                exc.reason,
                f"{member.name} of {organisation} may not {action} channel {self.name!r}: "
                f"{str(exc).split(': ', 1)[-1]}",
            ) from None

    def update_revocations(self, authority: CertificateAuthority) -> None:
        """Take ``authority``'s latest revocation list for read checks (the chain takes it by a
        revoke transaction; see ``blockkit.sharing.permissioned``)."""
        if authority.organisation not in self.organisations:
            raise ValueError(f"{authority.organisation} is not in channel {self.name!r}")
        if self._directory.crl(authority.organisation) != authority.crl:
            self._directory.update_crl(authority.crl)

    def ledger(self, member: Member) -> Chain:
        """The channel's chain, for a member of one of its organisations; ``AccessDenied``
        (``"not-in-channel"``, ``"revoked"``, ``"expired"``...) for anyone else."""
        self._check(member, "read", None)
        return self.chain

    def enrol(self, member: Member, *, timestamp: int | None = None) -> Block:
        """Enrol ``member`` on the channel's chain (its own signed enrolment), in a new block."""
        self._check(member, "join", None)
        tx = enrol_transaction(
            member.signing_key,
            member.certificate,
            nonce=self.chain.nonce(member.address),
            chain_id=self.chain.params.chain_id,
        )
        return self.submit(member, [tx], timestamp=timestamp)

    def submit(
        self, member: Member, transactions: Iterable[Transaction], *, timestamp: int | None = None
    ) -> Block:
        """Put ``transactions`` in a new block proposed by ``member`` (the classroom stand-in for
        the channel's ordering service) and add it; the chain's admission rules check each one."""
        self._check(member, "write to", None)
        time = self.chain.head.header.timestamp + 10 if timestamp is None else timestamp
        block = self.chain.mine_block(list(transactions), proposer=member.address, timestamp=time)
        self.chain.add_block(block)
        return block

    def members_df(self) -> pd.DataFrame:
        """Who is enrolled on the channel, and the status of each certificate at the tip."""
        return membership_of(self.chain).members_df(self.chain.height)


class Consortium:
    """The organisations of one network and the channels between them."""

    def __init__(
        self, authorities: Iterable[CertificateAuthority], *, params: Params = CLASSROOM
    ) -> None:
        self.authorities = {ca.organisation: ca for ca in authorities}
        if not self.authorities:
            raise ValueError("a consortium needs at least one organisation")
        self.params = params
        self.channels: dict[str, Channel] = {}

    def __repr__(self) -> str:
        return (
            f"Consortium({', '.join(sorted(self.authorities))}; channels "
            f"{', '.join(self.channels) or 'none'})"
        )

    def create_channel(
        self,
        name: str,
        organisations: Iterable[str],
        *,
        allocations: dict[bytes, int] | None = None,
    ) -> Channel:
        """A new channel shared by ``organisations`` (names of this consortium's members)."""
        if name in self.channels:
            raise ValueError(f"there is already a channel called {name!r}")
        chosen = sorted(set(organisations))
        unknown = [org for org in chosen if org not in self.authorities]
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} not in the consortium; its organisations are "
                f"{', '.join(sorted(self.authorities))}"
            )
        channel = Channel(
            name,
            [self.authorities[org] for org in chosen],
            params=self.params,
            allocations=allocations,
        )
        self.channels[name] = channel
        return channel

    def channels_of(self, organisation: str) -> list[str]:
        """The channels ``organisation`` belongs to: the ledgers its nodes hold."""
        return [name for name, ch in self.channels.items() if organisation in ch.organisations]

    def channels_df(self) -> pd.DataFrame:
        """Organisations by channels: which ledgers each organisation holds (for lessons)."""
        import pandas as pd

        orgs = sorted(self.authorities)
        return pd.DataFrame(
            {name: [org in ch.organisations for org in orgs] for name, ch in self.channels.items()},
            index=pd.Index(orgs, name="organisation"),
        )
