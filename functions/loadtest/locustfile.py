"""`spillway load`'s profiles for Locust (the `locust` extra), for teams that already use it.

    SPILLWAY_PROFILE=burst locust -f functions/loadtest/locustfile.py --headless \\
        --host http://127.0.0.1:8080 --spillway-count 200 --spillway-payload '{"seconds": 2}'

The arrival times come from functions/loadtest/profiles.py, exactly as for `spillway load`. Each
Locust user takes the next arrival when it is due and sends it, so the run stays open-loop while
there are idle users; each shape grows the user pool ahead of the profile's rate (two seconds of
arrivals) and never shrinks it (a stopped user could drop a request it had taken). Sends more
than 100 ms late are counted and printed at the end. 429/503 answers are retried after their
Retry-After (at most --spillway-retries times); each retry shows in Locust's failures with its
reason. SPILLWAY_PROFILE chooses the shape (SteadyShape, BurstShape, SpikeShape, RampShape,
TraceShape); without it, Locust takes the first, or lets you pick with --class-picker. Run one
Locust process: in distributed mode every worker would send the whole schedule. `spillway load`
does more (sampling, drain, figures, charts); this only offers the load.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path
from typing import Any

from locust import HttpUser, LoadTestShape, constant, events, task
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment

from functions.cliargs import (
    count,
    duration,
    fail,
    non_negative,
    positive_count,
    positive_duration,
)
from functions.loadtest.config import key_headers
from functions.loadtest.profiles import PROFILES, Profile, arrivals, rate_at

LATE = 0.1  # seconds: a send later than this is counted as late
# Locust monkey-patches the standard library for gevent when it is imported: time.sleep below
# yields to the other users.


def _options(parser: LocustArgumentParser) -> None:
    group = parser.add_argument_group("spillway", "the profile's parameters (see spillway load)")
    add = group.add_argument
    add("--spillway-function", default="sleep", help="function to invoke (default sleep)")
    add("--spillway-payload", default=None, help='JSON body (default {"seconds": 1} for sleep)')
    add("--spillway-count", type=count, default=None, help="burst size; per spike; steady's total")
    add(
        "--spillway-rate",
        type=non_negative,
        default=None,
        help="steady; ramp's final; spike background",
    )
    add("--spillway-rate-start", type=non_negative, default=0.0, help="ramp's initial rate")
    add("--spillway-duration", type=positive_duration, default=None, help="seconds (steady, ramp)")
    add("--spillway-spikes", type=positive_count, default=3, help="spike: how many")
    add(
        "--spillway-period",
        type=positive_duration,
        default=10.0,
        help="spike: seconds between spikes",
    )
    add("--spillway-spike-width", type=duration, default=0.0, help="spike: seconds each lasts")
    add("--spillway-trace", default=None, help="trace: one arrival time (s) per line")
    add("--spillway-process", default="uniform", choices=("uniform", "poisson"))
    add("--spillway-seed", type=count, default=0)
    add("--spillway-retries", type=count, default=3, help="retries on 429/503 per request")
    add("--spillway-max-users", type=positive_count, default=1000, help="largest user pool")


class _Schedule:
    """The arrivals, shared by every user of this process (greenlets of one thread: no locks)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.start: float | None = None
        self.next = 0
        self.outstanding = 0
        self.late = 0
        self.run_id = ""

    def ensure(self, profile: str, options: Namespace) -> _Schedule:
        if self.start is None:
            self.times = arrivals(_profile(profile, options))
            self.run_id = f"locust-{secrets.token_hex(4)}"  # idempotency keys of this run only
            self.start = time.perf_counter()
        return self

    def now(self) -> float:
        return 0.0 if self.start is None else time.perf_counter() - self.start

    def claim(self) -> int | None:
        if self.next >= len(self.times) or self.times[self.next] > self.now():
            return None
        index, self.next = self.next, self.next + 1
        self.outstanding += 1
        if self.now() - self.times[index] > LATE:
            self.late += 1
        return index

    def wait(self) -> float:
        """Seconds until the next arrival is due (capped, so users notice the end)."""
        if self.next >= len(self.times):
            return 0.2
        return min(0.05, max(0.0, self.times[self.next] - self.now()))

    def finished(self) -> bool:
        return self.start is not None and self.next >= len(self.times) and not self.outstanding


