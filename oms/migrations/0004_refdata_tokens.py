"""API tokens and usernames join the stamped reference data (token authentication reads the cache)."""

from django.db import migrations

FORWARD = [
    "CREATE TRIGGER oms_refdata_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON authtoken_token "
    "FOR EACH STATEMENT EXECUTE FUNCTION oms_refdata_bump()",
    "DROP TRIGGER oms_refdata_stamp_role ON auth_user",
    "CREATE TRIGGER oms_refdata_stamp_role AFTER UPDATE OF is_superuser, is_active, username ON auth_user "
    "FOR EACH STATEMENT EXECUTE FUNCTION oms_refdata_bump()",
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS oms_refdata_stamp ON authtoken_token",
    "DROP TRIGGER oms_refdata_stamp_role ON auth_user",
    "CREATE TRIGGER oms_refdata_stamp_role AFTER UPDATE OF is_superuser, is_active ON auth_user "
    "FOR EACH STATEMENT EXECUTE FUNCTION oms_refdata_bump()",
]


class Migration(migrations.Migration):
    dependencies = [("oms", "0003_audit_head"), ("authtoken", "0004_alter_tokenproxy_options")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
