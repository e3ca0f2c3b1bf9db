"""The fault-test harness: real ``voc worker`` processes against the real local stack.

Every scenario gets its own topic prefix, consumer group, search alias, web port and
data directory, so fault tests can run beside other suites on the same Kafka and
OpenSearch without seeing each other's data. Verification never goes through the code
under test: documents are counted with plain HTTP against OpenSearch, topics are read
with kafka-python, metrics are scraped from ``/metrics``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from streams.settings import Settings
from tests.reliability.messages import Message

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "reliability.json"
ScenarioT = TypeVar("ScenarioT", bound="Scenario")


def free_port() -> int:
    """A TCP port nobody listens on right now (for a worker's web server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(pred: Callable[[], Any], timeout_s: float, interval_s: float = 1.0,
               what: str = "condition") -> Any:
    """Poll ``pred`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout_s
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = pred()
        except Exception as exc:  # a server in the middle of a restart
            last_exc = exc
            value = None
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}"
                         + (f" (last error: {last_exc!r})" if last_exc else ""))


def kafka_up(settings: Settings) -> bool:
    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                                 request_timeout_ms=5000)
    except Exception:
        return False
    try:
        admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        admin.close()


def search_up(settings: Settings) -> bool:
    try:
        r = httpx.get(settings.search_url.rstrip("/") + "/_cluster/health", timeout=3.0)
        return r.status_code == 200 and r.json().get("status") in ("green", "yellow")
    except (httpx.HTTPError, ValueError):
        return False


def record_figures(test: str, figures: dict[str, Any], results: Path = RESULTS
                   ) -> dict[str, Any]:
    """Append one JSON line of figures for the report (and print it for the log); the scale
    suite writes the same rows to its own file."""
    row = {"test": test, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    print(json.dumps(row))
    return row


@dataclass
class WorkerProc:
    """One ``voc worker`` subprocess with its own web port and data directory."""

    name: str
    env: dict[str, str]
    web_port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> WorkerProc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli.main", "worker"], cwd=REPO, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.started_at = time.monotonic()
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def health(self) -> tuple[int, Any]:
        try:
            r = httpx.get(self.base + "/health", timeout=3.0)
            return r.status_code, r.json()
        except (httpx.HTTPError, ValueError):
            return 0, None

    def wait_healthy(self, timeout_s: float = 180.0) -> None:
        def ok() -> bool:
            if not self.alive:
                raise AssertionError(f"worker {self.name} exited ({self.proc.returncode}); "
                                     f"log tail:\n{self.log_tail()}")
            return self.health()[0] == 200
        try:
            wait_until(ok, timeout_s, what=f"worker {self.name} /health")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nlog tail:\n{self.log_tail()}") from None

    def metrics(self) -> dict[str, float]:
        """Every sample as ``name{label=value,...}`` -> value ({} when not reachable)."""
        try:
            text = httpx.get(self.base + "/metrics", timeout=3.0).text
        except httpx.HTTPError:
            return {}
        out: dict[str, float] = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
        return out

    def kill9(self) -> None:
        """SIGKILL, no goodbye: the consumer group and Kafka find out on their own."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time (teardown)."""
        if not self.alive:
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@contextlib.contextmanager
def scenario_lifetime(sc: ScenarioT, request: Any,
                      before_teardown: Callable[[], None] | None = None) -> Iterator[ScenarioT]:
    """What every scenario fixture does around its test: the topics are created first; after
    the test, each worker's log tail is printed if the test body failed (the
    ``rep_call_failed`` flag the conftests' report hooks set), ``before_teardown`` runs, and
    the scenario's topics, group, indices and workers are removed."""
    sc.create_topics()
    try:
        yield sc
    finally:
        if getattr(request.node, "rep_call_failed", False):
            for w in sc.workers:
                print(f"--- {w.name} log tail ---\n{w.log_tail(80)}")
        if before_teardown is not None:
            before_teardown()
        sc.teardown()


