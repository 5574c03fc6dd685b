"""Hidden cases of lesson 09 (``blockkit.grading.catalog.l09_tokens``): run by ``blockkit grade``,
never by a student's ``check``, and left out of the student bundle (``blockkit hub bundle``)."""

from blockkit.grading.catalog.l09_tokens import (
    _UNKNOWN,
    _UNTRUSTED,
    _VALID,
    _balances_match,
    _certificate_args,
    _diploma_case,
    _events_args,
    _judge_any_issuer,
    _soulbound,
    _view_of,
)
from blockkit.grading.registry import Case, add_cases

add_cases(
    "09.1",
    [
        Case(
            f"random {seed}",
            _events_args(f"random {seed}"),
            verify=_balances_match(f"random {seed}"),
        )
        for seed in (9, 2026)
    ],
    hidden=True,
)

add_cases(
    "09.2",
    [
        Case(
            "any issuer of the collection may correct",
            _certificate_args,
            verify=_soulbound(_judge_any_issuer),
        )
    ],
    hidden=True,
)

add_cases(
    "09.3",
    [
        _diploma_case("an int token id", "real", 2026001, "graduate", _VALID),
        _diploma_case("an unknown id on a look-alike", "fake", "BKU-2", "mill", _UNKNOWN),
        _diploma_case("nobody trusted", "real", "BKU-1", "graduate", _UNTRUSTED, trusted=()),
    ],
    hidden=True,
)

add_cases(
    "09.4",
    [
        Case(f"an empty record, as the {party}", verify=_view_of(party, filled=False))
        for party in ("patient", "pharmacy", "stranger")
    ],
    hidden=True,
)
