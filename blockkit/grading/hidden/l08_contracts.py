"""Hidden cases of lesson 08 (``blockkit.grading.catalog.l08_contracts``): run by
``blockkit grade``, never by a student's ``check``, and left out of the student bundle
(``blockkit hub bundle``)."""

from blockkit.grading.catalog.l08_contracts import (
    _args,
    _bank_trace,
    _block,
    _counts_up_to,
    _failures,
    _honest,
    _loops,
    _per_line,
    _resists,
    _two_counters,
)
from blockkit.grading.registry import Case, add_cases

add_cases(
    "08.1",
    [
        Case("cap 7", (), verify=_counts_up_to(7, 9)),
        Case("two counters, two counts", (), verify=_two_counters),
    ],
    hidden=True,
)

add_cases(
    "08.2",
    [
        Case(
            "a withdrawal with a nested call",
            _args(_bank_trace),
            verify=_per_line(_bank_trace),
        ),
        Case(
            "store(20), 100,000 gas",
            _args(_loops("store", 20, gas_limit=100_000)),
            verify=_per_line(_loops("store", 20, gas_limit=100_000)),
        ),
    ],
    hidden=True,
)

add_cases(
    "08.3",
    [
        Case(
            "withdrawals in three parts, two savers",
            (),
            verify=_honest({"alice": 50, "bob": 9}, [("alice", 5), ("bob", 9), ("alice", 45)]),
        ),
        Case("a big attack on a rich bank", (), verify=_resists(100, 1_000)),
    ],
    hidden=True,
)
add_cases(
    "08.4",
    [
        Case(name, (lambda plan=plan: _block(plan)), verify=_failures(plan))
        for name, plan in {
            "plain payments and a failure": (
                ("bob", "pay", 3), ("carol", "pay", 9), ("carol", "reset", 6_000),
            ),
            "everyone fails": (
                ("alice", "spin", 1_000), ("bob", "reset", 5_000), ("carol", "nothing", 800),
            ),
        }.items()
    ],
    hidden=True,
)  # fmt: skip
