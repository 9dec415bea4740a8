import django.db.models
from django.db import migrations

import protection.keys.ladder


class Migration(migrations.Migration):

    dependencies = [
        ('protection', '0014_outbox_skipped'),
    ]

    operations = [
        migrations.AddField(
            model_name='apikey',
            name='challenge_ladder',
            field=django.db.models.JSONField(
                blank=True,
                default=dict,
                help_text='Per risk tier: evidence asked on top of the required verifications, e.g. {"high": ["captcha", "pow_hard"], "critical": "deny"}; {"dry_run": true} to only record what it would ask. A tier not named here follows CHALLENGE_LADDER.',
                validators=[protection.keys.ladder.validate_challenge_ladder],
            ),
        ),
    ]
