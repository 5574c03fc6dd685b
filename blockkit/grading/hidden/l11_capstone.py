"""Hidden cases of lesson 11 (``blockkit.grading.catalog.l11_capstone``): run by ``blockkit grade``,
never by a student's ``check``, and left out of the student bundle (``blockkit hub bundle``)."""

from blockkit.grading.catalog.l11_capstone import (
    _ALL,
    _SEEDS,
    _acme,
    _audit_case,
    _bright,
    _decision_case,
    _evidence_case,
    _judge_people,
    _judge_refusals,
    _judge_reproducible,
    _judge_transacting,
    _judge_view,
    _licence_case,
    _setup_case,
)
from blockkit.grading.registry import add_cases

add_cases(
    "11.1",
    [
        _setup_case("the same seed gives the same keys", _judge_reproducible, seed=_SEEDS[1]),
        _setup_case("another seed: roles and channel", _judge_people, seed=_SEEDS[1]),
        _setup_case("another seed: transactions", _judge_transacting, seed=_SEEDS[1]),
    ],
    hidden=True,
)

add_cases(
    "11.2",
    [
        _evidence_case(
            "another seed, another company",
            (_acme("APP-777", bank={"capital": 250_000}),),
            seed=_SEEDS[1],
        ),
        _evidence_case("three applications", (_bright("APP-1"), _acme("APP-2"), _acme("APP-3"))),
    ],
    hidden=True,
)

add_cases(
    "11.3",
    [
        _decision_case(
            "after a refused application",
            ("bank-manager", "market-clerk", "tax-clerk"),
            True,
            before=(("market-clerk", "bank-clerk"),),
        ),
        _decision_case("a revoked bank clerk", _ALL, False, revoke="bank-clerk", seed=_SEEDS[1]),
        _decision_case(
            "a revoked bank clerk, and the manager approves",
            (*_ALL, "bank-manager"),
            True,
            revoke="bank-clerk",
        ),
        _decision_case(
            "everyone twice",
            (*_ALL, *_ALL),
            True,
            before=(_ALL,),
        ),
    ],
    hidden=True,
)

add_cases(
    "11.4",
    [
        _licence_case(
            "another company, another seed",
            _judge_refusals,
            _acme("APP-900", bank={"capital": 12_000_000}),
            seed=_SEEDS[1],
        ),
        _licence_case("the inspector's view", _judge_view("inspector")),
    ],
    hidden=True,
)

add_cases(
    "11.5",
    [
        _audit_case(
            "an approval by a member revoked before it approved", "clean", "revoked-approver"
        ),
        _audit_case("a leak and a deleted grant", "leak", "drop-grant"),
        _audit_case("a leak whose grant was deleted", "leak", "drop-read-grant"),
    ],
    hidden=True,
)
