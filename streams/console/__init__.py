"""The operations console (``voc console``): a web application for operators.

It runs as its own aiohttp process, never on the worker's event loop. It reads the search
indices (feedback, follow-ups, dead letters, audit) and the Prometheus/Alertmanager HTTP
APIs, and it writes only to Kafka: follow-up outcomes, re-driven records and audit events.
The worker stays the single writer of every index, so the console cannot corrupt state.
"""
