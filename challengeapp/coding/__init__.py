"""Coding problems ("Write the code"): the curated set, the grading harness that runs a learner's
function in the sandbox, the bounds on runs, and serving a new problem against the daily quota."""
