"""CodeDrill's domain: challenges, the learner's attempts, daily quotas and webhook deliveries."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Difficulty(models.TextChoices):
    EASY = "easy", "Easy"
    MEDIUM = "medium", "Medium"
    HARD = "hard", "Hard"


class Topic(models.TextChoices):
    """The curated topics: the only topic text that ever reaches a model prompt."""

    PYTHON = "python", "Python"
    JAVASCRIPT = "javascript", "JavaScript"
    SQL = "sql", "SQL"
    ALGORITHMS = "algorithms", "Algorithms and complexity"
    DATA_STRUCTURES = "data-structures", "Data structures"
    WEB = "web", "HTTP and the web"
    GIT = "git", "Git"
    SYSTEM_DESIGN = "system-design", "System design"


class Provider(models.TextChoices):
    BANK = "bank", "Built-in bank"
    OPENAI = "openai", "OpenAI"


class Verification(models.TextChoices):
    """How far the answer key can be trusted."""

    EXECUTED = "executed", "CodeDrill ran this code"
    # Not runnable: a second model answered it without the key, the options in another order, and
    # picked the key (quality/blind_check.py).
    CHECKED = "checked", "Answered blind by a second model"
    CURATED = "curated", "From the curated bank"
    UNVERIFIED = "unverified", "Not verified"


class Challenge(models.Model):
    """A generated challenge. Immutable once created; `correct_index` is after the server's shuffle."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="challenges")
    difficulty = models.CharField(max_length=10, choices=Difficulty.choices)
    topic = models.CharField(max_length=20, choices=Topic.choices)
    title = models.CharField(max_length=200)
    question = models.TextField()
    code = models.TextField(blank=True)
    code_language = models.CharField(max_length=30, blank=True)
    options = models.JSONField(help_text="Exactly four option texts, in the order shown.")
    correct_index = models.PositiveSmallIntegerField()
    explanation = models.TextField()
    provider = models.CharField(max_length=20, choices=Provider.choices)
    model_name = models.CharField(max_length=100, blank=True)
    # Where the content came from, to avoid repeats: a bank entry id, a procedural snippet hash,
    # or a hash of the normalized question for model output.
    source_key = models.CharField(max_length=120)
    # Set when a model failure was answered with a bank challenge, so the page can say so.
    is_fallback = models.BooleanField(default=False)
    verification = models.CharField(
        max_length=12, choices=Verification.choices, default=Verification.UNVERIFIED
    )
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    # The blind second check's cost (quality/blind_check.py): empty when none was asked.
    check_model_name = models.CharField(max_length=100, blank=True)
    check_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    check_completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # A learner's challenges newest first (history, the practice page, recent titles):
            # every such query orders by -id, which follows creation order.
            models.Index(fields=["owner", "-id"], name="challenge_owner_newest"),
            models.Index(fields=["owner", "source_key"], name="challenge_owner_source"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(correct_index__gte=0, correct_index__lte=3),
                name="challenge_correct_index_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_difficulty_display()}, {self.get_topic_display()})"


class Attempt(models.Model):
    """The learner's answer to a challenge. One per challenge: the first answer counts."""

    challenge = models.OneToOneField(Challenge, on_delete=models.CASCADE, related_name="attempt")
    chosen_index = models.PositiveSmallIntegerField()
    is_correct = models.BooleanField()
    # The moment of the answer (a default rather than auto_now_add, so a simulated clock can
    # pass one: bench/simulate_learning.py).
    answered_at = models.DateTimeField(default=timezone.now)
    # The learner had answered this content before (a bank repeat, a regenerated question): the
    # answer was a review of the content's card, not a first answer (learning/attempts.py).
    is_repeat = models.BooleanField(default=False)
    # Set when an operator corrected the challenge's key after this answer and it was graded again.
    regraded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(chosen_index__gte=0, chosen_index__lte=3),
                name="attempt_chosen_index_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{'Right' if self.is_correct else 'Wrong'} answer to {self.challenge_id}"


class Quota(models.Model):
    """How many challenges a learner generated on `day`, against their daily limit.

    `used` only means something for `day`: taking the first unit on a later day resets it, in the
    same UPDATE statement (see quota.py).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota")
    daily_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Leave empty to use DAILY_CHALLENGE_QUOTA."
    )
    used = models.PositiveIntegerField(default=0)
    day = models.DateField()
    # Generations under way for this learner, bounded per learner (generation/pipeline.py);
    # `in_flight_since` is when the latest one started, so a count left behind by a process that
    # died mid-generation expires instead of locking the learner out.
    in_flight = models.PositiveSmallIntegerField(default=0)
    in_flight_since = models.DateTimeField(null=True, blank=True)
    # Failed generations on `failures_day` (each was a billed model request), bounded by
    # GENERATION_FAILURES_PER_DAY; a generation under way holds one until it succeeds.
    failures = models.PositiveIntegerField(default=0)
    failures_day = models.DateField(null=True, blank=True)
    # When the export being built for this learner started: one at a time, with a lease
    # (learning/export.py).
    export_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(used__gte=0), name="quota_used_not_negative"),
        ]

    def __str__(self) -> str:
        return f"Quota of {self.user}"


class WebhookEvent(models.Model):
    """A processed svix delivery: its id makes at-least-once delivery take effect once."""

    svix_id = models.CharField(max_length=100, unique=True)
    event_type = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.event_type} ({self.svix_id})"


class DeletedLearner(models.Model):
    """A Clerk user deleted in Clerk: their data is gone, and this id never becomes a learner again
    (a still-valid session token or a late `user.created` must not re-create them)."""

    clerk_id = models.CharField(max_length=150, unique=True)
    deleted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Deleted learner {self.clerk_id}"


class ReviewState(models.IntegerChoices):
    """FSRS's card states."""

    LEARNING = 1, "Learning"
    REVIEW = 2, "Review"
    RELEARNING = 3, "Relearning"


class FsrsSchedule(models.Model):
    """An FSRS card's state, as the `fsrs` package has it (learning/review.py reads and writes it):
    a challenge's review card and a coding problem's alike."""

    state = models.PositiveSmallIntegerField(choices=ReviewState.choices)
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    stability = models.FloatField(null=True, blank=True)
    difficulty = models.FloatField(null=True, blank=True)
    due_at = models.DateTimeField()
    last_review_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class ReviewCard(FsrsSchedule):
    """The spaced-review schedule of one piece of content for one learner (FSRS card state), and
    the order its options are shown in for the pending review: drawn anew after every review, kept
    here so the learner cannot learn positions and an answer is graded against what was shown.

    One card per learner and piece of content (`source_key`): a repeat of the content (served from
    the bank again, or generated again) joins this card; `challenge` is the first serving."""

    challenge = models.OneToOneField(Challenge, on_delete=models.CASCADE, related_name="review_card")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_cards")
    source_key = models.CharField(max_length=120)
    option_order = models.JSONField(help_text="The option indexes in the order the next review shows them.")
    reviews = models.PositiveIntegerField(default=0, help_text="Reviews after the first answer.")
    # Answered right on a review that came at least RETENTION_GAP after the answer before it, and
    # not missed since: the retention "mastered" asks for (learning/progress.py).
    retained = models.BooleanField(default=False)
    # The latest answer was right and not a guess: what mastery reads (learning/progress.py).
    recalled = models.BooleanField(default=False)
    # Wrong answers after the first one; at LEECH_MISSES the card is a leech (learning/review.py).
    misses = models.PositiveIntegerField(default=0)
    # When the card was last missed: today's misses come first in the queue.
    missed_at = models.DateTimeField(null=True, blank=True)
    # Set aside by the learner (a leech): never served or counted as due until resumed.
    suspended = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["owner", "due_at"], name="review_card_owner_due")]
        constraints = [
            models.UniqueConstraint(fields=["owner", "source_key"], name="review_card_one_per_content"),
        ]

    def __str__(self) -> str:
        return f"Review of {self.challenge_id} due {self.due_at:%Y-%m-%d %H:%M}"


