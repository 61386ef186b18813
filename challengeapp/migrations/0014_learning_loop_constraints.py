"""The constraints 0013's data makes hold: one review card per learner and piece of content, one
answer per card and review number."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("challengeapp", "0013_one_card_per_content")]

    operations = [
        migrations.AddConstraint(
            model_name="reviewcard",
            constraint=models.UniqueConstraint(fields=("owner", "source_key"), name="review_card_one_per_content"),
        ),
        migrations.AddConstraint(
            model_name="reviewlog",
            constraint=models.UniqueConstraint(fields=("card", "review_number"), name="review_log_one_per_number"),
        ),
    ]
