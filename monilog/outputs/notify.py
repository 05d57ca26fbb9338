"""Notifications through apprise (``--notify URL``): mail, chat, SMS gateways... on alert and recovery.

apprise is an optional dependency: ``pip install 'monilog[notify]'``. Each ``URL`` is an apprise
service URL (``mailto://``, ``slack://``, ``ntfy://``, ``json://``...), checked at start.

A notification's title names the host monitoring runs on and the kind of event (a fleet
shares one chat channel); its body is the event's message. Alerts are sent as apprise
``failure`` notifications, recoveries as ``success``. Delivery runs on a
:class:`~monilog.outputs.worker.BackgroundWorker`; a failure is reported in one line (apprise
does not say which service failed nor why in a stable way, and its URLs hold secrets) and
monitoring goes on.
"""

from __future__ import annotations

import socket
import threading
from typing import Any, Callable, Sequence

from monilog.accumulation.alerter import ALERT, AlertEvent
from monilog.outputs.optional import optional_module
from monilog.outputs.sink import Sink
from monilog.outputs.worker import DEFAULT_CAPACITY, BackgroundWorker, DeliveryError, report_problem


def load_apprise() -> Any:
    """The apprise module; :class:`ImportError` with the install command when it is missing."""
    return optional_module("apprise", "apprise", "notify")


def notification_title(event: AlertEvent, host: str) -> str:
    """The title of the notification of ``event`` raised on ``host``."""
    what = "high traffic alert" if event.kind == ALERT else "traffic back to normal"
    return f"[{host}] monilog: {what}"


class NotifySink(Sink):
    """Sends each alert and recovery to apprise services, off the monitoring thread.

    :param urls: apprise service URLs.
    :param capacity: events that may wait before new ones are dropped.
    :param on_problem: receives one-line failure reports.
    :raises ImportError: apprise is not installed.
    :raises ValueError: a URL that apprise does not understand.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        capacity: int = DEFAULT_CAPACITY,
        on_problem: Callable[[str], None] = report_problem,
    ) -> None:
        apprise = load_apprise()
        self._types = apprise.NotifyType
        self.apprise = apprise.Apprise()
        for number, url in enumerate(urls, 1):
            if not self.apprise.add(url):
                # the URL itself is not repeated: it may hold a password or token
                raise ValueError(f"notification URL #{number} is not one apprise understands (see the apprise documentation)")
        self.host = socket.gethostname()
        self.worker: BackgroundWorker[AlertEvent] = BackgroundWorker(
            "notify", self._send, capacity=capacity, on_problem=on_problem,
        )

    def _send(self, event: AlertEvent, abandoned: threading.Event) -> None:
        kind = self._types.FAILURE if event.kind == ALERT else self._types.SUCCESS
        if not self.apprise.notify(body=event.message, title=notification_title(event, self.host), notify_type=kind):
            raise DeliveryError(f"apprise could not deliver the {event.kind} notification to every service")

    def event(self, event: AlertEvent) -> None:
        self.worker.submit(event)

    def close(self) -> None:
        self.worker.close()
