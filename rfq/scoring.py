"""Liquidity provider scorecards -> a score and a short list. Pure Python (no Django).

A provider's :class:`ScorecardStats` come from history (``rfq.selectors.provider_scorecards``): how many
requests it was sent, how many it answered in time with a quote, how many of its quotes we executed,
how far from the mid at request its quotes were, and the markout after our executions with it.

Score (higher is better)::

    score = 60 * response_rate + 20 * hit_ratio - 1.0 * bps_from_mid - 1.0 * markout_bps

* ``response_rate`` counts most: a provider that does not answer wastes a slot of the short list and
  tells the market for nothing.
* ``hit_ratio`` (our executions / its answers): it keeps winning, so it prices well for us.
* ``bps_from_mid`` (mean cost of its quotes against the mid at request, bps; lower = tighter).
* ``markout_bps`` (quantity-weighted mid move 60 s after our executions with it, in the direction of our
  trade, clamped to +/-50 bps): positive means the price ran away from the rest of our order after we
  traded with it (information leaked); negative means it came back.

**Priors** (so a provider without history is still asked, and a few lucky or unlucky requests do not
decide its fate): each figure is shrunk towards a prior by pseudo-observations,
``(observed * n + prior * k) / (n + k)``:

=================  =========  ==================================  ==================
figure             prior      weight ``k`` (pseudo-observations)  ``n``
=================  =========  ==================================  ==================
response rate      80%        5 requests                          requests
hit ratio          25%        5 responses                         responses
bps from mid       10.0 bps   3 quotes                            responses
markout            +2.0 bps   5 executions                        executions
=================  =========  ==================================  ==================

A new provider thus scores 60*0.8 + 20*0.25 - 10 - 2 = 41: below a provider that answers and quotes
tightly (~55), above one that has stopped answering (~10 after ten silent requests).

Ties are broken by code, so the choice is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

W_RESPONSE, W_HIT, W_BPS, W_MARKOUT = 60.0, 20.0, 1.0, 1.0
PRIOR_RESPONSE, K_RESPONSE = 0.80, 5.0
PRIOR_HIT, K_HIT = 0.25, 5.0
PRIOR_BPS, K_BPS = 10.0, 3.0
PRIOR_MARKOUT, K_MARKOUT = 2.0, 5.0
MARKOUT_CLAMP_BPS = 50.0  # one wild print must not sink (or save) a provider


@dataclass(frozen=True)
class ScorecardStats:
    """A provider's history as the scorecard counts it."""

    provider_id: int
    code: str
    requests: int  # requests it was sent
    responses: int  # answered in time with a quote
    quotes_accepted: int  # its quotes we executed (hit)
    mean_bps_from_mid: float | None  # mean cost vs mid at request of its quotes (lower = more competitive)
    markout_bps: float | None  # quantity-weighted mid move 60 s after our executions with it, our direction
    executions: int  # how many executions the markout is over

    @property
    def response_rate(self) -> float | None:
        return self.responses / self.requests if self.requests else None

    @property
    def hit_ratio(self) -> float | None:
        return self.quotes_accepted / self.responses if self.responses else None


@dataclass(frozen=True)
class Selected:
    """A provider chosen for a request: its rank (1 = best), score and why."""

    provider_id: int
    code: str
    rank: int
    score: float
    reason: str


def _shrink(observed: float | None, n: int, prior: float, k: float) -> float:
    if observed is None or n <= 0:
        return prior
    return (observed * n + prior * k) / (n + k)


def provider_score(stats: ScorecardStats) -> tuple[float, str]:
    """Return the provider's score (higher is better, 4 decimals) and the figures behind it as text."""
    response = _shrink(stats.response_rate, stats.requests, PRIOR_RESPONSE, K_RESPONSE)
    hit = _shrink(stats.hit_ratio, stats.responses, PRIOR_HIT, K_HIT)
    bps = _shrink(stats.mean_bps_from_mid, stats.responses, PRIOR_BPS, K_BPS)
    observed_markout = None if stats.markout_bps is None else max(-MARKOUT_CLAMP_BPS, min(MARKOUT_CLAMP_BPS, stats.markout_bps))
    markout = _shrink(observed_markout, stats.executions, PRIOR_MARKOUT, K_MARKOUT)
    score = W_RESPONSE * response + W_HIT * hit - W_BPS * bps - W_MARKOUT * markout
    return round(score, 4), _reason(stats)


def _reason(s: ScorecardStats) -> str:
    if not s.requests:
        return (f"new: priors response {PRIOR_RESPONSE:.0%} · hit {PRIOR_HIT:.0%} · "
                f"{PRIOR_BPS:.1f} bps from mid · markout {PRIOR_MARKOUT:+.1f} bps")
    parts = [f"response {s.response_rate:.0%} ({s.responses}/{s.requests})"]
    parts.append(f"hit {s.hit_ratio:.0%}" if s.hit_ratio is not None else f"hit n/a (prior {PRIOR_HIT:.0%})")
    parts.append(f"{s.mean_bps_from_mid:.1f} bps from mid" if s.mean_bps_from_mid is not None
                 else f"no quotes (prior {PRIOR_BPS:.1f} bps)")
    parts.append(f"markout {s.markout_bps:+.1f} bps (n={s.executions})" if s.markout_bps is not None and s.executions
                 else f"no executions (prior markout {PRIOR_MARKOUT:+.1f} bps)")
    return " · ".join(parts)


def select_providers(cards: list[ScorecardStats], n: int) -> list[Selected]:
    """Return the ``n`` best providers by score (ties by code), rank 1 = best."""
    if n <= 0:
        return []
    scored = sorted(((*provider_score(c), c) for c in cards), key=lambda x: (-x[0], x[2].code))
    return [Selected(c.provider_id, c.code, rank, score, reason)
            for rank, (score, reason, c) in enumerate(scored[:n], start=1)]