class ReviewRating(models.IntegerChoices):
    AGAIN = 1, "Again"
    HARD = 2, "Hard"
    GOOD = 3, "Good"
    EASY = 4, "Easy"


class Confidence(models.TextChoices):
    NONE = "", "Not said"
    GUESSED = "guessed", "I guessed"
    KNEW = "knew", "I knew it"


class ReviewLog(models.Model):
    """Every answer that moved a schedule: the first answer to a challenge and every review after
    it. The schedule can be rebuilt from these, and progress and streaks are computed from them."""

    card = models.ForeignKey(ReviewCard, on_delete=models.CASCADE, related_name="logs")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_logs")
    is_first_answer = models.BooleanField()
    # 0 for the first answer, n for the card's n-th review: one answer per number, so a duplicate
    # submission (a double click, a retried request, two at once) can never grade a card twice.
    review_number = models.PositiveIntegerField(default=0)
    # The option order the learner saw (None: in the challenge's order, as first answers are).
    shown_order = models.JSONField(null=True, blank=True)
    chosen_index = models.PositiveSmallIntegerField(
        help_text="The option picked, as stored on the challenge."
    )
    is_correct = models.BooleanField()
    confidence = models.CharField(max_length=10, choices=Confidence.choices, blank=True)
    rating = models.PositiveSmallIntegerField(choices=ReviewRating.choices)
    # Time since the card's previous answer (0 for a first answer): retention over a gap of days
    # is what "mastered" asks for.
    elapsed_seconds = models.PositiveIntegerField(default=0)
    reviewed_at = models.DateTimeField()
    due_after = models.DateTimeField(help_text="When the card was due next after this answer.")

    class Meta:
        indexes = [models.Index(fields=["owner", "reviewed_at"], name="review_log_owner_time")]
        constraints = [
            models.UniqueConstraint(fields=["card", "review_number"], name="review_log_one_per_number"),
        ]

    def __str__(self) -> str:
        return f"{self.get_rating_display()} on {self.card_id} at {self.reviewed_at:%Y-%m-%d %H:%M}"


