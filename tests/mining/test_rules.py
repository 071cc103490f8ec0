"""Pair and sequence rules against fixtures counted by hand."""
import math

import numpy as np
import pytest

from shopcrm.mining import PairRules, SequenceRules

A, B, C, D, E = 10, 20, 30, 40, 50
# Six baskets. Item counts: A 4, B 4, C 3, D 1, E 1; pairs: AB 3, AC 2, BC 2, AD 1, BD 1.
BASKETS = {1: [A, B, C, A], 2: [A, B], 3: [A, C], 4: [B, C], 5: [A, B, D], 6: [E]}  # A twice in basket 1


def entries(baskets):
    pairs = [(b, item) for b, items in baskets.items() for item in items]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def as_dict(rules):
    return {(a, b): (n, s, c, lift) for a, b, n, s, c, lift in zip(*(rules[k].tolist() for k in (
        "antecedent", "consequent", "count", "support", "confidence", "lift")))}


def test_pair_rules_match_the_hand_count():
    model = PairRules(min_support=0, min_confidence=0, min_lift=0, min_count=1).fit(*entries(BASKETS))
    assert model.n_baskets_ == 6
    assert dict(zip(model.items_.tolist(), model.item_counts_.tolist())) == {A: 4, B: 4, C: 3, D: 1, E: 1}
    rules = as_dict(model.rules_)
    expected = {
        (A, B): (3, 3 / 6, 3 / 4, (3 / 4) / (4 / 6)), (B, A): (3, 3 / 6, 3 / 4, (3 / 4) / (4 / 6)),
        (A, C): (2, 2 / 6, 2 / 4, (2 / 4) / (3 / 6)), (C, A): (2, 2 / 6, 2 / 3, (2 / 3) / (4 / 6)),
        (B, C): (2, 2 / 6, 2 / 4, (2 / 4) / (3 / 6)), (C, B): (2, 2 / 6, 2 / 3, (2 / 3) / (4 / 6)),
        (A, D): (1, 1 / 6, 1 / 4, (1 / 4) / (1 / 6)), (D, A): (1, 1 / 6, 1.0, 1.0 / (4 / 6)),
        (B, D): (1, 1 / 6, 1 / 4, (1 / 4) / (1 / 6)), (D, B): (1, 1 / 6, 1.0, 1.0 / (4 / 6)),
    }
    assert set(rules) == set(expected)  # E is never bought with anything: no rule
    for pair, (n, support, confidence, lift) in expected.items():
        got = rules[pair]
        assert got[0] == n and all(math.isclose(x, y) for x, y in zip(got[1:], (support, confidence, lift))), pair
    # Strongest first: the two rules with confidence 1 lead.
    assert {(int(a), int(b)) for a, b in zip(model.rules_["antecedent"][:2], model.rules_["consequent"][:2])} == {
        (D, A), (D, B)}


@pytest.mark.parametrize("thresholds, kept", [
    (dict(min_count=2), {(A, B), (B, A), (A, C), (C, A), (B, C), (C, B)}),
    (dict(min_count=1, min_lift=1.1), {(A, B), (B, A), (A, D), (D, A), (B, D), (D, B)}),
    (dict(min_count=1, min_confidence=0.7), {(A, B), (B, A), (D, A), (D, B)}),
    (dict(min_count=1, min_support=0.3), {(A, B), (B, A), (A, C), (C, A), (B, C), (C, B)}),
    (dict(min_count=1, max_rules=3), None),
])
def test_pair_rule_thresholds(thresholds, kept):
    base = dict(min_support=0, min_confidence=0, min_lift=0)
    rules = as_dict(PairRules(**{**base, **thresholds}).fit(*entries(BASKETS)).rules_)
    if kept is None:
        assert len(rules) == 3
    else:
        assert set(rules) == kept


