"""`gympulse demo` (what `make demo` runs): a gym on a fresh machine, end to end. `run` migrates,
simulates and ingests through the API and the queue; `churn` runs the pipeline, scores on demand,
queues a report and serves the UIs."""

from flows.demo.run import run_demo

__all__ = ["run_demo"]
