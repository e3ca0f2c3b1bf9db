"""A tiny HTTP proxy that lets the ``elasticsearch`` client talk to OpenSearch in tests.

Elasticsearch's server is not open source, so CI runs OpenSearch. The official
``elasticsearch`` client (8.x/9.x) refuses a server that does not send
``X-Elastic-Product: Elasticsearch`` and sends ``compatible-with`` vendor media types
that OpenSearch rejects. This proxy adds the header and rewrites those media types to
plain JSON/NDJSON in both directions; bodies pass through unchanged, so every query,
mapping and bulk request still runs on a real search engine.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_VENDOR = re.compile(
    r"application/vnd\.elasticsearch\+(json|x-ndjson)\s*;\s*compatible-with\s*=\s*\d+",
    re.IGNORECASE,
)
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailers", "transfer-encoding", "upgrade", "content-length", "host",
}


def plain_media_type(value: str) -> str:
    """``application/vnd.elasticsearch+json; compatible-with=9`` -> ``application/json``."""
    return _VENDOR.sub(lambda m: f"application/{m.group(1).lower()}", value)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: tuple[str, int] = ("127.0.0.1", 9200)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Quiet: the test output is the place for test results, not access logs."""

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {}
        for key, value in self.headers.items():
            if key.lower() in _HOP_BY_HOP:
                continue
            if key.lower() in ("content-type", "accept"):
                value = plain_media_type(value)
            headers[key] = value
        if body is not None:
            headers["Content-Length"] = str(len(body))
        host, port = self.upstream
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        except OSError as exc:
            self.send_error(502, f"upstream {host}:{port} unreachable: {exc}")
            return
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        for key, value in resp.getheaders():
            if key.lower() in _HOP_BY_HOP:
                continue
            if key.lower() == "content-type":
                value = plain_media_type(value)
            self.send_header(key, value)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward


class _Server(ThreadingHTTPServer):
    """Remembers its open client connections, so a stop can cut them like a dead server."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.open_conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self.open_conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self.open_conns.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self._conns_lock:
            conns = list(self.open_conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class EsProxy:
    """The proxy on 127.0.0.1 (a free port, or ``port`` to bring a stopped one back where
    its clients look) in a daemon thread; use as a context manager."""

    handler_class: type[_Handler] = _Handler

    def __init__(self, upstream_url: str = "http://127.0.0.1:9200", port: int = 0, *,
                 tls: ssl.SSLContext | None = None, **handler_attrs: object) -> None:
        parts = urlsplit(upstream_url)
        handler = type(
            "_BoundHandler",
            (self.handler_class,),
            {"upstream": (parts.hostname or "127.0.0.1", parts.port or 9200), **handler_attrs},
        )
        self._server = _Server(("127.0.0.1", port), handler)
        self._tls = tls is not None
        if tls is not None:  # TLS on every accepted connection (the secured-search tests)
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{'https' if self._tls else 'http'}://{host}:{port}"

    def start(self) -> EsProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open (keep-alive) connection: the clients then see
        what they would of a search node that went away."""
        self._server.shutdown()
        self._server.server_close()
        self._server.cut_connections()
        self._thread.join(timeout=5)

    def __enter__(self) -> EsProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    # ``python -m tests.support.es_proxy UPSTREAM_URL PORT``: the proxy as a process of its
    # own, which a fault test can freeze (SIGSTOP) to play a hung search node
    import sys

    proxy = EsProxy(sys.argv[1], int(sys.argv[2]))
    proxy._server.serve_forever()
