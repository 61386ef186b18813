"""The measurements `make bench` takes on each backend, one module per load, in the order they run.

Each module owns its labels and settings and a `measure(bench, …)` function that runs the load on a
`harness.BackendBench` and stores what it measured in `bench.result`; bench/run.py calls them in
this order, bench/report.py judges the results against the targets.
"""

MEASUREMENTS = ("storm", "ceiling", "reads", "stalled", "generate", "visit", "slow", "coding", "queries")
