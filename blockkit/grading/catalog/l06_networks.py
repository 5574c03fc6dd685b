"""Lesson 06, forks, networks and attacks: the stale rate of a real run, Nakamoto's double-spend
probability, how many confirmations to wait, and the selfish miner's moves."""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING, Any

from blockkit.grading.registry import Case, add_cases, define

if TYPE_CHECKING:
    import pandas as pd

# --- 06.1 the stale rate of a run -------------------------------------------------------------


def _stale_rate(blocks: pd.DataFrame) -> float:
    if len(blocks) == 0:
        return 0.0
    tip = blocks.sort_values(["height", "created"], ascending=[False, True]).iloc[0]
    parents = dict(zip(blocks["hash"], blocks["parent"], strict=True))
    main = set()
    cursor = tip["hash"]
    while cursor in parents:
        main.add(cursor)
        cursor = parents[cursor]
    return 1 - len(main) / len(blocks)


@cache
def _run_table(latency: float, interval: float, seed: int, blocks: int) -> pd.DataFrame:
    """The blocks table of a real proof-of-work run, without the answer column ``main``."""
    from blockkit.network import Network

    network = Network("pow", nodes=12, seed=seed, latency=latency, block_interval=interval)
    network.run(blocks=blocks)
    table = network.blocks_df()
    return table[["height", "hash", "parent", "producer", "created"]].copy()


def _table(rows: list[tuple[int, str, str, float]]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=["height", "hash", "parent", "created"])


def _rate_is(expected: float) -> Any:
    def verify(result: Any) -> str | None:
        if not isinstance(result, float) or not math.isclose(result, expected, abs_tol=1e-9):
            return f"expected {expected!r} (a float), got {result!r}"
        return None

    return verify


def _run_case(name: str, latency: float, interval: float, seed: int) -> Case:
    def args() -> tuple[Any, ...]:
        return (_run_table(latency, interval, seed, 40).copy(),)

    def verify(result: Any) -> str | None:
        return _rate_is(_stale_rate(_run_table(latency, interval, seed, 40)))(result)

    return Case(name, args, verify=verify)


define(
    "06.1",
    "The stale rate of a run",
    function="stale_rate",
    points=2,
    hint="the main chain ends at the highest block (on a tie, the one created first); follow "
    "parent links from it back to the start; stale = blocks not on that path; return "
    "stale / all blocks as a float (0.0 for an empty table)",
)
add_cases(
    "06.1",
    [
        Case("no blocks", (_table([]),), verify=_rate_is(0.0)),
        Case(
            "a straight chain",
            (_table([(1, "a", "g", 1.0), (2, "b", "a", 2.0), (3, "c", "b", 3.0)]),),
            verify=_rate_is(0.0),
        ),
        Case(
            "one stale block",
            (_table([(1, "a", "g", 1.0), (1, "x", "g", 1.1), (2, "b", "a", 2.0)]),),
            verify=_rate_is(1 / 3),
            hint="the stale block is the one whose branch stopped: not an ancestor of the tip",
        ),
        Case(
            "a tie at the top: the first created wins",
            (_table([(1, "a", "g", 1.0), (1, "x", "g", 1.5)]),),
            verify=_rate_is(0.5),
            hint="two tips of the same height: take the one with the smaller 'created'",
        ),
        Case(
            "a stale branch two blocks long",
            (
                _table(
                    [
                        (1, "a", "g", 1.0),
                        (2, "x", "a", 2.0),
                        (3, "y", "x", 3.0),
                        (2, "b", "a", 2.1),
                        (3, "c", "b", 3.1),
                        (4, "d", "c", 4.0),
                    ]
                ),
            ),
            verify=_rate_is(2 / 6),
            hint="a branch of two blocks can be stale too: only the tip's ancestors count",
        ),
        _run_case("a real run: fast links", 0.05, 10.0, 1),
        _run_case("a real run: slow links", 2.0, 5.0, 2),
    ],
)


# --- 06.2 Nakamoto's double-spend probability -------------------------------------------------


