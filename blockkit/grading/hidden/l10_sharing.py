"""Hidden cases of lesson 10 (``blockkit.grading.catalog.l10_sharing``): run by ``blockkit grade``,
never by a student's ``check``, and left out of the student bundle (``blockkit hub bundle``)."""

from blockkit.grading.catalog.l10_sharing import (
    _WRAP_SPECS,
    _cert_args,
    _field_args,
    _opens,
    _policy_args,
    _satisfies_like_the_library,
    _wrap_args,
)
from blockkit.grading.registry import Case, add_cases

_HIDDEN_CERT_CASES: dict[str, tuple[str, str, str, int, str | None]] = {
    "an Ed25519 member": ("sun", "bank", "crl", 3, None),
    "an Ed25519 observer, revoked later": ("lee", "bank", "crl", 6, "wrong-role"),
    "an Ed25519 observer, revoked": ("lee", "bank", "crl", 7, "revoked"),
    "checked against the wrong organisation's CA": ("sun", "roads", "none", 3, "wrong-issuer"),
    "a revoked member, far later": ("chen", "roads", "crl", 10**6, "revoked"),
}

_HIDDEN_FIELD_CASES: dict[str, tuple[str, str, bool]] = {
    "an honest field (vin, the last leaf)": ("honest", "vin", True),
    "an honest field (accident count, the first leaf)": ("honest", "accident_count", True),
    "a forged plate": ("forged", "licence_plate", False),
    "a doctored header, another field": ("doctored", "owner_name", False),
}

add_cases(
    "10.1",
    [Case(name, _cert_args(spec), expected=spec[4]) for name, spec in _HIDDEN_CERT_CASES.items()],
    hidden=True,
)

add_cases(
    "10.2",
    [Case(name, _wrap_args(name), verify=_opens(name)) for name in list(_WRAP_SPECS)[1:]],
    hidden=True,
)

add_cases(
    "10.3",
    [
        Case(f"random {seed}", _policy_args(f"random {seed}"),
             verify=_satisfies_like_the_library(f"random {seed}"))
        for seed in range(40)
    ],
    hidden=True,
)  # fmt: skip

add_cases(
    "10.4",
    [
        Case(name, _field_args(kind, field), expected=result)
        for name, (kind, field, result) in _HIDDEN_FIELD_CASES.items()
    ],
    hidden=True,
)
