"""The hand-written async core: client, transport, retries, rate limits and the cohort engine."""