def metric_sum(samples: dict[str, float], name: str) -> float:
    """Sum of every sample of ``name`` (all label values)."""
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


def messages_in(worker: WorkerProc) -> float:
    """Inbound records the worker has read so far (0 when it does not answer)."""
    return metric_sum(worker.metrics(), "voc_messages_in_total")


@dataclass
class Scenario:
    """Isolated topics, group, alias and workers for one fault test; cleans up after itself."""

    test: str
    workdir: Path
    base: Settings = field(default_factory=Settings)
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    workers: list[WorkerProc] = field(default_factory=list)
    _rants: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        slug = "".join(ch if ch.isalnum() else "-" for ch in self.test.lower())[:30].strip("-")
        self.name = f"rel-{slug}-{self.run}"
        self.settings = self.base.model_copy(update={
            "topic_prefix": f"{self.name}.", "consumer_group": self.name,
            "search_alias": self.name,
        })

    # ------------------------------------------------------------------ setup / teardown

    def topic(self, logical: str) -> str:
        return self.settings.topic(logical)

    def create_topics(self) -> None:
        """Contract topics with their partition counts and configs (``voc topics create``)."""
        from streams.topics import create_topics

        create_topics(self.settings)

    def worker_env(self, web_port: int, data_dir: Path, extra: dict[str, str] | None = None
                   ) -> dict[str, str]:
        env = dict(os.environ)  # VOC_ENRICH__* etc. pass through; identity is overridden
        env.update({
            "VOC_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap,
            "VOC_SEARCH_URL": self.settings.search_url,
            "VOC_TOPIC_PREFIX": self.settings.topic_prefix,
            "VOC_CONSUMER_GROUP": self.settings.consumer_group,
            "VOC_SEARCH_ALIAS": self.settings.search_alias,
            "VOC_SEARCH_REPLICAS": "0",
            "VOC_WEB_PORT": str(web_port),
            "VOC_WORKER_DATA_DIR": str(data_dir),
            "VOC_LOG_LEVEL": "INFO",
            "VOC_PSEUDONYM_KEY_FILE": str(write_pseudonym_key(data_dir.parent)),
            "PYTHONUNBUFFERED": "1",
        })
        env.update(extra or {})
        return env

    def add_worker(self, extra_env: dict[str, str] | None = None) -> WorkerProc:
        idx = len(self.workers)
        port = free_port()
        w = WorkerProc(name=f"{self.name}-w{idx}",
                       env=self.worker_env(port, self.workdir / f"worker{idx}", extra_env),
                       web_port=port, log_path=self.workdir / f"worker{idx}.log")
        self.workers.append(w)
        return w

    def restart_worker(self, old: WorkerProc) -> WorkerProc:
        """A new process with the same identity (group, data dir, port) as ``old``."""
        w = WorkerProc(name=old.name + "r", env=dict(old.env), web_port=old.web_port,
                       log_path=old.log_path)
        self.workers.append(w)
        return w.start()

    def teardown(self) -> None:
        for w in self.workers:
            with contextlib.suppress(Exception):
                w.stop()
        with contextlib.suppress(Exception):
            self._drop_index()
        with contextlib.suppress(Exception):
            self._delete_topics()

    def _drop_index(self) -> None:
        base = self.settings.search_url.rstrip("/")
        httpx.delete(f"{base}/{self.name}-*", timeout=30.0)
        for kind in ("_index_template", "_template"):
            r = httpx.get(f"{base}/{kind}/{self.name}*", timeout=10.0)
            if r.status_code == 200:
                body = r.json()
                names = ([t["name"] for t in body.get("index_templates", [])]
                         if kind == "_index_template" else list(body))
                for n in names:
                    httpx.delete(f"{base}/{kind}/{n}", timeout=10.0)

    def _delete_topics(self) -> None:
        admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        try:
            ours = [t for t in admin.list_topics() if t.startswith(self.name)]
            if ours:
                admin.delete_topics(ours)
        finally:
            admin.close()

    # ------------------------------------------------------------------ traffic

    def producer(self) -> KafkaProducer:
        from streams.replay import producer_config

        cfg = producer_config(self.settings)
        cfg["retries"] = 2_147_483_647  # ride out a broker restart: never give up a send
        cfg["delivery_timeout_ms"] = 300_000
        cfg["request_timeout_ms"] = 30_000
        cfg["max_request_size"] = 3 * 1024 * 1024  # the corpus has 1 MB bodies
        return KafkaProducer(**cfg)

    def produce_in_background(self, messages: list[Message], rate: float
                              ) -> tuple[threading.Thread, dict[str, Any]]:
        """``produce`` on a thread; ``state`` has ``sent`` so far and any ``error``
        (the test checks it after ``join()``)."""
        state: dict[str, Any] = {"sent": 0, "error": None}

        def run() -> None:
            try:
                self.produce(messages, rate=rate,
                             on_progress=lambda i: state.__setitem__("sent", i))
            except Exception as exc:  # surfaced by the test after join()
                state["error"] = exc

        t = threading.Thread(target=run, name="replay", daemon=True)
        t.start()
        return t, state

    def produce(self, messages: Iterable[Message], *, rate: float | None = None,
                producer: KafkaProducer | None = None,
                on_progress: Callable[[int], None] | None = None) -> int:
        """Send every message (acks=all) and wait for all of them; returns how many."""
        own = producer is None
        prod = producer or self.producer()
        futures = []
        started = time.monotonic()
        try:
            for i, m in enumerate(messages, 1):
                topic = self.topic("survey_replies" if m.source == "survey" else "sms_inbound")
                futures.append(prod.send(topic, key=m.key, value=m.value))
                if rate:
                    ahead = i / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
                if on_progress is not None:
                    on_progress(i)
            prod.flush(timeout=300)
            for f in futures:
                f.get(timeout=300)
        finally:
            if own:
                prod.close(timeout=30)
        return len(futures)

    # ------------------------------------------------------------------ verification

    def index_ids(self) -> Counter[str]:
        """How many documents each feedback id has across every index behind the alias."""
        base = self.settings.search_url.rstrip("/")
        httpx.post(f"{base}/{self.name}/_refresh", timeout=30.0)
        counts: Counter[str] = Counter()
        r = httpx.post(f"{base}/{self.name}/_search", params={"scroll": "2m"},
                       json={"size": 5000, "_source": ["id", "is_rant"],
                             "query": {"match_all": {}}}, timeout=60.0)
        r.raise_for_status()
        body = r.json()
        scroll_id = body.get("_scroll_id")
        try:
            while body["hits"]["hits"]:
                for h in body["hits"]["hits"]:
                    counts[h["_id"]] += 1
                    if h.get("_source", {}).get("is_rant"):
                        self._rants.add(h["_id"])
                r = httpx.post(f"{base}/_search/scroll",
                               json={"scroll": "2m", "scroll_id": scroll_id}, timeout=60.0)
                r.raise_for_status()
                body = r.json()
                scroll_id = body.get("_scroll_id", scroll_id)
        finally:
            if scroll_id:
                httpx.request("DELETE", f"{base}/_search/scroll",
                              json={"scroll_id": scroll_id}, timeout=10.0)
        return counts

    @property
    def rant_ids(self) -> set[str]:
        """Feedback ids the index says are rants (filled by ``index_ids``)."""
        return set(self._rants)

    def index_count(self) -> int:
        base = self.settings.search_url.rstrip("/")
        try:
            httpx.post(f"{base}/{self.name}/_refresh", timeout=10.0)
            r = httpx.get(f"{base}/{self.name}/_count", timeout=10.0)
        except httpx.HTTPError:
            return -1
        return int(r.json().get("count", -1)) if r.status_code == 200 else -1

    def _records(self, logical: str, timeout_s: float = 60.0) -> Iterator[Any]:
        """Every record of a topic, from the beginning to the end offsets seen at the start."""
        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap,
                                 enable_auto_commit=False, group_id=None,
                                 consumer_timeout_ms=5000)
        topic = self.topic(logical)
        try:
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            end = consumer.end_offsets(parts)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if all(consumer.position(tp) >= end[tp] for tp in parts):
                    break
                for records in consumer.poll(timeout_ms=1000, max_records=5000).values():
                    yield from records
        finally:
            consumer.close()

    def read_topic(self, logical: str, timeout_s: float = 60.0) -> list[tuple[bytes | None, bytes]]:
        """(key, value) of every record of a topic."""
        return [(r.key, r.value) for r in self._records(logical, timeout_s)]

    def positions(self, logical: str, timeout_s: float = 60.0
                  ) -> dict[bytes, list[tuple[int, int]]]:
        """Every record value of a topic -> the (partition, offset) pairs it sits at."""
        out: dict[bytes, list[tuple[int, int]]] = {}
        for r in self._records(logical, timeout_s):
            out.setdefault(r.value, []).append((r.partition, r.offset))
        return out

    def trace_missing(self, messages: list[Message]) -> str:
        """Where the valid messages missing from the index got to: the inbound position
        each was produced at, and whether it reached the enriched topic (so a loss can be
        placed before or after enrichment, and matched against the worker logs)."""
        indexed = set(self.index_ids())
        missing = [m for m in messages if m.feedback_id and m.feedback_id not in indexed]
        if not missing:
            return "missing from the index: none"
        enriched = Counter(json.loads(v)["id"] for _, v in self.read_topic("enriched"))
        inbound = {**self.positions("sms_inbound"), **self.positions("survey_replies")}
        lines = [f"missing from the index: {len(missing)}"]
        for m in missing[:20]:
            lines.append(f"  {m.feedback_id} {m.source} at {inbound.get(m.value)}; "
                         f"in enriched topic x{enriched.get(m.feedback_id or '', 0)}")
        return "\n".join(lines)

    def followup_feedback_ids(self) -> Counter[str]:
        return Counter(json.loads(v)["feedback_id"] for _, v in self.read_topic("followups"))

    def deadletters(self) -> list[dict[str, Any]]:
        return [json.loads(v) for _, v in self.read_topic("deadletter")]

    def group_progress(self) -> dict[str, dict[int, tuple[int | None, int]]]:
        """Per contract input topic and partition: (committed offset of our group, end offset).

        Committed == end with documents missing means committed-but-lost; committed < end
        for minutes means a stalled consumer (Kafka still holds the records)."""
        admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap,
                                 group_id=None, enable_auto_commit=False)
        try:
            group = self.settings.consumer_group
            committed = admin.list_group_offsets({group: None}).get(group, {})
            out: dict[str, dict[int, tuple[int | None, int]]] = {}
            for logical in ("sms_inbound", "survey_replies", "enriched"):
                topic = self.topic(logical)
                parts = [TopicPartition(topic, p)
                         for p in sorted(consumer.partitions_for_topic(topic) or ())]
                ends = consumer.end_offsets(parts)
                out[logical] = {}
                for tp in parts:
                    meta = committed.get(tp)
                    out[logical][tp.partition] = (getattr(meta, "offset", None), ends[tp])
            return out
        finally:
            consumer.close()
            admin.close()

    def diagnose(self) -> str:
        """What to print when the index does not fill up: offsets, metrics, liveness."""
        lines = []
        with contextlib.suppress(Exception):
            lines.append(f"group offsets (committed, end): {self.group_progress()}")
        for w in self.workers:
            samples = w.metrics()
            keep = {k: v for k, v in samples.items()
                    if k.startswith(("voc_messages_in_total", "voc_index_docs_total",
                                     "voc_consumer_lag", "voc_search_up",
                                     "voc_index_retries_total"))}
            lines.append(f"{w.name} alive={w.alive} metrics={keep}")
        return "\n".join(lines)

    def wait_for_index(self, expected: int, timeout_s: float,
                       messages: list[Message] | None = None) -> float:
        """Wait until the alias holds ``expected`` documents; seconds it took. With
        ``messages``, a timeout also says which ones are missing and where they got to."""
        started = time.monotonic()
        try:
            wait_until(lambda: self.index_count() >= expected, timeout_s, interval_s=2.0,
                       what=f"{expected} documents in {self.name}")
        except AssertionError as exc:
            detail = self.diagnose()
            if messages is not None:
                try:
                    detail += "\n" + self.trace_missing(messages)
                except Exception as trace_exc:  # the diagnosis must not hide the failure
                    detail += f"\ntracing the missing messages failed: {trace_exc!r}"
            raise AssertionError(f"{exc}; have {self.index_count()}\n{detail}") from None
        return time.monotonic() - started


