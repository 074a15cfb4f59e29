"""Provider scores and the short list (rfq.scoring): pure, no database."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rfq.scoring import (
    PRIOR_BPS,
    PRIOR_HIT,
    PRIOR_MARKOUT,
    PRIOR_RESPONSE,
    ScorecardStats,
    provider_score,
    select_providers,
)


def card(pid=1, code="P1", requests=0, responses=0, accepted=0, bps=None, markout=None, executions=0) -> ScorecardStats:
    return ScorecardStats(pid, code, requests, responses, accepted, bps, markout, executions)


def test_rates_are_none_without_a_denominator():
    c = card()
    assert c.response_rate is None and c.hit_ratio is None
    c = card(requests=10, responses=4, accepted=1)
    assert c.response_rate == 0.4 and c.hit_ratio == 0.25


def test_a_new_provider_scores_its_priors_and_says_so():
    score, reason = provider_score(card())
    assert score == 60 * PRIOR_RESPONSE + 20 * PRIOR_HIT - PRIOR_BPS - PRIOR_MARKOUT == 41.0
    assert reason.startswith("new: priors")


def test_reason_carries_the_figures():
    _, reason = provider_score(card(requests=25, responses=23, accepted=7, bps=4.24, markout=1.31, executions=12))
    assert reason == "response 92% (23/25) · hit 30% · 4.2 bps from mid · markout +1.3 bps (n=12)"


def test_reason_names_missing_figures_and_their_priors():
    _, reason = provider_score(card(requests=10))
    assert "response 0% (0/10)" in reason and "prior" in reason and "no quotes" in reason


def test_a_provider_that_never_answers_ranks_below_a_new_one_and_one_that_answers():
    silent = card(1, "AAA", requests=10)
    new = card(2, "BBB")
    good = card(3, "CCC", requests=10, responses=10, accepted=3, bps=4.0, markout=0.5, executions=3)
    chosen = select_providers([silent, new, good], 3)
    assert [s.code for s in chosen] == ["CCC", "BBB", "AAA"]
    assert [s.rank for s in chosen] == [1, 2, 3]
    assert chosen[0].score > chosen[1].score > chosen[2].score


def test_tighter_quotes_score_higher():
    tight = provider_score(card(requests=20, responses=18, accepted=4, bps=2.0))[0]
    wide = provider_score(card(requests=20, responses=18, accepted=4, bps=15.0))[0]
    assert tight > wide


def test_leakage_scores_lower():
    clean = provider_score(card(requests=20, responses=18, accepted=6, bps=4.0, markout=-1.0, executions=6))[0]
    leaky = provider_score(card(requests=20, responses=18, accepted=6, bps=4.0, markout=12.0, executions=6))[0]
    assert clean > leaky


def test_a_wild_markout_is_clamped():
    a = provider_score(card(requests=20, responses=18, accepted=6, bps=4.0, markout=50.0, executions=6))[0]
    b = provider_score(card(requests=20, responses=18, accepted=6, bps=4.0, markout=5000.0, executions=6))[0]
    assert a == b


def test_more_evidence_moves_further_from_the_prior():
    few = provider_score(card(requests=2, responses=0))[0]
    many = provider_score(card(requests=200, responses=0))[0]
    assert many < few < provider_score(card())[0]


def test_select_takes_top_n_ties_by_code():
    cards = [card(i, code) for i, code in enumerate(["DDD", "BBB", "AAA", "CCC"], start=1)]
    chosen = select_providers(cards, 2)
    assert [(s.code, s.rank) for s in chosen] == [("AAA", 1), ("BBB", 2)]
    assert select_providers(cards, 0) == [] and len(select_providers(cards, 10)) == 4


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100), st.integers(0, 100),
                          st.one_of(st.none(), st.floats(-50, 200)), st.one_of(st.none(), st.floats(-500, 500)),
                          st.integers(0, 50)), max_size=12),
       st.integers(0, 15))
def test_selection_is_sorted_ranked_and_unique(rows, n):
    cards = []
    for i, (req, resp, acc, bps, mo, ex) in enumerate(rows):
        resp = min(resp, req)
        cards.append(card(i, f"P{i:02d}", req, resp, min(acc, resp), bps, mo, ex))
    chosen = select_providers(cards, n)
    assert len(chosen) == min(n, len(cards))
    assert [s.rank for s in chosen] == list(range(1, len(chosen) + 1))
    assert len({s.provider_id for s in chosen}) == len(chosen)
    assert all((a.score, b.code) >= (b.score, a.code) for a, b in zip(chosen, chosen[1:], strict=False))
    left_out = {c.provider_id for c in cards} - {s.provider_id for s in chosen}
    if chosen:
        assert all(provider_score(c)[0] <= chosen[-1].score for c in cards if c.provider_id in left_out)
    assert all(len(s.reason) <= 240 for s in chosen)  # fits Dissemination.reason
