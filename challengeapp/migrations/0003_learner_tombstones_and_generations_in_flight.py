from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("challengeapp", "0002_challenge_owner_newest_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="quota",
            name="in_flight",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="quota",
            name="in_flight_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="DeletedLearner",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("clerk_id", models.CharField(max_length=150, unique=True)),
                ("deleted_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
    ]
