"""Currency amounts carry the contract multiplier (issue 22): a ParentTCA's ``notional`` and ``is_*`` components, and
a what-if's currency figures, are price x quantity x the instrument's multiplier from now on. Rows stored before were
price x quantity: multiply those of an instrument whose multiplier is not 1 (options; an equity's is 1, its rows stay
as they are). The reverse divides them back."""

from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery

COMPONENTS = ("delay", "timing", "impact", "opportunity", "fees", "total")
SCALED = ("delay", "timing", "impact", "opportunity")  # price x quantity; the fees were currency already, the total is the sum


def _rescale(apps, *, up: bool):
    ParentTCA = apps.get_model("tca", "ParentTCA")
    WhatIf = apps.get_model("tca", "WhatIf")
    Instrument = apps.get_model("oms", "Instrument")
    multiplier = Subquery(Instrument.objects.filter(pk=OuterRef("instrument_id")).values("multiplier")[:1])
    rows = ParentTCA.objects.exclude(instrument__multiplier=1)
    # numeric(24, 6) columns: PostgreSQL rounds a quotient to the column's 6 decimals on assignment.
    rows.update(**{c: (F(c) * multiplier if up else F(c) / multiplier) for c in ("notional", *(f"is_{k}" for k in SCALED))})
    rows.update(is_total=sum((F(f"is_{k}") for k in COMPONENTS if k != "total"), start=0))
    for w in WhatIf.objects.exclude(parent__instrument__multiplier=1).select_related("parent__instrument").iterator():
        m = w.parent.instrument.multiplier
        k = m if up else 1 / m
        for part in (w.summary or {}).values():
            if not isinstance(part, dict) or "notional" not in part:
                continue
            part["notional"] = _times(part.get("notional"), k)
            for v in part.get("venues") or []:
                v["notional"] = _times(v.get("notional"), k)
            for s in (part.get("slippage") or {}).values():
                s["ccy"] = _times(s.get("ccy"), k)
            sf = part.get("shortfall") or {}
            for c in SCALED:
                sf[c] = _times(sf.get(c), k)
            bps = sf.get("bps") or {}
            if bps.get("fees") is not None:  # of the paper value, now x the multiplier
                bps["fees"] = round(bps["fees"] / k, 4)
            for d, nd in ((sf, 2), (bps, 4)):
                parts = [d.get(c) for c in COMPONENTS if c != "total"]
                if None not in parts and "total" in d:
                    d["total"] = round(sum(parts), nd)
        w.save(update_fields=["summary"])


def _times(x, k):
    return None if x is None else round(x * k, 2)


def forwards(apps, schema_editor):
    _rescale(apps, up=True)


def backwards(apps, schema_editor):
    _rescale(apps, up=False)


class Migration(migrations.Migration):
    dependencies = [
        ("tca", "0002_shortfall_positive_is_better"),
        ("oms", "0013_option_instruments"),
    ]

    operations = [
        migrations.AlterField(
            model_name="parenttca",
            name="notional",
            field=models.DecimalField(decimal_places=6, help_text="Currency: sum of price x quantity x the instrument's multiplier", max_digits=24),
        ),
        migrations.RunPython(forwards, backwards),
    ]
