"""Kafka events (``--kafka-events kafka://HOST:PORT/TOPIC``): publish alerts and recoveries to a topic.

Each alert and recovery (and, with ``--kafka-reports``, each period report) is one message: the
event's object of the JSON-lines schema (:mod:`monilog.presentation.jsonlines`), UTF-8, keyed by
its rule (the event's ``"rule"`` when it has one, else :data:`DEFAULT_RULE`; reports by
``"report"``), so one rule's events stay in order on one partition.

Decisions, those of the webhooks (:mod:`monilog.outputs.webhook`):

* A :class:`~monilog.outputs.worker.BackgroundWorker` publishes, one message at a time and in
  order, behind a bounded queue: a slow or dead broker never stalls monitoring; when the queue
  is full new messages are dropped and counted.
* A message counts as delivered once the broker acknowledged it. librdkafka retries until
  :data:`DELIVERY_TIMEOUT` seconds have passed (``message.timeout.ms``); a message it gives up on is
  a one-line problem report (a notice while monitoring runs), never fatal.
* At exit, messages still waiting get up to :data:`DRAIN_SECONDS` to be delivered.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional, Tuple

from monilog.accumulation.alerter import AlertEvent
from monilog.accumulation.report import PeriodReport
from monilog.outputs.sink import Sink
from monilog.outputs.worker import ABANDON_CHECK_SECONDS, DEFAULT_CAPACITY, BackgroundWorker, DeliveryError, report_problem
from monilog.presentation.jsonlines import dumps, event_to_dict, report_to_dict
from monilog.watcher.kafka import KafkaSettings, load_client, parse_url

DEFAULT_RULE = "high_traffic"
"""The key of events that name no rule: the built-in alert rule's."""

DELIVERY_TIMEOUT = 30.0
"""Seconds librdkafka tries to deliver a message before giving up."""

DRAIN_SECONDS = 10.0
"""How long the end of a run waits for messages not yet delivered."""

Message = Tuple[bytes, bytes]
"""A key and a value."""


class KafkaSink(Sink):
    """Publishes alert events (and reports, if ``reports``) as JSON messages to a topic.

    :param url: ``kafka://HOST:PORT[,HOST:PORT...]/TOPIC`` (:class:`ValueError` if it is not one,
        :class:`ImportError` without ``confluent-kafka``).
    :param settings: the librdkafka options (``--kafka-option``) to apply.
    :param reports: publish every period report too.
    :param top: sections, clients and codes listed per report.
    """

    def __init__(self, url: str, settings: KafkaSettings, *, reports: bool = False, top: int = 5,
                 capacity: int = DEFAULT_CAPACITY, delivery_timeout: float = DELIVERY_TIMEOUT,
                 on_problem: Callable[[str], None] = report_problem) -> None:
        address = parse_url(url)
        client = load_client()
        self.topic = address.topic
        self.reports = reports
        self.top = top
        self._on_problem = on_problem
        self._unreachable = False
        self._producer = client.Producer(settings.config(
            address.brokers, **{"linger.ms": 0, "message.timeout.ms": int(delivery_timeout * 1000),
                                "error_cb": self._on_error}))
        self.worker: BackgroundWorker[Message] = BackgroundWorker(
            f"kafka {url}", self._publish, capacity=capacity, on_problem=on_problem)

    def event(self, event: AlertEvent) -> None:
        data = event_to_dict(event)
        self.worker.submit((str(data.get("rule", DEFAULT_RULE)).encode("utf-8"), dumps(data).encode("utf-8")))

    def report(self, report: PeriodReport) -> None:
        if self.reports:
            self.worker.submit((b"report", dumps(report_to_dict(report, self.top)).encode("utf-8")))

    def close(self) -> None:
        self.worker.close(DRAIN_SECONDS)

    def _publish(self, message: Message, abandoned: threading.Event) -> None:
        """Publish one message and wait for the broker's acknowledgement (the worker thread)."""
        outcome: List[Optional[Any]] = []
        key, value = message
        self._producer.produce(self.topic, value=value, key=key, on_delivery=lambda error, _: outcome.append(error))
        while not outcome:
            if abandoned.is_set():
                raise DeliveryError("not published before monitoring ended")
            self._producer.poll(ABANDON_CHECK_SECONDS)
        error = outcome[0]
        if error is not None:
            raise DeliveryError(f"not published: {error.str()}")
        self._unreachable = False

    def _on_error(self, error: Any) -> None:
        """librdkafka's error callback (in the worker thread): the first of an outage is reported."""
        if not self._unreachable:
            self._unreachable = True
            self._on_problem(f"kafka events: {error.str()} (retrying for up to {DELIVERY_TIMEOUT:g} s a message)")
