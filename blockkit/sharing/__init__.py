"""Data sharing between organisations: identities, channels, private data, access policies,
audit, traceability and verifiable credentials — what lets agencies, banks and insurers share
records on one chain while each sees only its part.

=================  ================================================================================
``identity``       certificate authorities, member certificates with roles, revocation lists, and
                   ``Membership`` (Fabric's MSP): who is a member, and why someone is not
``permissioned``   a chain that takes transactions only from enrolled, valid, unrevoked members
                   (``Chain(admission=MembershipRules([...]))``); enrolments and revocations are
                   transactions under the state root
``channels``       separate ledgers for subsets of organisations on one network
``private``        records encrypted off chain (AES-GCM), data keys wrapped for each reader (ECDH),
                   the hash on chain; key rotation when a member leaves; expiry
``policy``         AND / OR / k-of-n endorsement policies, and a contract where access requests,
                   approvals and grants are transactions
``audit``          who read or changed what, when, under which policy, as a DataFrame, checked
                   against the chain
``provenance``     a supply-chain trail across organisations: custody, inspections,
                   transformations, recalls, and a drawing
``credentials``    verifiable credentials with selective disclosure (salted Merkle leaves), anchored
                   and revocable on chain
=================  ================================================================================

Import from the modules (``from blockkit.sharing.identity import CertificateAuthority``);
``import blockkit`` loads none of them, and pandas and matplotlib load only when a table or a
drawing is asked for.
"""
