"""The order page of a long-worked order: its fills collapse into one timeline line, and the page's queries do
not grow with the number of fills (issue 19, item 12)."""

import re

import pytest

from oms.models import AuditEvent
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
    assert "ACCEPTED → PARTIALLY_FILLED" in page  # the status move the first fill made, inside the line
    assert page.count('class="run-row"') == 1001  # each fill and that move, hidden until the line is opened
    assert page.count('<tr data-event="fill.booked">') == 0  # no fill is a line of its own
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
    from oms.selectors import TimelineFill, order_timeline

    order = f.order_worked(portfolio=portfolio, instrument=instrument, user=pm, fills=2)
    items = order_timeline(order=order)
    assert [i.event.event_type if isinstance(i, TimelineFill) else i.event_type for i in items] == [
        "order.received", "order.accepted", "fill.booked", "order.partially_filled", "fill.booked"]
    assert [(i.quantity, i.filled) for i in items if isinstance(i, TimelineFill)] == [(10, 10), (10, 20)]
    many = f.order_worked(portfolio=portfolio, instrument=instrument, user=pm, fills=5)
    items = order_timeline(order=many)
    assert isinstance(items[-1], TimelineRun) and items[-1].count == 5
    assert (items[-1].status_from, items[-1].status_to, items[-1].filled_from, items[-1].filled_to) == ("ACCEPTED", "PARTIALLY_FILLED", 0, 50)


def test_an_older_trail_of_order_progress_events_still_collapses():
    """Trails written before fills were audited once hold one ``order.partially_filled`` per fill."""
    progress = [AuditEvent(event_type="order.partially_filled", before={"status": "PARTIALLY_FILLED", "filled_quantity": k * 10},
                           after={"status": "PARTIALLY_FILLED", "filled_quantity": (k + 1) * 10, "avg_price": "10"}) for k in range(4)]
    items = timeline_collapse([AuditEvent(event_type="order.received"), *progress])
    assert items[0].event_type == "order.received" and isinstance(items[1], TimelineRun)
    assert (items[1].count, items[1].filled_from, items[1].filled_to) == (4, 0, 40)
