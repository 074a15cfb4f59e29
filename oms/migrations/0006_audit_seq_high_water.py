"""A seq is never handed out twice: a high-water mark that ``oms_audit_head`` reads and moves.

Deleting the newest events (with the append-only triggers bypassed) used to free their seqs: the next
event was numbered after the surviving head, reused them and linked to the shortened chain, so the cut
healed itself. Now the next event is numbered above the highest seq ever handed out, and the gap stays.
"""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

# Takes the chain lock, reads the head, and reserves ``reserve`` seqs above max(head, high-water) in one
# round trip, so the section every audit writer queues for stays two statements and the commit (see
# oms.services.audit.audit_write). The mark moves in the writer's transaction: a rollback frees nothing.
# A VOLATILE plpgsql function runs each statement on a fresh snapshot, so the SELECTs after the lock see
# what whoever held the lock before us committed.
HEAD_WITH_HIGH_WATER = """
CREATE FUNCTION oms_audit_head(lock_key bigint, reserve bigint) RETURNS TABLE (seq bigint, hash varchar)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_seq bigint;
    head_hash varchar;
    issued bigint;
    base bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT e.seq, e.hash INTO head_seq, head_hash FROM oms_auditevent e ORDER BY e.seq DESC LIMIT 1;
    SELECT w.seq INTO issued FROM oms_auditseqhighwater w WHERE w.id = 1;
    base := GREATEST(COALESCE(head_seq, 0), COALESCE(issued, 0));
    INSERT INTO oms_auditseqhighwater AS w (id, seq) VALUES (1, base + reserve)
        ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq;
    RETURN QUERY SELECT base, head_hash;
END $$;
DROP FUNCTION IF EXISTS oms_audit_head(bigint);
INSERT INTO oms_auditseqhighwater (id, seq) SELECT 1, COALESCE(MAX(e.seq), 0) FROM oms_auditevent e ON CONFLICT (id) DO NOTHING;
"""

HEAD_WITHOUT_HIGH_WATER = """
DROP FUNCTION IF EXISTS oms_audit_head(bigint, bigint);
CREATE FUNCTION oms_audit_head(lock_key bigint) RETURNS TABLE (seq bigint, hash varchar) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY SELECT e.seq::bigint, e.hash FROM oms_auditevent e ORDER BY e.seq DESC LIMIT 1;
END $$;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("oms", "0005_audit_checkpoint_market_price"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditSeqHighWater",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("seq", models.PositiveBigIntegerField()),
            ],
            options={
                "constraints": [models.CheckConstraint(condition=models.Q(("id", 1)), name="audit_seq_high_water_single_row")],
            },
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="auditseqhighwater",
            trigger=pgtrigger.compiler.Trigger(name="audit_seq_high_water_kept", sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot delete rows from % table', TG_TABLE_NAME;", hash="2cb55794129796889adf0c9b47e75f9c840aeea8", operation="DELETE", pgid="pgtrigger_audit_seq_high_water_kept_d7b7c", table="oms_auditseqhighwater", when="BEFORE")),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="auditseqhighwater",
            trigger=pgtrigger.compiler.Trigger(name="audit_seq_high_water_never_lowered", sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (NEW."seq" < (OLD."seq"))', func="RAISE EXCEPTION 'pgtrigger: Cannot update rows from % table', TG_TABLE_NAME;", hash="6816378359d8dc23359ed6b3e54ee3fa1a2c8ff3", operation="UPDATE", pgid="pgtrigger_audit_seq_high_water_never_lowered_0be8a", table="oms_auditseqhighwater", when="BEFORE")),
        ),
        migrations.RunSQL(HEAD_WITH_HIGH_WATER, HEAD_WITHOUT_HIGH_WATER),
    ]
