"""Each signed checkpoint records the seq high-water mark at signing, so the mark itself is anchored.

Checkpoints signed before this migration recorded no mark; the mark was at least their head seq when they
were signed, so that is what they get (and what their signature, which does not cover a mark, is read as).
The rows are append-only: the fill runs with their trigger disabled, inside this migration's transaction.
"""

from django.db import migrations, models

APPEND_ONLY = "pgtrigger_audit_checkpoint_append_only_83f3a"
FILL = f"""
ALTER TABLE oms_auditcheckpoint DISABLE TRIGGER {APPEND_ONLY};
UPDATE oms_auditcheckpoint SET high_water = seq WHERE high_water IS NULL;
ALTER TABLE oms_auditcheckpoint ENABLE TRIGGER {APPEND_ONLY};
"""


class Migration(migrations.Migration):

    dependencies = [
        ("oms", "0007_positions"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditcheckpoint",
            name="high_water",
            field=models.PositiveBigIntegerField(null=True, help_text="The highest audit seq ever handed out when the checkpoint was signed."),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="auditcheckpoint",
            name="high_water",
            field=models.PositiveBigIntegerField(help_text="The highest audit seq ever handed out when the checkpoint was signed."),
        ),
    ]
