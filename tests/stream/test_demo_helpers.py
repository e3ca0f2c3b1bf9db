"""The demo's progress check reads the worker's /metrics text correctly."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from streams.cli.pipeline_cmd import worker_counts

METRICS_TEXT = """# HELP voc_messages_in_total Inbound records read
# TYPE voc_messages_in_total counter
voc_messages_in_total{source="sms"} 200.0
voc_messages_in_total{source="survey"} 124.0
voc_messages_in_created{source="sms"} 1.7e+09
voc_enriched_total{channel="sms",sentiment="negative"} 100.0
voc_enriched_total{channel="survey",sentiment="neutral"} 13.0
voc_deadletter_total{reason="invalid_json"} 2.0
voc_index_docs_total{result="ok"} 110.0
voc_index_docs_total{result="error"} 3.0
"""


@pytest.fixture
def metrics_url() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            body = METRICS_TEXT.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_worker_counts(metrics_url: str) -> None:
    assert worker_counts(metrics_url) == {"in": 324.0, "enriched": 113.0, "indexed": 110.0,
                                          "dead": 2.0}


def test_worker_counts_when_nothing_answers() -> None:
    assert worker_counts("http://127.0.0.1:9") == {"in": 0.0, "enriched": 0.0, "indexed": 0.0,
                                                   "dead": 0.0}
