"""Lesson 07, permissioned consensus: how many faults a committee survives, whose turn it is,
Raft's commit rule and PBFT's prepared certificate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from blockkit.grading.registry import Case, add_cases, define

# --- 07.1 how many faults ---------------------------------------------------------------------


def _tolerated(n: int, model: str) -> int:
    if not isinstance(n, int) or n < 1:
        raise ValueError("a committee has at least one member")
    if model == "crash":
        return (n - 1) // 2
    if model == "byzantine":
        return (n - 1) // 3
    raise ValueError(f"unknown fault model {model!r}")


def _committed_with_down(protocol: str, n: int, down: int, seed: int) -> int:
    """Blocks an honest node commits in 40 simulated seconds with ``down`` members faulty
    (crashed for Raft, silent — Byzantine, saying nothing — for PBFT)."""
    from blockkit.network import Network

    if protocol == "raft":
        net = Network("raft", nodes=n, seed=seed)
        for node in range(down):
            net.crash(node, at=0.0)
    else:
        net = Network("pbft", nodes=n, seed=seed, behaviours=dict.fromkeys(range(down), "silent"))
    net.run(until=40.0)
    return max(node.chain.height for node in net.nodes[down:])


def _survives(n: int, model: str) -> Any:
    """Judge a student's f by running the committee: f faulty must commit, f + 1 must not."""
    protocol = "raft" if model == "crash" else "pbft"

    def verify(f: Any) -> str | None:
        if not isinstance(f, int) or not 0 <= f < n:
            return f"expected a number of faulty members from 0 to {n - 1}, got {f!r}"
        with_f = _committed_with_down(protocol, n, f, seed=n)
        if with_f == 0:
            return (
                f"ran {protocol} with {n} members and {f} of them faulty: nothing was committed "
                f"in 40 s, so {n} members cannot survive {f} {model} faults"
            )
        if f + 1 < n and _committed_with_down(protocol, n, f + 1, seed=n) > 0:
            return (
                f"ran {protocol} with {n} members and {f + 1} faulty: it still committed, so "
                f"{f} is too cautious"
            )
        return None

    return verify


define(
    "07.1",
    "How many faults can a committee survive?",
    function="tolerated_faults",
    points=1,
    hint="crash faults need a majority of correct nodes: n >= 2f + 1, so f = (n - 1) // 2; "
    "Byzantine faults need n >= 3f + 1, so f = (n - 1) // 3; anything else: raise ValueError",
)
add_cases(
    "07.1",
    [
        *(
            Case(f"{n} nodes, {model} faults", (n, model), _tolerated(n, model))
            for model in ("crash", "byzantine")
            for n in (1, 3, 4, 5, 7, 10, 16)
        ),
        Case(
            "an unknown fault model",
            (4, "sleepy"),
            raises=ValueError,
            hint="only 'crash' and 'byzantine' are fault models; raise ValueError for the rest",
        ),
        Case("no nodes at all", (0, "crash"), raises=ValueError),
        Case(
            "run it: a Raft cluster of 5 with your f crashed, then f + 1",
            (5, "crash"),
            verify=_survives(5, "crash"),
        ),
        Case(
            "run it: PBFT with 7 replicas, your f silent, then f + 1",
            (7, "byzantine"),
            verify=_survives(7, "byzantine"),
        ),
    ],
)


# --- 07.2 whose turn in proof of authority ---------------------------------------------------


def _in_turn(authorities: Sequence[str], timestamp_ms: int, period_s: float) -> str:
    slot = timestamp_ms // round(period_s * 1000)
    return authorities[slot % len(authorities)]


_AUTHORITIES = ["tax-office", "land-registry", "central-bank", "customs"]

define(
    "07.2",
    "Whose turn is it?",
    function="in_turn",
    points=1,
    hint="time is cut into slots of period_s seconds: slot = timestamp_ms // (period_s * 1000) "
    "(in whole milliseconds); the authority in turn is authorities[slot % len(authorities)]",
)
add_cases(
    "07.2",
    [
        Case("the first slot", (_AUTHORITIES, 0, 5.0), _in_turn(_AUTHORITIES, 0, 5.0)),
        Case(
            "the last millisecond of slot 0",
            (_AUTHORITIES, 4_999, 5.0),
            _in_turn(_AUTHORITIES, 4_999, 5.0),
            hint="a slot runs from slot * period up to, not including, the next one",
        ),
        Case("slot 1", (_AUTHORITIES, 5_000, 5.0), _in_turn(_AUTHORITIES, 5_000, 5.0)),
        Case(
            "after a full rotation",
            (_AUTHORITIES, 21_000, 5.0),
            _in_turn(_AUTHORITIES, 21_000, 5.0),
            hint="after the last authority the turn wraps around to the first (use %)",
        ),
        Case(
            "timestamps are milliseconds, periods seconds",
            (_AUTHORITIES, 7_300, 2.5),
            _in_turn(_AUTHORITIES, 7_300, 2.5),
            hint="convert the period to milliseconds before dividing",
        ),
        Case("a single authority", (["solo"], 123_456, 1.0), "solo"),
    ],
)


