"""The audit log's Merkle tree (issue 18): sealed leaves, stored perfect subtrees and signed tree heads, all append-only."""


import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('oms', '0009_kill_switch'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditTreeHead',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tree_size', models.PositiveBigIntegerField(unique=True)),
                ('root_hash', models.BinaryField(max_length=32)),
                ('timestamp', models.PositiveBigIntegerField(help_text='Milliseconds since the epoch, UTC (RFC 9162 §4.9); signed.')),
                ('key_id', models.CharField(help_text='Which Ed25519 key signed it (keys can be rotated).', max_length=64)),
                ('signature', models.BinaryField(max_length=64)),
                ('prev_size', models.PositiveBigIntegerField()),
                ('created_at', models.DateTimeField()),
            ],
            options={
                'ordering': ['-tree_size'],
            },
        ),
        migrations.CreateModel(
            name='AuditTreeNode',
            fields=[
                ('pk', models.CompositePrimaryKey('level', 'index', blank=True, editable=False, primary_key=True, serialize=False)),
                ('level', models.PositiveSmallIntegerField()),
                ('index', models.PositiveBigIntegerField()),
                ('hash', models.BinaryField(max_length=32)),
            ],
        ),
        migrations.CreateModel(
            name='AuditLeaf',
            fields=[
                ('leaf_index', models.PositiveBigIntegerField(primary_key=True, serialize=False)),
                ('event', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='leaf', to='oms.auditevent')),
            ],
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='audittreehead',
            trigger=pgtrigger.compiler.Trigger(name='audit_tree_head_append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;", hash='70ab2af8c4bc9b4b484940ced646a55d411e448b', operation='UPDATE OR DELETE', pgid='pgtrigger_audit_tree_head_append_only_87849', table='oms_audittreehead', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='audittreenode',
            trigger=pgtrigger.compiler.Trigger(name='audit_tree_node_append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;", hash='cbe5cc34b60a145d5487a1844ab54dbb876890ec', operation='UPDATE OR DELETE', pgid='pgtrigger_audit_tree_node_append_only_60a73', table='oms_audittreenode', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditleaf',
            trigger=pgtrigger.compiler.Trigger(name='audit_leaf_append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;", hash='115da65d26fb580f3ca2c334086a1fcdc0dd93b0', operation='UPDATE OR DELETE', pgid='pgtrigger_audit_leaf_append_only_caf19', table='oms_auditleaf', when='BEFORE')),
        ),
    ]
