"""One round trip to take the audit chain's lock and read its head (see oms.services.audit.audit_append)."""

from django.db import migrations

# A VOLATILE plpgsql function runs each statement on a fresh snapshot, so the SELECT after the lock
# sees the head committed by whoever held the lock before us.
FORWARD = """
CREATE FUNCTION oms_audit_head(lock_key bigint) RETURNS TABLE (seq bigint, hash varchar) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY SELECT e.seq::bigint, e.hash FROM oms_auditevent e ORDER BY e.seq DESC LIMIT 1;
END $$
"""


class Migration(migrations.Migration):
    dependencies = [("oms", "0002_refdata_version")]

    operations = [migrations.RunSQL(FORWARD, "DROP FUNCTION IF EXISTS oms_audit_head(bigint)")]
