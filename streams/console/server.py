"""Process-level pieces of ``voc console``: an access log that never logs query strings
(search terms are customer words) or cookies."""

from __future__ import annotations

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse


class AccessLogger(AbstractAccessLogger):
    """``METHOD /path STATUS ms``: the path only, no query, no headers."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.0fms", request.method, request.path, response.status,
                         time * 1000)
