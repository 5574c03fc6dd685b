"""Data sharing between organisations: identities, private data, access policies, audit and
verifiable credentials — what lets agencies, banks and insurers share records on one chain while
each sees only its part.

Modules: ``identity`` (certificate authorities, member certificates with roles, revocation),
``private`` (records encrypted off chain with their hash on chain, data keys wrapped for each
allowed reader, key rotation, expiry), ``credentials`` (verifiable credentials with selective
disclosure).
"""
