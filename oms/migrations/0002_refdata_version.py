"""Stamp every change to the reference data the intake path caches (see oms/refdata.py)."""

from django.db import migrations

TABLES = (
    "oms_instrument", "oms_portfolio", "oms_portfolio_members", "oms_risklimit", "oms_restrictedinstrument",
    "auth_user_groups", "auth_group",
)

FORWARD = [
    "CREATE SEQUENCE oms_refdata_seq",
    "CREATE TABLE oms_refdataversion (id smallint PRIMARY KEY CHECK (id = 1), version bigint NOT NULL)",
    "INSERT INTO oms_refdataversion VALUES (1, nextval('oms_refdata_seq'))",
    """
    CREATE FUNCTION oms_refdata_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO oms_refdataversion (id, version) VALUES (1, nextval('oms_refdata_seq'))
        ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version;
        RETURN NULL;
    END $$
    """,
    *(
        f"CREATE TRIGGER oms_refdata_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {t} "
        "FOR EACH STATEMENT EXECUTE FUNCTION oms_refdata_bump()"
        for t in TABLES
    ),
    # auth_user changes on every login (last_login): only what changes a role counts.
    "CREATE TRIGGER oms_refdata_stamp AFTER INSERT OR DELETE OR TRUNCATE ON auth_user "
    "FOR EACH STATEMENT EXECUTE FUNCTION oms_refdata_bump()",
    "CREATE TRIGGER oms_refdata_stamp_role AFTER UPDATE OF is_superuser, is_active ON auth_user "
    "FOR EACH STATEMENT EXECUTE FUNCTION oms_refdata_bump()",
]

BACKWARD = [
    *(f"DROP TRIGGER IF EXISTS oms_refdata_stamp ON {t}" for t in (*TABLES, "auth_user")),
    "DROP TRIGGER IF EXISTS oms_refdata_stamp_role ON auth_user",
    "DROP FUNCTION IF EXISTS oms_refdata_bump()",
    "DROP TABLE IF EXISTS oms_refdataversion",
    "DROP SEQUENCE IF EXISTS oms_refdata_seq",
]


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
