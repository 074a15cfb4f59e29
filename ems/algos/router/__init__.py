"""Smart order router (pure): where and how to send one child order, and a session that works it to the end.

:class:`SmartOrderRouter` ranks venues for a :class:`RouteRequest` and returns a :class:`RoutePlan` (the
legs, the mode, the reason in words and as a code, the expected cost). :class:`RoutingSession` executes a
request over several execution reports through the algorithm's context, in one of three modes
(sequential, parallel, liquidity-seeking).

Three modules, one idea each:

* :mod:`~ems.algos.router.scorecards`: a venue's record computed from our past orders and fills;
* :mod:`~ems.algos.router.planning`: the ranking (book, fees, latency, scorecards), the mode and the plan;
* :mod:`~ems.algos.router.session`: a request worked over several reports, with the over-fill guard.

With a single venue (e.g. ``venues=(one lit venue,)`` for the "smart routing vs one venue" benchmark)
every mode degenerates to "everything to that venue".
"""

from ems.algos.router.planning import RouteLeg, RoutePlan, RouteRequest, SmartOrderRouter, VenueQuote
from ems.algos.router.scorecards import VenueScorecard, scorecards_from_fills
from ems.algos.router.session import RoutingSession

__all__ = [
    "RouteLeg",
    "RoutePlan",
    "RouteRequest",
    "RoutingSession",
    "SmartOrderRouter",
    "VenueQuote",
    "VenueScorecard",
    "scorecards_from_fills",
]