class ActivityDay(models.Model):
    """How many answers and reviews a learner gave on a calendar day (in TIME_ZONE at the time):
    counted as they happen, so streaks and the activity calendar read a row per active day instead
    of grouping every review by day in SQL."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="activity_days"
    )
    day = models.DateField()
    answers = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "day"], name="activity_day_once")]

    def __str__(self) -> str:
        return f"{self.answers} answers on {self.day}"


class ProgressCount(models.Model):
    """Per learner, topic and difficulty: first answers, how many were right, and how many of
    those challenges' review cards count as retained. Kept as answers, reviews and regrades happen
    (learning/progress_counts.py), so the progress page reads one row per group instead of grouping
    the learner's whole history."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    topic = models.CharField(max_length=20, choices=Topic.choices)
    difficulty = models.CharField(max_length=10, choices=Difficulty.choices)
    # Signed: a count is only ever changed by a delta, and a drift must show, not fail a request.
    answered = models.IntegerField(default=0)
    correct = models.IntegerField(default=0)
    retained = models.IntegerField(default=0)
    # Review cards in the group (one per piece of content), and those whose latest answer was
    # right and not a guess: mastery reads these.
    cards = models.IntegerField(default=0)
    recalled = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "topic", "difficulty"], name="progress_count_group")
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.difficulty}: {self.correct}/{self.answered}, {self.retained} retained"


