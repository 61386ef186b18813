"""The learning loop around an answer: grading and storing it (attempts), the spaced-review
schedule (review, FSRS), progress and its counts kept as answers happen, activity per day, history,
and exports (CSV, Anki). Uses core, quota and the models."""
