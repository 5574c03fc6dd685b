"""Each exercise's cases catch the mistakes students actually make, and say which case failed.

(The solution notebooks' own answers passing every case is tested in test_grading.py.)
"""

from __future__ import annotations

import hashlib
import itertools

import pytest
from helpers import fails as _fails

from blockkit.contracts.standard import CERTIFICATE
from blockkit.errors import Revert
from blockkit.grading import run_cases
from blockkit.grading.catalog.l08_contracts import _BANK, _SAFE_BANK
from blockkit.grading.catalog.l09_tokens import patient_record_source, replace_method
from blockkit.hashing import sha256, tagged_hash

# --- 00 ----------------------------------------------------------------------------------------


def test_00_wrong_answers():
    _fails("00.1", lambda d: "".join(bin(b)[2:] for b in d), "one zero byte")  # drops zeros
    _fails("00.2", lambda d: len(d) * 8 - len(bin(int.from_bytes(d, "big"))[2:]), "no bytes")
    _fails("00.3", lambda d, n: hashlib.sha256(d).digest()[0] == 0, "exactly enough")
    _fails("00.3", lambda d, n: (256 - int.from_bytes(d, "big").bit_length()) > n)


# --- 01 ----------------------------------------------------------------------------------------


def test_01_wrong_answers():
    _fails("01.1", lambda t: hashlib.sha256(t.encode("latin-1", "replace")).hexdigest(),
           "non-ASCII text")  # fmt: skip
    _fails(
        "01.1", lambda t: hashlib.sha256(t.encode()).digest(), "'abc' (the FIPS 180 test vector)"
    )
    _fails("01.2", lambda a, b: sum(x != y for x, y in zip(a, b, strict=False)), "all bits differ")
    _fails("01.2", lambda a, b: bin(int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).count("1"),
           "different lengths")  # fmt: skip

    def chain_without_previous(entries):
        return [hashlib.sha256(e.encode()).hexdigest() for e in entries]

    _fails("01.3", chain_without_previous, "one entry")

    def first_nonce_that_is_not_smallest(challenge, bits):
        nonce = 1
        while (
            256
            - int.from_bytes(
                hashlib.sha256(f"{challenge}:{nonce}".encode()).digest(), "big"
            ).bit_length()
            < bits
        ):
            nonce += 1
        return nonce

    _fails("01.4", first_nonce_that_is_not_smallest, "no work at all")

    def counts_zero_bytes(challenge, bits):
        nonce = 0
        while (
            not hashlib.sha256(f"{challenge}:{nonce}".encode())
            .digest()
            .startswith(bytes(bits // 8))
        ):
            nonce += 1
        return nonce

    _fails("01.4", counts_zero_bytes, "4 zero bits")


# --- 02 ----------------------------------------------------------------------------------------


def test_02_wrong_answers():
    _fails("02.1", lambda key, text: key.sign(sha256(text.encode())), "alice signs a payment")
    _fails("02.1", lambda key, text: key.sign(text.encode("utf-16")))

    def verify_raises(public_key, text, signature):
        public_key.verify(signature, text.encode())
        return True

    result = _fails("02.2", verify_raises, "an altered message")
    assert "InvalidSignature" in result.verdict()
    _fails("02.2", lambda k, t, s: len(s) == 64, "one signature bit flipped")

    _fails("02.3", lambda suite, data: tagged_hash(b"blockkit/address", suite.encode() + data)[:20],
           "a p256 key")  # fmt: skip
    _fails("02.3", lambda suite, data: sha256(data)[:20])
    _fails("02.3", lambda suite, data: tagged_hash(b"blockkit/address", suite.encode() + b"\x00"
                                                    + data), "20 bytes, not 32")  # fmt: skip

    def no_replay_check(public_key, payments):
        return [public_key.is_valid_signature(s, f"{n}:{t}".encode()) for n, t, s in payments]

    _fails("02.4", no_replay_check, "a replayed payment")

    def nonce_moves_on_refusal(public_key, payments):
        expected, out = 0, []
        for n, t, s in payments:
            out.append(n == expected and public_key.is_valid_signature(s, f"{n}:{t}".encode()))
            expected += 1
        return out

    _fails("02.4", nonce_moves_on_refusal, "a forged text reusing a signature")


@pytest.mark.parametrize("exercise_id", ["02.2"])
def test_a_crashing_check_is_reported_not_raised(exercise_id):
    result = run_cases(exercise_id, lambda *a: 1 / 0)
    assert all("ZeroDivisionError" in f.problem for f in result.failures)


# --- 03 ----------------------------------------------------------------------------------------


def _h(data):
    return hashlib.sha256(data).digest()


def _root(leaves, duplicate_odd=False, count=True, prefixes=True):
    if not leaves:
        return _h(b"")
    leaf = (lambda d: _h(b"\x00" + d)) if prefixes else _h
    node = (lambda a, b: _h(b"\x01" + a + b)) if prefixes else (lambda a, b: _h(a + b))
    level = [leaf(x) for x in leaves]
    while len(level) > 1:
        if len(level) % 2 and duplicate_odd:
            level.append(level[-1])
        parents = [node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            parents.append(level[-1])
        level = parents
    return _h(b"\x02" + len(leaves).to_bytes(8, "big") + level[0]) if count else level[0]


def test_03_wrong_answers():
    _fails("03.1", lambda d: _h(d), "a transaction")
    _fails("03.1", lambda d: _h(b"\x00" + d).hex())
    _fails("03.2", lambda leaves: _root(leaves, duplicate_odd=True), "three leaves (an odd level)")
    _fails("03.2", lambda leaves: _root(leaves, count=False), "one leaf")
    _fails("03.2", lambda leaves: _root(leaves, prefixes=False), "one leaf")
    _fails("03.2", lambda leaves: _root(sorted(leaves)), "order matters")

    def ignores_leftovers(root, leaf, proof):
        node, index, count = _h(b"\x00" + leaf), proof.index, proof.leaf_count
        siblings = list(proof.siblings)
        while count > 1:
            if not (index % 2 == 0 and index == count - 1):
                sibling = siblings.pop(0)
                pair = sibling + node if index % 2 else node + sibling
                node = _h(b"\x01" + pair)
            index, count = index // 2, (count + 1) // 2
        return _h(b"\x02" + proof.leaf_count.to_bytes(8, "big") + node) == root

    _fails("03.3", ignores_leftovers, "a proof with an extra sibling")

    def always_left(root, leaf, proof):
        node = _h(b"\x00" + leaf)
        for sibling in proof.siblings:
            node = _h(b"\x01" + node + sibling)
        return _h(b"\x02" + proof.leaf_count.to_bytes(8, "big") + node) == root

    _fails("03.3", always_left, "leaf 2 of 3")


# --- 04 ----------------------------------------------------------------------------------------


def _pay(balances, nonces, payment, *, check_nonce=True, fee_counts=True, mutate=False):
    sender, recipient, value, fee, nonce = payment
    if check_nonce and nonce != nonces.get(sender, 0):
        raise ValueError("nonce")
    if balances.get(sender, 0) < value + (fee if fee_counts else 0):
        raise ValueError("funds")
    if not mutate:
        balances, nonces = dict(balances), dict(nonces)
    balances[sender] -= value + fee
    balances[recipient] = balances.get(recipient, 0) + value
    nonces[sender] = nonce + 1
    return balances, nonces


def test_04_wrong_answers():
    _fails("04.1", lambda b, n, p: _pay(b, n, p, check_nonce=False), "a reused nonce (replay)")
    _fails("04.1", lambda b, n, p: _pay(b, n, p, fee_counts=False), "value plus fee too high")
    _fails("04.1", lambda b, n, p: list(_pay(b, n, p)), "a simple payment")

    def all_fees(balances, nonces, payments, proposer, reward):
        rejected = []
        for i, p in enumerate(payments):
            try:
                balances, nonces = _pay(balances, nonces, p)
            except ValueError:
                rejected.append(i)
        balances = dict(balances)
        balances[proposer] = balances.get(proposer, 0) + reward + sum(p[3] for p in payments)
        return balances, nonces, rejected

    _fails("04.2", all_fees, "a double spend (same nonce twice)")

    def stops_at_first_refusal(balances, nonces, payments, proposer, reward):
        for p in payments:
            balances, nonces = _pay(balances, nonces, p)
        balances[proposer] = balances.get(proposer, 0) + reward
        return balances, nonces, []

    _fails("04.2", stops_at_first_refusal)

    from blockkit.encoding import encode
    from blockkit.merkle import merkle_root

    def unsorted(accounts):
        return merkle_root([encode([a, *v]) for a, v in accounts.items() if v != (0, 0)])

    _fails("04.3", unsorted, "three accounts, given unsorted")

    def keeps_empty(accounts):
        return merkle_root([encode([a, *accounts[a]]) for a in sorted(accounts)])

    _fails("04.3", keeps_empty, "an empty account is left out")

    def no_nonce(accounts):
        return merkle_root([encode([a, accounts[a][0]]) for a in sorted(accounts)])

    _fails("04.3", no_nonce)

    from blockkit.merkle import verify_inclusion

    def ignores_nonce(root, address, balance, nonce, proof):
        return any(verify_inclusion(root, encode([bytes(address), balance, n]), proof)
                   for n in range(5))  # fmt: skip

    _fails("04.4", ignores_nonce, "alice claims an old nonce")
    _fails("04.4", lambda root, address, balance, nonce, proof: True, "alice claims 1,000,000")


# --- 05 ----------------------------------------------------------------------------------------


def test_05_wrong_answers():
    from dataclasses import replace

    from blockkit.errors import InvalidBlock
    from blockkit.hashing import meets_target, work_from_target

    _fails("05.1", lambda parent, header: header.parent == parent.hash,
           "the right parent hash but a wrong height")  # fmt: skip
    _fails("05.1", lambda parent, header: header.height == parent.height + 1,
           "the right height but another parent")  # fmt: skip

    def starts_at_one(header, max_attempts):
        for nonce in range(1, max_attempts):
            if meets_target(replace(header, nonce=nonce).hash, header.target):
                return nonce
        return None

    _fails("05.2", starts_at_one)

    def never_gives_up(header, max_attempts):
        nonce = 0
        while not meets_target(replace(header, nonce=nonce).hash, header.target):
            nonce += 1
            if nonce > 10 * max_attempts:  # (bounded here so the test ends)
                return nonce
        return nonce

    _fails("05.2", never_gives_up, "too few attempts")

    def orphans_are_fine(chain, blocks):
        for block in blocks:
            try:
                chain.add_block(block)
            except InvalidBlock as error:
                return error.reason
            except Exception:
                return None
        return None

    _fails("05.3", orphans_are_fine, "blocks out of order")
    _fails("05.3", lambda chain, blocks: None, "a nonce that is not a solution")

    _fails("05.4", lambda branches: max(range(len(branches)), key=lambda i: len(branches[i])),
           "shorter but harder wins")  # fmt: skip

    def last_on_tie(branches):
        weights = [sum(work_from_target(h.target) for h in b) for b in branches]
        return max(i for i, w in enumerate(weights) if w == max(weights))

    _fails("05.4", last_on_tie, "a tie keeps the first seen")


# --- 06 ----------------------------------------------------------------------------------------


def test_06_wrong_answers():
    import math

    def tips_minus_one(blocks):  # a stale branch longer than one block counts once
        tips = set(blocks["hash"]) - set(blocks["parent"])
        return (len(tips) - 1) / len(blocks) if len(blocks) else 0.0

    def returns_a_count(blocks):
        return float(blocks["height"].duplicated().sum())

    _fails("06.1", tips_minus_one, "a stale branch two blocks long")
    _fails("06.1", returns_a_count, "one stale block")

    def nakamoto_without_the_guard(q, z):
        p = 1 - q
        lam = z * q / p
        return 1 - sum(
            lam**k * math.exp(-lam) / math.factorial(k) * (1 - (q / p) ** (z - k))
            for k in range(z + 1)
        )

    def lambda_without_p(q, z):
        p = 1 - q
        if q >= p:
            return 1.0
        lam = z * q
        return 1 - sum(
            lam**k * math.exp(-lam) / math.factorial(k) * (1 - (q / p) ** (z - k))
            for k in range(z + 1)
        )

    _fails("06.2", nakamoto_without_the_guard, "a majority attacker")
    _fails("06.2", lambda_without_p, "q = 0.1, z = 1 (the whitepaper's table)")

    from blockkit.grading.catalog.l06_networks import _nakamoto

    def at_most_risk(q, risk):  # stops at <= instead of <, and never refuses
        z = 0
        while _nakamoto(q, z) > risk and z < 1000:
            z += 1
        return z

    _fails("06.3", at_most_risk, "an attacker with half the hash power")

    from blockkit.grading.catalog.l06_networks import _confirmations

    def too_few_at_one_percent(q, risk):  # right everywhere the table looks, not in the run
        return 1 if (q, risk) == (0.1, 0.01) else _confirmations(q, risk)

    lab = "run it: 200 simulated attacks (q = 0.1) on a merchant waiting your z for risk 1%"
    result = _fails("06.3", too_few_at_one_percent, lab)
    assert "won" in result.verdict() and "wait for more" in result.verdict()

    def always_publishes(lead, event, racing):
        if event not in ("pool", "others"):
            raise ValueError(event)
        return "publish-all"

    def never_races(lead, event, racing):
        if event == "pool":
            return "hide"
        if event != "others":
            raise ValueError(event)
        return {0: "adopt", 1: "match", 2: "publish-all"}.get(lead, "publish-one")

    _fails("06.4", always_publishes, "lead 0, pool found a block")
    _fails("06.4", never_races, "lead 0, pool found a block, racing")

    from blockkit.network.pow import selfish_mining_run

    def counts_every_block(alpha, fast_links, seed):  # stale blocks are not revenue
        net = selfish_mining_run(alpha, fast_links=fast_links, seed=seed, blocks=300)
        return float((net.blocks_df()["producer"] == 0).mean())

    def made_up(alpha, fast_links, seed):  # satisfies the invariant without running anything
        return alpha + 0.05 if fast_links else alpha - 0.05

    _fails("06.5", counts_every_block, "alpha 0.4 with fast links, seed 1")
    _fails("06.5", made_up, "alpha 0.4 with fast links, seed 1")
    honest = _fails("06.5", lambda a, f, s: float(a), "alpha 0.4 with fast links, seed 1")
    assert "the run measures" in honest.verdict()


# --- 07 ----------------------------------------------------------------------------------------


def test_07_wrong_answers():
    _fails("07.1", lambda n, model: (n - 1) // 3, "3 nodes, crash faults")
    _fails("07.1", lambda n, model: n // 3 if model == "byzantine" else (n - 1) // 2,
           "3 nodes, byzantine faults")  # fmt: skip
    _fails("07.2", lambda names, ts, period: names[int(ts // period) % len(names)],
           "the last millisecond of slot 0")  # fmt: skip
    _fails("07.2", lambda names, ts, period: names[ts // round(period * 1000)],
           "after a full rotation")  # fmt: skip

    def counts_old_terms(match_index, log_terms, term, commit):
        majority = len(match_index) // 2 + 1
        for n in range(len(log_terms), commit, -1):
            if sum(m >= n for m in match_index) >= majority:
                return n
        return commit

    def strict_majority_of_others(match_index, log_terms, term, commit):
        others = match_index[1:]
        for n in range(len(log_terms), commit, -1):
            if log_terms[n - 1] == term and sum(m >= n for m in others) > len(others) // 2:
                return n
        return commit

    figure_8 = "an old-term entry on a majority is not committed by counting (Raft figure 8)"
    _fails("07.3", counts_old_terms, figure_8)
    _fails("07.3", strict_majority_of_others, "a majority of three has entry 2")

    def counts_messages(prepares, view, digest, f, primary):
        return sum(v == view and d == digest for _, v, d in prepares) >= 2 * f

    def counts_the_primary(prepares, view, digest, f, primary):
        return len({r for r, v, d in prepares if v == view and d == digest}) >= 2 * f

    _fails("07.4", counts_messages, "one backup voting twice")
    _fails("07.4", counts_the_primary, "the primary's own prepare")


# --- 08 ----------------------------------------------------------------------------------------


COUNTER = """
class CappedCounter:
    def __init__(self, cap: int):
        self.cap = cap
        self.count = 0

    def increment(self):
        {body}
"""


def _counter(body: str) -> str:
    return COUNTER.format(body="\n        ".join(body.strip().splitlines()))


def test_08_wrong_answers():
    # 08.1: off by one, an if instead of require, a hard-coded cap, a broken contract
    off_by_one = _counter(
        'require(self.count <= self.cap, "full")\nself.count += 1\nreturn self.count'
    )
    _fails("08.1", lambda: off_by_one, "cap 3: the 4th and 5th increments are reverted")
    quiet_if = _counter("if self.count < self.cap:\n    self.count += 1\nreturn self.count")
    _fails("08.1", lambda: quiet_if, "cap 3: the 4th and 5th increments are reverted")
    hard_coded = _counter('require(self.count < 3, "full")\nself.count += 1\nreturn self.count')
    _fails("08.1", lambda: hard_coded, "cap 1")
    add_then_check = _counter(
        'self.count += 1\nrequire(self.count < self.cap, "full")\nreturn self.count'
    )
    _fails("08.1", lambda: add_then_check, "cap 3: three increments count 1, 2, 3")
    no_return = _counter('require(self.count < self.cap, "full")\nself.count += 1')
    _fails("08.1", lambda: no_return, "cap 3: three increments count 1, 2, 3")
    result = _fails("08.1", lambda: off_by_one.replace("require", "assert"), "cap 1")
    assert "does not compile" in result.verdict()

    # 08.2: the first row forgotten, gas_left instead of its drop, rows counted, cost misplaced
    def skips_first_row(trace, gas_limit):
        spent = {}
        for before, step in itertools.pairwise(trace):
            spent[step.line] = spent.get(step.line, 0) + before.gas_left - step.gas_left
        return spent

    def gas_left_per_line(trace, gas_limit):
        return {step.line: step.gas_left for step in trace}

    def rows_per_line(trace, gas_limit):
        spent = {}
        for step in trace:
            spent[step.line] = spent.get(step.line, 0) + 1
        return spent

    def charged_to_previous_line(trace, gas_limit):
        spent, before, line = {}, gas_limit, trace[0].line
        for step in trace:
            spent[line] = spent.get(line, 0) + before - step.gas_left
            before, line = step.gas_left, step.line
        return spent

    _fails("08.2", skips_first_row, "compute(3): a loop over locals")
    _fails("08.2", gas_left_per_line, "store(3): storage in a loop")
    _fails("08.2", rows_per_line, "guarded(5) by a stranger: reverted")
    _fails("08.2", charged_to_previous_line, "store(3): storage in a loop")

    # 08.3: the lesson's bank, a lock never released, contracts shut out, transfer for call
    _fails("08.3", lambda: _BANK, "an attacker re-entering withdraw gains nothing")
    stuck_lock = _BANK.replace(
        "    def withdraw(self, amount: int):\n",
        '    def withdraw(self, amount: int):\n        require(not self.busy, "busy")\n'
        "        self.busy = True\n",
    )
    assert stuck_lock != _BANK
    _fails("08.3", lambda: stuck_lock, "two withdrawals in a row")
    no_contracts = _SAFE_BANK.replace(
        '        require(value > 0, "send some coins to deposit")\n',
        '        require(value > 0, "send some coins to deposit")\n'
        '        require(caller == origin, "no contracts")\n',
    )
    assert no_contracts != _SAFE_BANK
    _fails("08.3", lambda: no_contracts, "alice saves 30 and takes 10, bob saves 45 and takes 45")
    plain_transfer = _BANK.replace(
        'call(caller, "on_withdraw", amount, value=amount)', "transfer(caller, amount)"
    )
    _fails("08.3", lambda: plain_transfer, "alice saves 30 and takes 10, bob saves 45 and takes 45")
    _fails("08.3", lambda: "class Bank:\n    pass\n")

    # 08.4: the whole fee, only reverts, bytes keys, every fee
    def whole_fee(block, receipts):
        wasted = {}
        for tx, receipt in zip(block.transactions, receipts, strict=True):
            if not receipt.ok:
                wasted[str(tx.sender)] = wasted.get(str(tx.sender), 0) + tx.fee
        return wasted

    def only_reverted(block, receipts):
        wasted = {}
        for tx, receipt in zip(block.transactions, receipts, strict=True):
            if receipt.status == "reverted":
                wasted[str(tx.sender)] = wasted.get(str(tx.sender), 0) + receipt.fee_paid
        return wasted

    def bytes_keys(block, receipts):
        wasted = {}
        for tx, receipt in zip(block.transactions, receipts, strict=True):
            if not receipt.ok:
                wasted[bytes(tx.sender)] = wasted.get(bytes(tx.sender), 0) + receipt.fee_paid
        return wasted

    def last_failure_only(block, receipts):
        return {
            str(tx.sender): receipt.fee_paid
            for tx, receipt in zip(block.transactions, receipts, strict=True)
            if not receipt.ok
        }

    def every_fee(block, receipts):
        wasted = {}
        for tx, receipt in zip(block.transactions, receipts, strict=True):
            wasted[str(tx.sender)] = wasted.get(str(tx.sender), 0) + receipt.fee_paid
        return wasted

    _fails("08.4", whole_fee, "bob's reset is reverted")
    _fails("08.4", only_reverted, "carol's spin runs out of gas")
    _fails("08.4", bytes_keys, "bob's reset is reverted")
    _fails("08.4", last_failure_only, "two failures by one sender add up")
    _fails("08.4", every_fee, "every transaction succeeds")


# --- 09 ----------------------------------------------------------------------------------------


# --- 09.1 -------------------------------------------------------------------------------------


def _balances(events, *, skip_mint=False, keep_approvals=False, drop_zero=False):
    rows = events if keep_approvals else events[events["name"] == "Transfer"]
    out = {}
    for row in rows.itertuples():
        if skip_mint and not isinstance(row.sender, str):
            continue
        amount = int(row.amount)
        out[row.to] = out.get(row.to, 0) + amount
        if isinstance(row.sender, str):
            out[row.sender] = out.get(row.sender, 0) - amount
    if drop_zero:
        out = {k: v for k, v in out.items() if v != 0}
    return out


def _pandas_without_self(events):
    # The lesson's groupby, but a self-transfer's credit is dropped by a careless filter.
    t = events[events["name"] == "Transfer"]
    received = t[t["sender"] != t["to"]].groupby("to")["amount"].sum()
    sent = t.dropna(subset=["sender"]).groupby("sender")["amount"].sum()
    return {k: int(v) for k, v in received.sub(sent, fill_value=0).items()}


def _numpy_numbers(events):
    # The lesson's groupby, returning numpy integers instead of ints.
    t = events[events["name"] == "Transfer"]
    received = t.groupby("to")["amount"].sum()
    sent = t.dropna(subset=["sender"]).groupby("sender")["amount"].sum()
    holders = set(received.index) | set(sent.index)
    return {a: received.get(a, 0) - sent.get(a, 0) for a in holders}


def _last_amount_wins(events):
    t = events[events["name"] == "Transfer"]
    return {row.to: int(row.amount) for row in t.itertuples()}


def test_09_1_wrong_answers():
    _fails("09.1", lambda e: _balances(e, skip_mint=True), "only the initial supply")
    _fails(
        "09.1", lambda e: _balances(e, keep_approvals=True), "approvals and transfer_from mixed in"
    )
    _fails("09.1", _numpy_numbers, "transfers in one block")
    _fails("09.1", lambda e: _balances(e, drop_zero=True), "a zero-amount transfer to a newcomer")
    _fails("09.1", _pandas_without_self, "a transfer to oneself")
    _fails("09.1", _last_amount_wins, "transfers in one block")
    _fails("09.1", lambda e: list(_balances(e).items()), "only the initial supply")


# --- 09.2 -------------------------------------------------------------------------------------

_BODY = """
    cert["owner"] = to
    cert["history"].append(self._entry("transfer", to))
    self.certificates[token_id] = cert
    emit("Transferred", token_id=token_id, sender=caller, to=to)
    return True
"""


def _transfer(checks: str, body: str = _BODY) -> str:
    return (
        "def transfer(self, token_id, to: bytes) -> bool:\n    cert = self.record(token_id)\n"
        + (checks + body)
    )


_NOT_REVOKED = '    require(not cert["revoked"], "revoked")\n'
_ISSUER = '    require(self.issuer_set.get(caller, False), "soulbound: issuers only")\n'


def test_09_2_wrong_answers():
    _fails("09.2", lambda s: s, "the holder cannot transfer")  # the standard contract
    # Only refuses the owner: a stranger may now move anyone's diploma.
    not_owner = _NOT_REVOKED + '    require(caller != cert["owner"], "soulbound")\n'
    _fails("09.2", lambda s: replace_method(s, "transfer", _transfer(not_owner)),
           "a stranger cannot transfer")  # fmt: skip
    # Transfer always reverts: the issuer cannot correct a mistake.
    never = '    revert("soulbound")\n'
    _fails("09.2", lambda s: replace_method(s, "transfer", _transfer(never)),
           "the issuer corrects a diploma minted to the wrong address")  # fmt: skip
    # Transfer deleted: a call is a fault, not a revert, and no correction is possible.
    no_transfer = replace_method(CERTIFICATE, "transfer", "def _gone(self):\n    pass\n")
    _fails("09.2", lambda s: no_transfer, "the holder cannot transfer")
    # The issuer check, but the revoked check dropped.
    _fails("09.2", lambda s: replace_method(s, "transfer", _transfer(_ISSUER)),
           "revoke works and a revoked diploma never moves")  # fmt: skip
    # The issuer moves it but the history is not updated.
    silent = _BODY.replace('    cert["history"].append(self._entry("transfer", to))\n', "")
    silent = _transfer(_NOT_REVOKED + _ISSUER, silent)
    _fails("09.2", lambda s: replace_method(s, "transfer", silent),
           "the issuer corrects a diploma minted to the wrong address")  # fmt: skip
    # Only the minting issuer, not any issuer of the collection (a hidden case).
    minter = _NOT_REVOKED + '    require(caller == cert["issuer"], "only its issuer")\n'
    _fails("09.2", lambda s: replace_method(s, "transfer", _transfer(minter)),
           "any issuer of the collection may correct")  # fmt: skip
    # The mint opened to everyone while editing.
    open_mint = replace_method(
        CERTIFICATE.replace('self._only_issuer("mint")', "pass"),
        "transfer",
        _transfer(_NOT_REVOKED + _ISSUER),
    )
    _fails("09.2", lambda s: open_mint, "a non-issuer still cannot mint")
    _fails("09.2", lambda s: s.replace("class Certificate", "class Certificate(object)"),
           "issuers still mint")  # does not compile  # fmt: skip
    _fails("09.2", lambda s: None, "issuers still mint")


# --- 09.3 -------------------------------------------------------------------------------------


def _verifier(*, order=("revoked", "issuer", "holder"), use_is_issuer=False, unknown="raise"):
    def verify_diploma(chain, collection, token_id, holder, trusted):
        if unknown == "is_valid":
            if not chain.call_view(collection, "is_valid", [token_id]):
                return (False, "revoked")
        try:
            record = chain.call_view(collection, "record", [token_id])
        except Revert:
            if unknown == "raise":
                raise
            return (False, "unknown")
        for step in order:
            if step == "revoked" and record["revoked"]:
                return (False, "revoked")
            if step == "issuer":
                if use_is_issuer:
                    ok = any(chain.call_view(collection, "is_issuer", [t]) for t in trusted)
                else:
                    ok = record["issuer"] in trusted
                if not ok:
                    return (False, "untrusted issuer")
            if step == "holder" and record["owner"] != holder:
                return (False, "not the holder")
        return (True, "valid")

    return verify_diploma


def test_09_3_wrong_answers():
    _fails("09.3", _verifier(), "an id that was never minted")  # Revert escapes
    _fails("09.3", _verifier(unknown="is_valid"), "an id that was never minted")  # says revoked
    _fails("09.3", _verifier(unknown="catch", use_is_issuer=True),
           "a look-alike that lists the university among its issuers")  # fmt: skip
    _fails("09.3", _verifier(unknown="catch", order=("revoked", "issuer")),
           "presented by someone who does not hold it")  # fmt: skip
    _fails("09.3", _verifier(unknown="catch", order=("holder", "revoked", "issuer")),
           "revoked and presented by someone else: revoked comes first")  # fmt: skip
    _fails("09.3", _verifier(unknown="catch", order=("revoked", "holder")),
           "a diploma mill's look-alike collection")  # fmt: skip

    def as_list(*args):
        return list(_verifier(unknown="catch")(*args))

    _fails("09.3", as_list, "a valid diploma")

    def checks_title(chain, collection, token_id, holder, trusted):
        title = chain.call_view(collection, "title")
        valid = chain.call_view(collection, "is_valid", [token_id])
        return (True, "valid") if title == "Diplomas of BKU" and valid else (False, "revoked")

    _fails("09.3", checks_title, "a diploma mill's look-alike collection")


# --- 09.4 -------------------------------------------------------------------------------------


def _view(branches: dict[str, str], default: str = "{}") -> str:
    lines = ["def view(self) -> dict:"]
    for party, result in branches.items():
        lines += [f"    if caller == self.{party}:", f"        return {result}"]
    lines.append(f"    return {default}")
    return "\n".join(lines) + "\n"


_RIGHT = {
    "patient": '{"diagnoses": self.diagnoses, "prescriptions": self.prescriptions, '
    '"allergies": self.allergies, "bills": self.bills}',
    "hospital": '{"diagnoses": self.diagnoses, "prescriptions": self.prescriptions, '
    '"allergies": self.allergies}',
    "pharmacy": '{"prescriptions": self.prescriptions, "allergies": self.allergies}',
    "insurer": '{"bills": self.bills}',
}


def test_09_4_wrong_answers():
    assert not run_cases("09.4", lambda: _view(_RIGHT)).failures  # the helper builds a right one
    assert "def view" in patient_record_source(_view(_RIGHT))
    _fails("09.4", lambda: _view(_RIGHT, default='{"patient": self.patient}'),
           "a stranger sees nothing")  # fmt: skip
    _fails("09.4", lambda: _view({**_RIGHT, "insurer": '{"bills": self.bills, '
           '"diagnoses": self.diagnoses}'}), "the insurer sees the bills only")  # fmt: skip
    _fails("09.4", lambda: _view({**_RIGHT, "pharmacy": '{"prescriptions": self.prescriptions}'}),
           "the pharmacy sees prescriptions and allergies only")  # fmt: skip
    _fails("09.4", lambda: _view({**_RIGHT, "hospital": _RIGHT["patient"]}),
           "the hospital sees the medical record, not the bills")  # fmt: skip
    # The patient branch checked last: the hospital's branch never matches the patient, fine,
    # but a view that ignores caller and returns everything leaks to all.
    _fails("09.4", lambda: _view({}, default=_RIGHT["patient"]), "a stranger sees nothing")
    # Uses origin... same as caller here; logging the reader instead: a view that writes.
    writes = _view(_RIGHT).replace("def view(self) -> dict:\n",
                                   "def view(self) -> dict:\n    self.readers = 1\n")  # fmt: skip
    _fails("09.4", lambda: writes, "view() changes nothing")
    _fails("09.4", lambda: "def view(self):\n    import os\n", "the patient sees everything")
    _fails("09.4", lambda: _view({**_RIGHT, "patient": '{"diagnoses": self.diagnoses}'}),
           "the patient sees everything")  # fmt: skip
