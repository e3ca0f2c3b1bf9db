"""The local stack without Docker: Kafka, OpenSearch, Prometheus, Alertmanager.

``up`` prepares every service (downloads once), starts the ones that are down in
parallel, waits for each to be healthy and creates the contract topics; ``down``
stops only the processes whose PID files ``up`` wrote.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from streams.settings import Settings
from streams.stack.kafka import KafkaService
from streams.stack.opensearch import OpenSearchService
from streams.stack.process import StackError
from streams.stack.prometheus import AlertmanagerService, PrometheusService
from streams.stack.service import Service, ServiceStatus

__all__ = ["SERVICE_NAMES", "StackError", "ServiceStatus", "down", "services", "status", "up"]

SERVICE_NAMES = ("kafka", "opensearch", "prometheus", "alertmanager")
_CLASSES: dict[str, type[Service]] = {
    "kafka": KafkaService,
    "opensearch": OpenSearchService,
    "prometheus": PrometheusService,
    "alertmanager": AlertmanagerService,
}

Report = Callable[[str], None]


def services(settings: Settings, only: Iterable[str] | None = None) -> list[Service]:
    """The managed services, in start order (optionally a subset by name)."""
    names = list(only) if only else list(SERVICE_NAMES)
    unknown = [n for n in names if n not in _CLASSES]
    if unknown:
        raise StackError(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(_CLASSES)}")
    return [_CLASSES[n](settings) for n in SERVICE_NAMES if n in names]


def up(
    settings: Settings,
    only: Iterable[str] | None = None,
    create_topics: bool = True,
    report: Report = print,
) -> list[ServiceStatus]:
    """Start what is down, wait until all are healthy, create topics; harmless if already up."""
    chosen = services(settings, only)
    for svc in chosen:
        t0 = time.monotonic()
        svc.prepare()
        if time.monotonic() - t0 > 2:
            report(f"{svc.name}: prepared in {time.monotonic() - t0:.0f}s")
    started: list[Service] = []
    for svc in chosen:
        if svc.start():
            started.append(svc)
        else:
            svc.reload()  # already ours and running: apply the freshly written config
    for svc in chosen:
        try:
            svc.wait_healthy()
        except StackError:
            if svc in started:
                svc.stop()  # do not leave a half-started server behind
            raise
    if create_topics and any(isinstance(s, KafkaService) for s in chosen):
        from streams.topics import create_topics as _create

        for name, outcome in _create(settings).items():
            if outcome != "exists":
                report(f"topic {name}: {outcome}")
    statuses = [svc.status() for svc in chosen]
    for st in statuses:
        verb = "started" if any(s.name == st.name for s in started) else "already up"
        report(f"{st.name:<13}{verb:<11} {st.address:<16} log: {st.log_file}")
    return statuses


def down(settings: Settings, only: Iterable[str] | None = None, report: Report = print) -> None:
    """Stop our processes (reverse start order); leaves other processes alone."""
    for svc in reversed(services(settings, only)):
        stopped = svc.stop()
        report(f"{svc.name:<13}{'stopped' if stopped else 'not running'}")


def status(settings: Settings, only: Iterable[str] | None = None) -> list[ServiceStatus]:
    """Up/down per service."""
    return [svc.status() for svc in services(settings, only)]