#: every harness worker's pseudonym key, so a test can match dead letters by their hash
PSEUDONYM_KEY = b"reliability-harness-pseudonym-key-0123456789"


def write_pseudonym_key(directory: Path) -> Path:
    """The harness key in ``directory`` (the same bytes for every worker of a scenario)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pseudonym.key"
    path.write_bytes(PSEUDONYM_KEY)
    return path


def original_payloads(deadletters: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """The originals of dead letters that kept them (VOC_DEADLETTER_KEEP_ORIGINAL=true)."""
    for d in deadletters:
        yield base64.b64decode(d["original_b64"])


def check_delivery(sc: Scenario, messages: list[Message]) -> dict[str, Any]:
    """The delivery guarantees, checked from the outside; returns the figures.

    * index: every valid message exactly once by id (across all indices of the alias);
    * ``voc.feedback.enriched``: every valid message at least once;
    * ``voc.followups``: every rant (``is_rant`` in the index) at least once; duplicates
      carry the same ``FollowUp.id`` / ``feedback_id`` (downstream dedupes on it);
    * ``voc.deadletter``: every bad payload at least once (dedupe key: source topic,
      partition, offset).
    """
    valid = {m.feedback_id for m in messages if m.feedback_id}
    bad = sum(1 for m in messages if m.feedback_id is None)
    ids = sc.index_ids()
    enriched = Counter(json.loads(v)["id"] for _, v in sc.read_topic("enriched"))
    followups = sc.followup_feedback_ids()
    dls = sc.deadletters()
    dl_positions = {(d["source_topic"], d["partition"], d["offset"]) for d in dls}
    figures = {
        "sent": len(messages), "valid": len(valid), "bad": bad,
        "indexed": len(ids), "index_duplicates": sum(c - 1 for c in ids.values()),
        "enriched_records": sum(enriched.values()),
        "enriched_duplicates": sum(c - 1 for c in enriched.values()),
        "rants": len(sc.rant_ids), "followup_records": sum(followups.values()),
        "followup_duplicates": sum(c - 1 for c in followups.values()),
        "deadlettered": len(dl_positions), "deadletter_records": len(dls),
    }
    missing = valid - set(ids)
    assert not missing, f"{len(missing)} valid messages not indexed, e.g. {sorted(missing)[:5]}"
    assert set(ids) == valid, f"unexpected ids in index: {sorted(set(ids) - valid)[:5]}"
    assert figures["index_duplicates"] == 0, "a feedback id is indexed twice"
    assert valid <= set(enriched), "a valid message is missing from the enriched topic"
    missing_rants = sc.rant_ids - set(followups)
    assert not missing_rants, f"rants without a follow-up: {sorted(missing_rants)[:5]}"
    assert len(dl_positions) == bad, f"{len(dl_positions)} dead letters for {bad} bad payloads"
    return figures