SCHEDULE = _Schedule()


def _profile(name: str, o: Namespace) -> Profile:
    return Profile(
        name=name,
        rate=o.spillway_rate,
        rate_start=o.spillway_rate_start,
        duration=o.spillway_duration,
        count=o.spillway_count,
        spikes=o.spillway_spikes,
        period=o.spillway_period,
        spike_width=o.spillway_spike_width,
        trace=Path(o.spillway_trace) if o.spillway_trace else None,
        process=o.spillway_process,
        seed=o.spillway_seed,
    )


def _payload(o: Namespace) -> Any:
    if o.spillway_payload is not None:
        return json.loads(o.spillway_payload)
    return {"seconds": 1.0} if o.spillway_function == "sleep" else {}


class SpillwayUser(HttpUser):
    """Sends the next due arrival; between arrivals it waits for the schedule, not for a timer."""

    wait_time = constant(0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        assert options is not None
        self.function = options.spillway_function
        self.body = json.dumps(_payload(options))
        self.retries = options.spillway_retries
        self.path = f"/v1/functions/{self.function}/invocations"

    @task
    def offer(self) -> None:
        index = SCHEDULE.claim()
        if index is None:
            time.sleep(SCHEDULE.wait())
            return
        try:
            self._send(index)
        finally:
            SCHEDULE.outstanding -= 1

    def _send(self, index: int) -> None:
        headers = {
            "content-type": "application/json",
            "idempotency-key": f"{SCHEDULE.run_id}-{index}",
        }
        headers.update(key_headers())  # $SPILLWAY_API_KEY, for an API that requires keys
        for attempt in range(self.retries + 1):
            with self.client.post(
                self.path, data=self.body, headers=headers, catch_response=True
            ) as response:
                status = response.status_code
                if status == 202:
                    response.success()
                    return
                if status not in (429, 503) or attempt == self.retries:
                    response.failure(f"{status}: rejected after {attempt} retries")
                    return
                response.failure(f"{status}: throttled, retrying")
                wait = float(response.headers.get("retry-after") or 1)
            time.sleep(min(wait, 30.0))


class _ProfileShape(LoadTestShape):
    """Users ahead of the profile's rate; stops once every arrival has been answered."""

    abstract = True
    profile = ""
    users = 1  # the pool only grows

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        options = self.runner.environment.parsed_options
        assert options is not None
        schedule = SCHEDULE.ensure(self.profile, options)
        if schedule.finished():
            return None
        needed = rate_at(schedule.times, schedule.now(), window=2.0)
        self.users = max(self.users, min(options.spillway_max_users, needed))
        return self.users, float(max(self.users, 1) * 4)


class SteadyShape(_ProfileShape):
    profile = "steady"


class BurstShape(_ProfileShape):
    profile = "burst"


class SpikeShape(_ProfileShape):
    profile = "spike"


class RampShape(_ProfileShape):
    profile = "ramp"


class TraceShape(_ProfileShape):
    profile = "trace"


_CHOSEN = os.environ.get("SPILLWAY_PROFILE")
if _CHOSEN and _CHOSEN not in PROFILES:
    fail(f"SPILLWAY_PROFILE must be one of {', '.join(PROFILES)}")
if _CHOSEN:
    # Locust runs the first concrete shape it finds: leave only the chosen one concrete.
    for _shape in (SteadyShape, BurstShape, SpikeShape, RampShape, TraceShape):
        _shape.abstract = _shape.profile != _CHOSEN


def _report(environment: Environment, **_: Any) -> None:
    logging.getLogger(__name__).info(
        "spillway: %d of %d arrivals sent, %d of them more than %gs late",
        SCHEDULE.next,
        len(SCHEDULE.times),
        SCHEDULE.late,
        LATE,
    )


def _listen(hook: Any, handler: Callable[..., None]) -> None:
    hook.add_listener(handler)  # EventHook is untyped; this keeps the handlers' types checked


_listen(events.init_command_line_parser, _options)
_listen(events.quitting, _report)
