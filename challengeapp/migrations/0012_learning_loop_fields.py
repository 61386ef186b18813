"""The learning loop's new fields (issue 18): one card per piece of content, misses and leeches,
idempotent review answers, "auto" difficulty's level per topic. 0013 fills them for existing rows;
the constraints that need those values come in 0014."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("challengeapp", "0011_blind_check"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AutoLevel",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "topic",
                    models.CharField(
                        choices=[
                            ("python", "Python"),
                            ("javascript", "JavaScript"),
                            ("sql", "SQL"),
                            ("algorithms", "Algorithms and complexity"),
                            ("data-structures", "Data structures"),
                            ("web", "HTTP and the web"),
                            ("git", "Git"),
                            ("system-design", "System design"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "difficulty",
                    models.CharField(
                        choices=[("easy", "Easy"), ("medium", "Medium"), ("hard", "Hard")], max_length=10
                    ),
                ),
                ("since", models.DateTimeField()),
                ("judged", models.PositiveIntegerField(default=0)),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("owner", "topic"), name="auto_level_per_topic")],
            },
        ),
        migrations.AddField(model_name="attempt", name="is_repeat", field=models.BooleanField(default=False)),
        migrations.AlterField(
            model_name="attempt",
            name="answered_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(model_name="progresscount", name="cards", field=models.IntegerField(default=0)),
        migrations.AddField(model_name="progresscount", name="recalled", field=models.IntegerField(default=0)),
        migrations.AddField(
            model_name="reviewcard", name="missed_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(model_name="reviewcard", name="misses", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(model_name="reviewcard", name="recalled", field=models.BooleanField(default=False)),
        migrations.AddField(
            model_name="reviewcard",
            name="source_key",
            field=models.CharField(default="", max_length=120),
            preserve_default=False,
        ),
        migrations.AddField(model_name="reviewcard", name="suspended", field=models.BooleanField(default=False)),
        migrations.AddField(
            model_name="reviewlog",
            name="review_number",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="reviewlog", name="shown_order", field=models.JSONField(blank=True, null=True)
        ),
    ]
