from django.urls import path, register_converter

from challengeapp import api, code_api, code_views, views, webhooks
from challengeapp.converters import RowIdConverter

register_converter(RowIdConverter, "id")

urlpatterns = [
    # The JSON API first: URLs are matched in order, and the API takes most requests.
    path("api/quota", api.quota, name="api-quota"),
    path("api/generate-challenge", api.generate_challenge, name="api-generate"),
    path("api/challenges/<id:challenge_id>/answer", api.answer, name="api-answer"),
    path("api/history", api.history, name="api-history"),
    path("api/my-history", api.my_history, name="api-my-history"),
    path("api/review", api.review, name="api-review"),
    path("api/review/<id:challenge_id>/answer", api.review_answer_view, name="api-review-answer"),
    path("api/review/<id:challenge_id>/leech", api.review_leech, name="api-review-leech"),
    path("api/progress", api.progress, name="api-progress"),
    path("api/challenges/<id:challenge_id>/report", api.report, name="api-report"),
    path("api/code-challenges", code_api.code_challenges, name="api-code-challenges"),
    path("api/code-challenges/<id:problem_id>", code_api.code_challenge, name="api-code-challenge"),
    path(
        "api/code-challenges/<id:problem_id>/submissions",
        code_api.code_submissions,
        name="api-code-submissions",
    ),
    path("api/code-challenges/<id:problem_id>/give-up", code_api.code_give_up, name="api-code-give-up"),
    path("api/code-challenges/<id:problem_id>/review", code_api.code_review, name="api-code-review"),
    path("", views.practice, name="practice"),
    path("challenges/generate/", views.challenge_generate_view, name="challenge-generate"),
    path("challenges/<id:challenge_id>/", views.challenge_detail, name="challenge-detail"),
    path("challenges/<id:challenge_id>/answer/", views.challenge_answer, name="challenge-answer"),
    path("challenges/<id:challenge_id>/report/", views.challenge_report, name="challenge-report"),
    path("code/", code_views.code_home, name="code-home"),
    path("code/new/", code_views.code_problem_new, name="code-new"),
    path("code/<id:problem_id>/", code_views.code_problem_detail, name="code-problem"),
    path("code/<id:problem_id>/submissions/", code_views.code_submit, name="code-submit"),
    path("code/<id:problem_id>/give-up/", code_views.code_give_up, name="code-give-up"),
    path("code/<id:problem_id>/review/", code_views.code_review, name="code-review"),
    path("history/", views.history, name="history"),
    path("review/", views.review, name="review"),
    path("review/<id:challenge_id>/answer/", views.review_answer_view, name="review-answer"),
    path("review/<id:challenge_id>/leech/", views.review_leech, name="review-leech"),
    path("progress/", views.progress, name="progress"),
    path("progress/export.csv", views.progress_export_csv, name="progress-export-csv"),
    path("progress/export.apkg", views.progress_export_anki, name="progress-export-anki"),
    path("sign-in/", views.sign_in, name="sign-in"),
    path("sign-out/", views.sign_out, name="sign-out"),
    path("healthz", views.healthz, name="healthz"),
    path("webhooks/clerk", webhooks.clerk_webhook, name="clerk-webhook"),
]
