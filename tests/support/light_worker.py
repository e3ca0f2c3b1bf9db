"""TEST SUPPORT: ``voc worker`` exactly as shipped (``run_worker``: same app, agents, Kafka
consumer, logging and web server) but enriching with the unit tests' bag-of-words analyzer
instead of the encoder model, so the integration tests can run several real workers on a
2-core machine. Run as ``python -m tests.support.light_worker`` with the usual ``VOC_*``
environment."""

from __future__ import annotations

from processors.pipeline import Enricher
from streams.cli.pipeline_cmd import run_worker
from streams.settings import get_settings
from tests.unit.fake_analyzer import FakeAnalyzer

if __name__ == "__main__":
    settings = get_settings()
    run_worker(settings, Enricher(settings.enrich, analyzer=FakeAnalyzer()))