def test_pair_rules_on_no_pairs():
    model = PairRules(min_count=1).fit(np.array([1, 2]), np.array([A, B]))
    assert len(model.rules_["count"]) == 0 and model.n_baskets_ == 2
    empty = PairRules().fit(np.array([], dtype=int), np.array([], dtype=int))
    assert len(empty.rules_["count"]) == 0 and empty.n_baskets_ == 0


# Four customers, (item, time); a customer's first purchase of an item is what counts:
#   c1: A@1, B@2, C@3 -> A⇒B, A⇒C, B⇒C      c2: A@1, B@1 -> nothing (same time is not "later")
#   c3: B@1, A@2      -> B⇒A                 c4: A@5, A@1, B@3 -> A⇒B (A first bought at 1)
PURCHASES = [(1, A, 1), (1, B, 2), (1, C, 3), (2, A, 1), (2, B, 1), (3, B, 1), (3, A, 2), (4, A, 5), (4, A, 1),
             (4, B, 3)]


def sequences(**params):
    c, i, t = (np.array(col) for col in zip(*PURCHASES))
    base = dict(min_support=0, min_confidence=0, min_lift=0, min_count=1)
    return SequenceRules(**{**base, **params}).fit(c, i, t)


def test_sequence_rules_match_the_hand_count():
    model = sequences()
    assert model.n_customers_ == 4
    rules = as_dict(model.rules_)
    # m = 4 customers; A bought by 4, B by 4, C by 1.
    expected = {(A, B): (2, 2 / 4, 2 / 4, (2 / 4) / (4 / 4)), (A, C): (1, 1 / 4, 1 / 4, (1 / 4) / (1 / 4)),
                (B, C): (1, 1 / 4, 1 / 4, (1 / 4) / (1 / 4)), (B, A): (1, 1 / 4, 1 / 4, (1 / 4) / (4 / 4))}
    assert set(rules) == set(expected)
    for pair, values in expected.items():
        assert rules[pair][0] == values[0]
        assert all(math.isclose(x, y) for x, y in zip(rules[pair][1:], values[1:])), pair


def test_sequence_rules_cap_items_per_customer():
    rules = as_dict(sequences(max_items_per_customer=2).rules_)
    assert (A, C) not in rules and (B, C) not in rules  # c1's third item is beyond the cap
    assert rules[(A, B)][0] == 2


def test_sequence_rules_with_many_items_use_the_sparse_count():
    """Item counts whose square exceeds the direct table take the unique-count path: same result."""
    rng = np.random.default_rng(0)
    items = rng.permutation(5000) * 7  # 5000 distinct items
    customers = np.repeat(np.arange(500), 10)
    times = rng.integers(0, 5, 5000)  # with ties, which never make a sequence
    model = SequenceRules(min_count=1, min_confidence=0, min_lift=0, max_rules=10 ** 6).fit(customers, items, times)
    expected = set()
    for c in range(500):
        mine = [(int(i), int(t)) for i, t in zip(items[customers == c], times[customers == c])]
        expected.update((a, b) for a, ta in mine for b, tb in mine if tb > ta)
    assert len(model.items_) ** 2 > 1 << 24
    assert set(as_dict(model.rules_)) == expected


@pytest.mark.parametrize("values", [
    np.array([5, 3, 5, 0, 9, 3], dtype=np.int64),   # ids a run passes: marked in a table
    np.array([7, 7, 7], dtype=np.int32),
    np.array([-4, 2, -4, 10]),                       # negative: np.unique
    np.array([10**12, 3, 10**12]),                   # far apart: np.unique
    np.array([2.5, 1.0, 2.5]),                       # not integers: np.unique
    np.array([], dtype=np.int64),
])
def test_positions_equal_numpys_unique(values):
    from shopcrm.arrays import positions

    ids, inverse = positions(values)
    expected_ids, expected_inverse = np.unique(values, return_inverse=True)
    assert ids.tolist() == expected_ids.tolist()
    assert inverse.tolist() == expected_inverse.ravel().tolist()
    assert (ids[inverse] == values).all()
