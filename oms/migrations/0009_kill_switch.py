"""Engaged kill switches; they join the stamped reference data (the intake denies orders in their scope)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('oms', '0008_audit_checkpoint_high_water'),
    ]

    operations = [
        migrations.CreateModel(
            name='KillSwitch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('scope', models.CharField(choices=[('all', 'Everything'), ('portfolio', 'Portfolio'), ('instrument', 'Instrument')], max_length=16)),
                ('engaged_at', models.DateTimeField()),
                ('engaged_by', models.CharField(max_length=150)),
                ('lifted_at', models.DateTimeField(blank=True, null=True)),
                ('lifted_by', models.CharField(blank=True, max_length=150)),
                ('instrument', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='kill_switches', to='oms.instrument')),
                ('portfolio', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='kill_switches', to='oms.portfolio')),
            ],
            options={
                'constraints': [models.UniqueConstraint(condition=models.Q(('lifted_at__isnull', True)), fields=('scope', 'portfolio', 'instrument'), name='one_engaged_kill_switch_per_scope', nulls_distinct=False)],
            },
        ),
        migrations.RunSQL(
            "CREATE TRIGGER oms_refdata_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON oms_killswitch "
            "FOR EACH STATEMENT EXECUTE FUNCTION oms_refdata_bump()",
            "DROP TRIGGER IF EXISTS oms_refdata_stamp ON oms_killswitch",
        ),
    ]
