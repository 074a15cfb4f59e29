"""A session added, removed, or given another user or kind bumps the reference data's stamp (oms/refdata.py):
the processes writing execution reports reload their directory of sessions with it (fix/outbox.py). Its
sequence numbers, saved every second, do not."""

from django.db import migrations

FORWARD = [
    "CREATE TRIGGER oms_refdata_stamp AFTER INSERT OR DELETE OR TRUNCATE ON fix_fixsession "
    "FOR EACH STATEMENT EXECUTE FUNCTION oms_refdata_bump()",
    "CREATE TRIGGER oms_refdata_stamp_session AFTER UPDATE OF kind, user_id, sender_comp_id, target_comp_id ON fix_fixsession "
    "FOR EACH STATEMENT EXECUTE FUNCTION oms_refdata_bump()",
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS oms_refdata_stamp ON fix_fixsession",
    "DROP TRIGGER IF EXISTS oms_refdata_stamp_session ON fix_fixsession",
]


class Migration(migrations.Migration):
    dependencies = [("fix", "0002_outbox"), ("oms", "0002_refdata_version")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
