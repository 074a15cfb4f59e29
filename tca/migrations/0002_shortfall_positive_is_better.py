"""One sign convention (issue 19, item 8): the implementation-shortfall components stored so far were costs
(positive = cost); from now on they are, as every other TCA figure, positive = better for us. Negate the stored
ones: each parent's ``is_*`` columns and each what-if's two summaries' ``shortfall`` (its own inverse, so the
same function reverses it)."""

from django.db import migrations
from django.db.models import F

COMPONENTS = ("delay", "timing", "impact", "opportunity", "fees", "total")


def _negate(value):
    return None if value is None else -value


def negate_shortfall(apps, schema_editor):
    ParentTCA = apps.get_model("tca", "ParentTCA")
    WhatIf = apps.get_model("tca", "WhatIf")
    ParentTCA.objects.update(**{f"is_{k}": -F(f"is_{k}") for k in COMPONENTS})
    for w in WhatIf.objects.only("pk", "summary").iterator():
        for part in (w.summary or {}).values():
            sf = part.get("shortfall") if isinstance(part, dict) else None
            if not sf:
                continue
            for k in COMPONENTS:
                sf[k] = _negate(sf.get(k))
            sf["bps"] = {k: _negate(v) for k, v in (sf.get("bps") or {}).items()}
        w.save(update_fields=["summary"])


class Migration(migrations.Migration):
    dependencies = [("tca", "0001_initial")]
    operations = [migrations.RunPython(negate_shortfall, negate_shortfall)]