# --- 07.3 Raft's commit rule ------------------------------------------------------------------


def _commit_index(
    match_index: Sequence[int], log_terms: Sequence[int], current_term: int, commit_index: int
) -> int:
    majority = len(match_index) // 2 + 1
    for n in range(len(log_terms), commit_index, -1):
        if log_terms[n - 1] == current_term and sum(m >= n for m in match_index) >= majority:
            return n
    return commit_index


def _raft_case(
    name: str,
    match_index: list[int],
    log_terms: list[int],
    term: int,
    commit: int,
    hint: str = "",
) -> Case:
    args = (match_index, log_terms, term, commit)
    return Case(name, args, _commit_index(*args), hint=hint)


define(
    "07.3",
    "Raft: advance the commit index",
    function="raft_commit_index",
    points=3,
    hint="try N from the end of the log down to commit_index + 1: N is committed when a majority "
    "of the match indexes (the leader's own included) are >= N AND log_terms[N - 1] == "
    "current_term; return the first such N, or commit_index when none",
)
add_cases(
    "07.3",
    [
        _raft_case("all replicated, current term", [3, 3, 3], [1, 1, 1], 1, 0),
        _raft_case(
            "a majority of three has entry 2",
            [3, 2, 1],
            [1, 1, 1],
            1,
            0,
            hint="count how many match indexes are >= N; a majority of 3 is 2",
        ),
        _raft_case("five nodes, three have entry 4", [5, 4, 4, 1, 0], [2, 2, 2, 2, 2], 2, 1),
        _raft_case(
            "only a minority has the new entries",
            [6, 6, 2, 2, 2],
            [1, 1, 2, 2, 2, 2],
            2,
            2,
            hint="a majority of 5 is 3: two copies are not enough, keep the old commit index",
        ),
        _raft_case(
            "an old-term entry on a majority is not committed by counting (Raft figure 8)",
            [3, 2, 2, 1, 1],
            [1, 2, 4],
            4,
            1,
            hint="only entries of the current term are committed by counting replicas "
            "(log_terms[N - 1] == current_term); older ones commit with them",
        ),
        _raft_case(
            "a current-term entry commits the older ones beneath it",
            [3, 3, 3, 1, 1],
            [1, 2, 4],
            4,
            1,
        ),
        _raft_case(
            "the commit index never moves back",
            [4, 1, 1],
            [1, 1, 1, 1],
            1,
            3,
            hint="return at least commit_index: committed entries stay committed",
        ),
        _raft_case("an even number of nodes", [4, 4, 2, 2], [3, 3, 3, 3], 3, 0),
    ],
)


# --- 07.4 PBFT: prepared ----------------------------------------------------------------------


def _prepared(
    prepares: Sequence[tuple[int, int, str]], view: int, digest: str, f: int, primary: int
) -> bool:
    voters = {
        replica for replica, v, d in prepares if v == view and d == digest and replica != primary
    }
    return len(voters) >= 2 * f


define(
    "07.4",
    "PBFT: is the request prepared?",
    function="pbft_prepared",
    points=3,
    hint="count DISTINCT replicas whose prepare is for this view and this digest, leaving out the "
    "primary (its pre-prepare is its vote); prepared when that count is at least 2 * f",
)
_P = [(1, 0, "aa"), (2, 0, "aa"), (3, 0, "aa")]
add_cases(
    "07.4",
    [
        Case("three backups agree, f = 1", (_P, 0, "aa", 1, 0), True),
        Case("only one backup so far", (_P[:1], 0, "aa", 1, 0), False),
        Case("two backups are enough for f = 1", (_P[:2], 0, "aa", 1, 0), True),
        Case(
            "one backup voting twice",
            ([(1, 0, "aa"), (1, 0, "aa")], 0, "aa", 1, 0),
            False,
            hint="a Byzantine replica can repeat its vote: count replicas, not messages",
        ),
        Case(
            "votes for another digest",
            ([(1, 0, "aa"), (2, 0, "bb")], 0, "aa", 1, 0),
            False,
            hint="only prepares for this exact digest count",
        ),
        Case(
            "votes from an old view",
            ([(1, 0, "aa"), (2, 1, "aa")], 1, "aa", 1, 0),
            False,
            hint="only prepares for this view count",
        ),
        Case(
            "the primary's own prepare",
            ([(0, 0, "aa"), (1, 0, "aa")], 0, "aa", 1, 0),
            False,
            hint="the primary does not prepare: a prepare claiming to be from it is not a vote",
        ),
        Case(
            "f = 2 needs four backups",
            ([(i, 3, "cc") for i in (1, 2, 4, 5)], 3, "cc", 2, 3),
            True,
        ),
        Case(
            "f = 2 with three backups",
            ([(i, 3, "cc") for i in (1, 2, 4)], 3, "cc", 2, 3),
            False,
        ),
    ],
)