def _nakamoto(q: float, z: int) -> float:
    p = 1.0 - q
    if q >= p:
        return 1.0
    lam = z * q / p
    total = 1.0
    poisson = math.exp(-lam)
    for k in range(z + 1):
        if k > 0:
            poisson *= lam / k
        total -= poisson * (1 - (q / p) ** (z - k))
    return total


def _close_to(expected: float) -> Any:
    def verify(result: Any) -> str | None:
        number = isinstance(result, int | float) and not isinstance(result, bool)
        if not number or not math.isclose(result, expected, abs_tol=1e-7):
            return f"expected about {expected:.7f}, got {result!r}"
        return None

    return verify


define(
    "06.2",
    "Nakamoto's double-spend probability",
    function="nakamoto_probability",
    points=2,
    hint="p = 1 - q; if q >= p return 1.0; lam = z * q / p; start from 1.0 and for k = 0 .. z "
    "subtract poisson(k) * (1 - (q / p) ** (z - k)) where poisson(k) = lam**k * exp(-lam) / k!",
)
add_cases(
    "06.2",
    [
        *(
            Case(f"q = {q}, z = {z} (the whitepaper's table)", (q, z), verify=_close_to(value))
            for q, z, value in [
                (0.1, 0, 1.0),
                (0.1, 1, 0.2045873),
                (0.1, 2, 0.0509779),
                (0.1, 5, 0.0009137),
                (0.3, 5, 0.1773523),
                (0.3, 10, 0.0416605),
            ]
        ),
        Case(
            "an attacker with half the hash power",
            (0.5, 6),
            verify=_close_to(1.0),
            hint="with q >= p the attacker catches up eventually: return 1.0",
        ),
        Case("a majority attacker", (0.6, 100), verify=_close_to(1.0)),
        Case("no attacker hash power", (0.0, 3), verify=_close_to(0.0)),
    ],
)


# --- 06.3 how many confirmations ---------------------------------------------------------------


def _confirmations(q: float, risk: float) -> int:
    if not 0 <= q < 0.5:
        raise ValueError("no number of confirmations stops an attacker with half the hash power")
    z = 0
    while _nakamoto(q, z) >= risk:
        z += 1
    return z


def _attacks_fail(q: float, z: Any, risk: float) -> str | None:
    """Run 200 double-spend attacks against a merchant waiting ``z`` confirmations; the attacker
    may win at most ``risk`` plus two percentage points of them (sampling noise)."""
    if not isinstance(z, int) or isinstance(z, bool) or not 0 <= z <= 50:
        return f"expected a number of confirmations from 0 to 50, got {z!r}"
    from blockkit.network.pow import double_spend_experiment

    won = double_spend_experiment(q, z, trials=200, seed=6).iloc[0]["measured"]
    if won > risk + 0.02:
        return (
            f"waiting {z} confirmations, the attacker (q = {q}) won {won:.1%} of 200 simulated "
            f"attacks: far above the {risk:.0%} risk; wait for more"
        )
    return None


define(
    "06.3",
    "How many confirmations to wait",
    function="confirmations_for",
    points=2,
    hint="start at z = 0 and count up until nakamoto_probability(q, z) < risk; raise ValueError "
    "when q >= 0.5 (no z is ever enough)",
)
add_cases(
    "06.3",
    [
        *(
            Case(f"q = {q}, risk {risk}", (q, risk), _confirmations(q, risk))
            for q, risk in [(0.1, 0.001), (0.3, 0.001), (0.1, 0.05), (0.25, 0.01), (0.45, 0.1)]
        ),
        Case(
            "any risk is above 0 with no attacker",
            (0.0, 0.5),
            _confirmations(0.0, 0.5),
            hint="with q = 0 the probability is 0 after z = 0 confirmations",
        ),
        Case(
            "an attacker with half the hash power",
            (0.5, 0.01),
            raises=ValueError,
            hint="when q >= 0.5 the attacker always catches up: raise ValueError",
        ),
        Case(
            "run it: 200 simulated attacks (q = 0.1) on a merchant waiting your z for risk 1%",
            (0.1, 0.01),
            verify=lambda z: _attacks_fail(0.1, z, 0.01),
        ),
    ],
)


