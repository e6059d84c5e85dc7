"""The long-running side: schedule, one-instance lease, health/metrics endpoint, mapping hot reload."""
