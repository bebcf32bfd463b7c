"""gympulse serving layer: ingestion API, auth, queues, cache, schema."""
