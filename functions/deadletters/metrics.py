"""Prometheus metrics of the dead-letter store, read from the counts kept in Redis.

The worker scripts count what they file (functions/worker/lua/_lib.lua), so these are exact
whichever process is scraped and survive every restart. The API reads them at scrape time
(functions/api/routes/metrics.py) and this collector exposes the last reading; when Redis did not
answer, it exposes nothing rather than stale figures.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from functions.deadletters.store import Stats

UNKNOWN = "(unknown)"  # the function label of a message that named none


class DeadLetterCollector(Collector):
    def __init__(self) -> None:
        self.stats: Stats | None = None

    def update(self, stats: Stats | None) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self.stats
        if stats is None:
            return
        held = GaugeMetricFamily(
            "spillway_dead_letters",
            "Dead letters held, by queue, function and reason.",
            labels=["queue", "function", "reason"],
        )
        for (queue, function, reason), count in sorted(stats.held.items()):
            held.add_metric([queue, function or UNKNOWN, reason], count)
        filed = CounterMetricFamily(
            "spillway_dead_lettered",
            "Messages ever dead-lettered, by queue and reason (a replayed invocation that fails "
            "again counts again).",
            labels=["queue", "reason"],
        )
        for (queue, reason), count in sorted(stats.totals.items()):
            filed.add_metric([queue, reason], count)
        shed = CounterMetricFamily(
            "spillway_dead_letters_shed",
            "Dead letters dropped, oldest first, to keep a queue's store within "
            "SPILLWAY_DEAD_LETTER_MAX and SPILLWAY_DEAD_LETTER_MAX_BYTES.",
            labels=["queue"],
        )
        for queue in sorted(set(stats.bytes) | set(stats.shed)):
            shed.add_metric([queue], stats.shed.get(queue, 0))
        size = GaugeMetricFamily(
            "spillway_dead_letter_bytes", "Bytes a queue's dead letters hold.", labels=["queue"]
        )
        for queue, count in sorted(stats.bytes.items()):
            size.add_metric([queue], count)
        yield from (held, filed, shed, size)
