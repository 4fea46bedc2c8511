"""Feed live traffic to the monitors that watch a served deployment (a recorder sink).

Per flushed window and deployment with monitors, the requests answered to callers (every live
route: the primary, a canary, A/B arms; never shadow copies, whose answers no caller got)
become one DataFrame: the inputs the plan built, named by the plan's columns on the matrix fast
path, plus the model's predictions in the column each monitor's reference calls its prediction.
``Monitors.log`` then folds it into the monitor's window sketch once per monitor and flush (fixed
size, whatever the traffic) with one request id per row (see ``served_rows.row_ids``) so that
delayed labels join. All of it runs in the recorder's worker thread; the event loop only
appended the ``Served`` records.

Which monitors watch a deployment is read once per ``refresh_s`` (30 s): a deployment without
monitors costs one query per refresh, not one per flush; a new monitor starts receiving traffic
within that time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from conveyor.errors import NotFoundError
from conveyor.serving.recorder import Flush, Served
from conveyor.serving.served_rows import ColumnsOf, Rows, no_columns, served_rows
from conveyor.serving.windows import SHADOW

if TYPE_CHECKING:
    from conveyor.monitoring.service import Monitors

log = logging.getLogger(__name__)

REFRESH_S = 30.0


@dataclass(frozen=True, slots=True)
class Watcher:
    """A monitor of a deployment and the column its reference names the prediction."""

    name: str
    prediction: str | None


class MonitorSink:
    """Fold each window's traffic into the window sketches of the deployments' monitors.

    Args:
        monitors: a ``conveyor.monitoring.service.Monitors`` over the workspace.
        columns_of: names the matrix columns of a served version (``served_rows.plan_columns``).
        refresh_s: how long the list of a deployment's monitors is kept.
        clock: monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        monitors: Monitors,
        columns_of: ColumnsOf = no_columns,
        *,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monitors = monitors
        self._columns_of = columns_of
        self._refresh_s = refresh_s
        self._clock = clock
        self._watchers: dict[str, tuple[float, list[Watcher]]] = {}

    def flush(self, batch: Flush) -> None:
        by_deployment: dict[str, list[Served]] = {}
        for r in batch.records:
            if r.route != SHADOW and r.inputs is not None:
                by_deployment.setdefault(r.deployment, []).append(r)
        for deployment, records in by_deployment.items():
            watchers = self.watchers(deployment)
            if watchers:
                self._feed(deployment, watchers, records, batch)

    def watchers(self, deployment: str) -> list[Watcher]:
        """The monitors of ``deployment`` (cached for ``refresh_s``)."""
        now = self._clock()
        cached = self._watchers.get(deployment)
        if cached is not None and now - cached[0] < self._refresh_s:
            return cached[1]
        found = [
            Watcher(m.name, self._monitors.profile_of(m.reference_digest).prediction)
            for m in self._monitors.list_monitors(deployment=deployment)
        ]
        self._watchers[deployment] = (now, found)
        return found

    def _feed(
        self, deployment: str, watchers: Sequence[Watcher], records: list[Served], batch: Flush
    ) -> None:
        rows = served_rows(records, self._columns_of)
        if not len(rows):
            return
        for watcher in watchers:
            try:
                self._monitors.log(
                    watcher.name,
                    frame_for(rows, watcher.prediction),
                    at_ms=batch.start_ms,
                    request_ids=rows.request_ids,
                    source=f"replica:{batch.replica_id}",
                    strict_ids=False,  # a client's repeated request id must not cost the window
                )
            except NotFoundError:  # deleted since the list was read: read it again next time
                self._watchers.pop(deployment, None)
            except Exception:  # one monitor failing never keeps the others from their traffic
                log.exception("serving: feeding monitor %s failed for one window", watcher.name)


def frame_for(rows: Rows, prediction: str | None) -> pd.DataFrame:
    """The inputs with the predictions under ``prediction`` (left out when it is None)."""
    if prediction is None:
        return rows.inputs
    return rows.inputs.assign(**{prediction: rows.predictions})
