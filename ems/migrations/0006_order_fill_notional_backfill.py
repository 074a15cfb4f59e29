"""Give each order filled before ``Order.fill_notional`` existed its fill notional: the sum of quantity x price
of its allocations (what its average price was recomputed from), else its average price x filled quantity
(fills applied with no allocation rows). Here rather than in ``oms``: the allocations are the EMS's."""

from django.db import migrations

BACKFILL = """
UPDATE oms_order AS o SET fill_notional = a.n
  FROM (SELECT order_id, SUM(quantity * price) AS n FROM ems_allocation GROUP BY order_id) AS a
 WHERE a.order_id = o.id AND o.filled_quantity > 0;
UPDATE oms_order SET fill_notional = avg_price * filled_quantity
 WHERE filled_quantity > 0 AND fill_notional = 0 AND avg_price IS NOT NULL;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ems", "0005_constituent_per_parent_and_order"),
        ("oms", "0012_order_fill_notional"),
    ]

    operations = [migrations.RunSQL(BACKFILL, migrations.RunSQL.noop)]