class AutoLevel(models.Model):
    """Where "auto" difficulty stands for a learner in a topic, and since when: only first answers
    at this level since `since` are judged, so the answers that moved it are never counted again
    (learning/auto_difficulty.py)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    topic = models.CharField(max_length=20, choices=Topic.choices)
    difficulty = models.CharField(max_length=10, choices=Difficulty.choices)
    since = models.DateTimeField()
    # How many answers at this level there were when it was last judged: it is judged again only
    # AUTO_DIFFICULTY_RUN answers later.
    judged = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "topic"], name="auto_level_per_topic")]

    def __str__(self) -> str:
        return f"{self.topic} at {self.difficulty} since {self.since:%Y-%m-%d %H:%M}"


class ReportReason(models.TextChoices):
    WRONG_KEY = "wrong_key", "The marked answer is wrong"
    UNCLEAR = "unclear", "The question is unclear"
    BROKEN_CODE = "broken_code", "The code is broken"
    OTHER = "other", "Something else"


class Report(models.Model):
    """A learner's report of a problem with an answered challenge's content. One per challenge
    (a challenge has one learner); reporting again changes it."""

    challenge = models.OneToOneField(Challenge, on_delete=models.CASCADE, related_name="report")
    reason = models.CharField(max_length=20, choices=ReportReason.choices)
    note = models.TextField(blank=True, max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["updated_at"], name="report_updated")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} on {self.challenge_id}"


class ContentDecision(models.Model):
    """One operator decision about one piece of content (every challenge with this source_key: a
    bank entry, a procedural snippet or a model's challenge; see content/identity.py),
    which applies to every learner.

    The decisions are a record, never overwritten: a dismissal closes the reports before it and
    nothing else; a retirement or a correction stands until a later decision reverses it
    explicitly (`reverses`); a later correction supersedes an earlier one."""

    class Outcome(models.TextChoices):
        RETIRED = "retired", "Retired: never served again"
        CORRECTED = "corrected", "Key corrected"
        DISMISSED = "dismissed", "Reports dismissed"
        REVERSED = "reversed", "Reversed an earlier decision"

    source_key = models.CharField(max_length=120, db_index=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    corrected_option = models.TextField(blank=True, help_text="The right option's text, for a corrected key.")
    previous_option = models.TextField(
        blank=True, help_text="For a corrected key, the key's text before it: what reversing it restores."
    )
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals"
    )
    answers_regraded = models.PositiveIntegerField(
        default=0, help_text="Stored answers graded again against the new key."
    )
    grades_changed = models.PositiveIntegerField(
        default=0, help_text="Of those, answers that went from right to wrong or back."
    )
    decided_at = models.DateTimeField()
    decided_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        constraints = [
            # A decision is reversed once: a second reversal of it would be a no-op on the record.
            models.UniqueConstraint(fields=["reverses"], name="content_decision_reversed_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()}: {self.source_key}"


class CodeLanguage(models.TextChoices):
    PYTHON = "python", "Python"
    JAVASCRIPT = "javascript", "JavaScript"


class CodeOutcome(models.TextChoices):
    UNDER_WAY = "", "Under way"
    SOLVED_FIRST = "solved_first", "Solved first time"
    SOLVED_AFTER = "solved_after", "Solved after several tries"
    GAVE_UP = "gave_up", "Gave up"


class CodeProblem(models.Model):
    """A "write the code" problem served to one learner: a function to write in `language`, examples
    the learner sees and hidden tests (each `{"args": "<the call's arguments>", "expected": "<the
    value>"}`, as Python literals for Python, as JSON for JavaScript), and a reference solution that
    passed every test in the sandbox before the problem was served (coding/). Immutable once
    created, except `gave_up_at`."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="code_problems"
    )
    difficulty = models.CharField(max_length=10, choices=Difficulty.choices)
    topic = models.CharField(max_length=20, choices=Topic.choices)
    title = models.CharField(max_length=200)
    statement = models.TextField()
    function_name = models.CharField(max_length=60)
    signature = models.CharField(max_length=300)
    language = models.CharField(max_length=20, choices=CodeLanguage.choices, default=CodeLanguage.PYTHON)
    starter_code = models.TextField()
    examples = models.JSONField(help_text="The tests the learner sees: [{args, expected}, ...].")
    hidden_tests = models.JSONField(
        help_text="The tests a submission must also pass: [{args, expected}, ...]."
    )
    reference_solution = models.TextField()
    explanation = models.TextField()
    provider = models.CharField(max_length=20, choices=Provider.choices)
    model_name = models.CharField(max_length=100, blank=True)
    # A curated problem's id ("code:<id>"), or a hash of a model's statement: to avoid repeats.
    source_key = models.CharField(max_length=120)
    # Set when the learner asked for the solution before solving it.
    gave_up_at = models.DateTimeField(null=True, blank=True)
    # How the problem ended, set once (coding/review.py): solved on the first Submit, solved after
    # several, or given up; "" while it is under way. `outcome_submits` counts the Submits it took.
    outcome = models.CharField(max_length=20, choices=CodeOutcome.choices, blank=True, default="")
    outcome_submits = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["owner", "-id"], name="code_problem_owner_newest"),
            models.Index(fields=["owner", "source_key"], name="code_problem_owner_source"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(difficulty__in=Difficulty.values), name="code_problem_difficulty"
            ),
            models.CheckConstraint(
                condition=models.Q(language__in=CodeLanguage.values), name="code_problem_language"
            ),
            models.CheckConstraint(condition=~models.Q(function_name=""), name="code_problem_function_name"),
            models.CheckConstraint(
                condition=models.Q(outcome__in=CodeOutcome.values), name="code_problem_outcome"
            ),
            models.CheckConstraint(
                condition=models.Q(outcome="", finished_at__isnull=True)
                | (~models.Q(outcome="") & models.Q(finished_at__isnull=False)),
                name="code_problem_finished_with_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_difficulty_display()}, {self.get_topic_display()})"


class SubmissionKind(models.TextChoices):
    RUN = "run", "Run the examples"
    SUBMIT = "submit", "Submit against every test"


class CodeSubmission(models.Model):
    """One run of the learner's code against a problem's tests, in the sandbox: the examples only
    (`run`) or every test (`submit`). `results` holds one entry per test run, in order:
    `{"visible", "passed", "actual", "error"}` (a hidden test's expected value is never stored
    here, nor its arguments)."""

    problem = models.ForeignKey(CodeProblem, on_delete=models.CASCADE, related_name="submissions")
    code = models.TextField()
    kind = models.CharField(max_length=10, choices=SubmissionKind.choices)
    passed = models.BooleanField()
    tests_passed = models.PositiveIntegerField()
    tests_total = models.PositiveIntegerField()
    results = models.JSONField()
    # What went wrong with the run as a whole (an endless loop, too much memory...), or "".
    message = models.TextField(blank=True)
    # The code's own printed output, bounded.
    output = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["problem", "-id"], name="code_submission_newest")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tests_passed__lte=models.F("tests_total")),
                name="code_submission_passed_le_total",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=SubmissionKind.values), name="code_submission_kind"
            ),
            models.CheckConstraint(
                condition=models.Q(passed=False) | models.Q(tests_passed=models.F("tests_total")),
                name="code_submission_passed_means_all",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.problem_id}: {self.tests_passed}/{self.tests_total}"


