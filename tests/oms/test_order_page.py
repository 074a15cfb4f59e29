"""The order page of a long-worked order: its fills collapse into one timeline line, and the page's queries do
not grow with the number of fills (issue 19, item 12)."""

import re

import pytest

from oms.selectors import TimelineRun, timeline_collapse
from tests.ems import factories as f

pytestmark = pytest.mark.django_db


def test_an_order_with_a_thousand_fills_collapses_them_and_reads_in_a_few_queries(
    client, pm, portfolio, instrument, django_assert_max_num_queries
):
    order = f.order_worked(portfolio=portfolio, instrument=instrument, user=pm, fills=1000)
    client.force_login(pm)

    with django_assert_max_num_queries(12):
        page = client.get(f"/orders/{order.id}/").content.decode()

    summaries = re.findall(r'<tr class="run-summary"', page)
    assert len(summaries) == 1
    assert "× 1,000" in page
    assert "filled 0 → 10,000" in page
    assert page.count('class="run-row"') == 1000  # each fill, hidden until the line is opened
    assert page.count('<tr data-event="order.partially_filled">') == 0  # no fill is a line of its own
    assert page.count('<tr data-event="order.received">') == page.count('<tr data-event="order.accepted">') == 1
    executions = page[page.index('id="executions"'):page.index("</table>", page.index('id="executions"'))]
    assert executions.count("<tr data-exec=") == 100  # the latest hundred listed ...
    assert "1,000 fills · 10,000 shares" in page  # ... the count and the shares are over all of them
    assert f"/api/fills/?order={order.id}" in page


def test_the_live_fragment_reads_in_as_few_queries(client, pm, portfolio, instrument, django_assert_max_num_queries):
    order = f.order_worked(portfolio=portfolio, instrument=instrument, user=pm, fills=300)
    client.force_login(pm)
    with django_assert_max_num_queries(12):
        assert client.get(f"/orders/{order.id}/live/").status_code == 200


def test_short_runs_stay_lines_and_status_changes_split_runs(pm, portfolio, instrument):
    order = f.order_worked(portfolio=portfolio, instrument=instrument, user=pm, fills=2)
    from oms.selectors import order_events

    items = timeline_collapse(order_events(order=order))
    assert [getattr(i, "event_type", None) for i in items] == [
        "order.received", "order.accepted", "order.partially_filled", "order.partially_filled"]
    many = f.order_worked(portfolio=portfolio, instrument=instrument, user=pm, fills=5)
    items = timeline_collapse(order_events(order=many))
    assert isinstance(items[-1], TimelineRun) and items[-1].count == 5
