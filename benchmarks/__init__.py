"""`make bench`: Salur's throughput and latency against raw Kafka and Postgres baselines."""
