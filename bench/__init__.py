"""Throughput benchmarks of the check-in path (see docs/benchmarks.md).

Each benchmark builds its own environment (database `gympulse_bench`, RabbitMQ vhost
`gympulse_bench`, Redis database 12), runs the real API and consumer as subprocesses and tears
them down at the end, even on error.
"""
