"""Every way blockkit can say "no", as one typed hierarchy.

A chain is defined as much by what it rejects as by what it accepts, so each rejection has its own
exception class and a message a student can act on. Catch ``BlockkitError`` to catch them all, or a
subclass (``InvalidSignature``, ``NonceMismatch``, ...) to react to one reason. Nothing in blockkit
uses a bare ``assert`` to reject input: asserts vanish under ``python -O``.
"""

from __future__ import annotations


class BlockkitError(Exception):
    """The root of every error blockkit raises on purpose."""


# --- bytes and encoding -------------------------------------------------------------------------


class EncodingError(BlockkitError, ValueError):
    """A value cannot be encoded, or bytes are not a canonical encoding of any value."""


# --- cryptography -------------------------------------------------------------------------------


class InvalidKey(BlockkitError, ValueError):
    """Bytes that should be a public or private key are not a valid key of the named suite."""


class InvalidSignature(BlockkitError):
    """A signature does not verify for this message and public key."""


# --- transactions -------------------------------------------------------------------------------


class InvalidTransaction(BlockkitError):
    """A transaction breaks a rule; the subclass and message say which."""


class WrongChain(InvalidTransaction):
    """A transaction signed for another chain id (replay protection across chains)."""


class NonceMismatch(InvalidTransaction):
    """A transaction's nonce is not the sender's next nonce (replay and ordering protection)."""


class InsufficientFunds(InvalidTransaction):
    """The sender's balance does not cover value plus fee."""


class ForgedTransaction(InvalidTransaction, InvalidSignature):
    """A transaction whose signature does not verify: forged, altered after signing, or signed by
    a key other than the sender's. It is both an ``InvalidTransaction`` and an
    ``InvalidSignature``, so either ``except`` clause catches it."""


# --- blocks and the chain -----------------------------------------------------------------------


class InvalidBlock(BlockkitError):
    """A block breaks a rule and is rejected as a whole.

    ``reason`` is a short machine-friendly tag (``"bad-state-root"``, ``"bad-pow"``, ...) that tests
    and lessons can compare; the message explains it in words.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {message}" if message else reason)


class UnknownBlock(BlockkitError, KeyError):
    """A block was asked for by hash or height and the chain has no such block."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown block"


class UnknownTransaction(BlockkitError, KeyError):
    """A transaction was asked for by hash and the main chain does not contain it."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown transaction"


class OrphanBlock(BlockkitError):
    """A block whose parent this chain has not seen yet: fetch the parent first, then retry."""


# --- mempool ------------------------------------------------------------------------------------


class MempoolError(BlockkitError):
    """The mempool refuses a transaction; the subclass and message say why."""


class DuplicateTransaction(MempoolError):
    """The same transaction (same hash) is already pending or already in the chain."""


class MempoolFull(MempoolError):
    """The pool is full and this transaction pays too little to evict anything."""


# --- storage ------------------------------------------------------------------------------------


class StorageError(BlockkitError):
    """The chain store cannot be opened or written, or its contents are not a valid chain."""


class ContractError(BlockkitError):
    """A contract could not be deployed or ran into a rule; the subclass and message say which."""


class InvalidContract(ContractError, ValueError):
    """Contract source outside the allowed subset of Python: the message names the line and why.

    Raised at deployment, before anything runs; ``line`` is the 1-based source line (0 if none).
    """

    def __init__(self, message: str, line: int = 0) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


class OutOfGas(ContractError):
    """The call used up its gas: every state change of the call is reverted, the gas is paid."""


class Revert(ContractError):
    """A ``require`` failed or the contract called ``revert``: every state change is undone."""


class ContractFault(ContractError):
    """A runtime error inside a contract (division by zero, a missing key, a limit exceeded)."""


class SharingError(BlockkitError):
    """Data sharing between organisations refused something; the subclass and message say what.

    Like ``InvalidBlock``, ``reason`` is a short tag (``"revoked"``, ``"not-a-member"``,
    ``"bad-proof"``, ...) that tests, audits and lessons compare; the message explains it in words
    and says what to do.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {message}" if message else reason)


class InvalidCertificate(SharingError):
    """A member certificate is forged, expired, revoked, issued by an unknown authority, or does
    not carry the role the action needs."""


class AccessDenied(SharingError, PermissionError):
    """Someone tried to read or write what its organisation, role or policy does not allow."""


class TamperedData(SharingError):
    """Stored or sent data does not match the hash or authentication tag that vouches for it."""


class InvalidCredential(SharingError):
    """A verifiable credential or a disclosure from it fails a check: the issuer's signature, a
    field's proof, the on-chain anchor, revocation, or freshness (a replayed presentation)."""