# --- 06.4 the selfish miner's move -------------------------------------------------------------


def _selfish(lead: int, event: str, racing: bool) -> str:
    if event == "pool":
        return "publish-all" if racing and lead == 0 else "hide"
    if event != "others":
        raise ValueError(f"unknown event {event!r}")
    if lead == 0:
        return "adopt"
    if lead == 1:
        return "match"
    if lead == 2:
        return "publish-all"
    return "publish-one"


define(
    "06.4",
    "The selfish miner's move",
    function="selfish_move",
    points=3,
    hint="(Eyal & Sirer, algorithm 1) lead = private blocks ahead of the public chain before the "
    "event. The pool found a block: 'publish-all' only when racing with lead 0, else 'hide'. "
    "Others found one: lead 0 'adopt', lead 1 'match', lead 2 'publish-all', more 'publish-one'",
)
add_cases(
    "06.4",
    [
        *(
            Case(
                f"lead {lead}, {event} found a block{', racing' if racing else ''}",
                (lead, event, racing),
                _selfish(lead, event, racing),
            )
            for lead, event, racing in [
                (0, "pool", False),
                (3, "pool", False),
                (0, "pool", True),
                (0, "others", False),
                (0, "others", True),
                (1, "others", False),
                (2, "others", False),
                (5, "others", False),
            ]
        ),
        Case("an unknown event", (1, "weather", False), raises=ValueError),
    ],
)


# --- 06.5 the selfish-mining lab ---------------------------------------------------------------


@cache
def _selfish_share(alpha: float, fast_links: bool, seed: int) -> float:
    from blockkit.network.pow import selfish_mining_run

    net = selfish_mining_run(alpha, fast_links=fast_links, seed=seed, blocks=300)
    blocks = net.blocks_df()
    return float((blocks[blocks["main"]]["producer"] == 0).mean())


def _lab_case(alpha: float, fast_links: bool, seed: int, pays: bool, hint: str) -> Case:
    links = "fast links" if fast_links else "ordinary gossip links"

    def verify(result: Any) -> str | None:
        expected = _selfish_share(alpha, fast_links, seed)
        if not isinstance(result, float) or not math.isclose(result, expected, abs_tol=1e-9):
            return (
                f"the run measures {expected:.4f} for node 0 (the selfish miner's rule from "
                f"06.4, correct), you returned {result!r}"
            )
        if (result > alpha) != pays:  # the measured invariant the lab is about
            return f"measured {result:.3f} against alpha {alpha}: expected selfish mining to " + (
                "pay" if pays else "not pay"
            )
        return None

    return Case(f"alpha {alpha} with {links}, seed {seed}", (alpha, fast_links, seed),
                verify=verify, hint=hint)  # fmt: skip


define(
    "06.5",
    "The selfish-mining lab",
    function="selfish_share",
    points=2,
    hint="net = selfish_mining_run(alpha, fast_links=fast_links, seed=seed, blocks=300, "
    "policy=selfish_move); blocks = net.blocks_df(); keep the rows where blocks['main'] is True; "
    "return the share of them whose producer is 0, as a float",
)
add_cases(
    "06.5",
    [
        _lab_case(
            0.4,
            True,
            1,
            pays=True,
            hint="with 40% of the hash power and fast links the selfish miner should hold well "
            "over 40% of the main chain; if not, check selfish_move (06.4) first",
        ),
        _lab_case(
            0.3,
            True,
            3,
            pays=True,
            hint="above the threshold (with fast links about 0.1) selfish mining pays: count only "
            "main-chain blocks, stale ones earn nothing",
        ),
        _lab_case(
            0.1,
            False,
            2,
            pays=False,
            hint="with 10% and ordinary links selfish mining should not pay: below 10%",
        ),
    ],
)