class CodeRunAllowance(models.Model):
    """Per learner: code runs started on `day` (bounded by CODE_RUNS_PER_DAY) and runs under way
    (bounded by CODE_RUNS_IN_FLIGHT_PER_LEARNER, with a lease against a process that died), taken
    and given back by conditional UPDATEs (coding/allowance.py). Not the challenge quota: runs are
    not charged."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    runs = models.PositiveIntegerField(default=0)
    in_flight = models.PositiveSmallIntegerField(default=0)
    in_flight_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.runs} code runs on {self.day}"


class CodeReviewCard(FsrsSchedule):
    """The spaced-review schedule (FSRS, as ReviewCard) of one coding problem for one learner.

    Created when the problem ends (solved or given up), graded by how it ended (solved on the first
    Submit, after several Submits, or given up: coding/review.py). A review is a round: the learner
    writes the function again from the starter code (`round_started_at` set); the round's first
    passing Submit or a give-up grades the card the same way and closes the round. One card per
    learner and content (`source_key`): a curated problem served again joins its card, and
    `problem` stays the first serving, the one a review round opens (coding/review.py)."""

    problem = models.OneToOneField(CodeProblem, on_delete=models.CASCADE, related_name="review_card")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    source_key = models.CharField(max_length=120)
    reviews = models.PositiveIntegerField(default=0, help_text="Review rounds ended after the first.")
    last_outcome = models.CharField(max_length=20, choices=CodeOutcome.choices)
    # Set while a review round is open: Submits from this moment on belong to the round.
    round_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "due_at"], name="code_review_owner_due")]
        constraints = [
            models.UniqueConstraint(fields=["owner", "source_key"], name="code_review_one_per_content"),
            models.CheckConstraint(
                condition=models.Q(last_outcome__in=CodeOutcome.values) & ~models.Q(last_outcome=""),
                name="code_review_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"Review of {self.problem_id}, due {self.due_at:%Y-%m-%d %H:%M}"
