"""Function definitions: the single source of truth for the API and the worker.

A function is a plain typed callable taking one pydantic model and returning another. The
`@function` decorator records it with its queue, retry policy and time limit; the API builds its
validation, OpenAPI and catalog from the registry and the worker builds its Celery tasks from it.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import BaseModel

from functions.errors import ConfigError

DEFAULT_QUEUE = "spillway"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries for errors a function declares retryable.

    `attempts` counts the first run, so `attempts=1` means no retry. The delay before retry n is
    `min(backoff * 2**(n-1), backoff_max)`, scaled by a random factor in [0.5, 1] when `jitter`
    is on ("equal jitter", which keeps a floor so retries never stampede back at once).
    """

    attempts: int = 1
    on: tuple[type[BaseException], ...] = ()
    backoff: float = 1.0
    backoff_max: float = 60.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be >= 1")
        if self.backoff < 0 or self.backoff_max < self.backoff:
            raise ValueError("RetryPolicy needs 0 <= backoff <= backoff_max")

    def retryable(self, exc: BaseException) -> bool:
        return bool(self.on) and isinstance(exc, self.on)

    def delay(self, retries: int, rng: random.Random | None = None) -> float:
        """Seconds before retry number `retries + 1` (`retries` counts those already made)."""
        delay = float(min(self.backoff * (2**retries), self.backoff_max))
        if self.jitter:
            delay *= 0.5 + 0.5 * (rng or random).random()
        return delay

    @property
    def longest_delay(self) -> float:
        """The longest wait the policy can make: before its last retry, without jitter (which
        only shortens it). Not `backoff_max`, which a short policy never reaches."""
        if self.attempts < 2:
            return 0.0
        return dataclasses.replace(self, jitter=False).delay(self.attempts - 2)


@dataclass(frozen=True, slots=True)
class EventRoute:
    """CloudEvents a function takes (`POST /v1/events`): those of `type`, and when `source` is
    set, only those from that exact source.

    A plain string in `@function(events=[...])` is a route for that type from any source. An
    event goes to the function whose route names its type and its source; failing that, to
    the one whose route names its type and no source. The type is matched exactly, as Knative
    Trigger filters match it (one Trigger per route: eventing/).
    """

    type: str
    source: str | None = None

    def __post_init__(self) -> None:
        if not self.type or any(c.isspace() for c in self.type):
            raise ValueError(f"event type {self.type!r} must be non-empty, without spaces")
        if self.source == "":
            raise ValueError("an event source must be non-empty (None takes every source)")

    @classmethod
    def of(cls, route: str | EventRoute) -> EventRoute:
        return route if isinstance(route, EventRoute) else cls(route)


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    fn: Callable[[Any], Any]
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    queue: str = DEFAULT_QUEUE
    description: str = ""
    time_limit: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_backlog: int | None = None
    events: tuple[EventRoute, ...] = ()
    # DELETE /v1/invocations/{id} may stop it while it runs (functions/worker/interrupt.py).
    interruptible: bool = False

    @property
    def task_name(self) -> str:
        return f"spillway.{self.name}"

    @property
    def soft_time_limit(self) -> float:
        # The soft limit raises inside the function so it can record a clean error; the hard
        # limit (the pool kills the child) follows a little later for code that ignores it.
        return max(self.time_limit - max(1.0, 0.1 * self.time_limit), self.time_limit * 0.5)


class Registry:
    def __init__(self) -> None:
        self._specs: dict[str, FunctionSpec] = {}
        self._events: dict[tuple[str, str | None], str] = {}  # (type, source) -> function

    def add(self, spec: FunctionSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"function {spec.name!r} is registered twice")
        for route in spec.events:
            taken = self._events.get((route.type, route.source))
            if taken is not None:
                raise ValueError(
                    f"functions {taken!r} and {spec.name!r} both take events of type "
                    f"{route.type!r} from {route.source or 'any source'}"
                )
        self._specs[spec.name] = spec
        for route in spec.events:
            self._events[(route.type, route.source)] = spec.name

    def for_event(self, event_type: str, source: str) -> FunctionSpec | None:
        """The function that takes an event of this type from this source, if any."""
        name = self._events.get((event_type, source)) or self._events.get((event_type, None))
        return self._specs[name] if name is not None else None

    def event_sources(self, event_type: str) -> list[str]:
        """The sources some function restricts events of this type to (for error messages)."""
        return sorted(s for t, s in self._events if t == event_type and s is not None)

    def event_routes(self) -> list[tuple[EventRoute, FunctionSpec]]:
        """Every route with its function, in a stable order (one Knative Trigger each)."""
        return [(route, spec) for spec in self for route in spec.events]

    def get(self, name: str) -> FunctionSpec | None:
        return self._specs.get(name)

    def __iter__(self) -> Iterator[FunctionSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._specs)

    def queues(self) -> list[str]:
        return sorted({spec.queue for spec in self._specs.values()})


registry = Registry()


def function(
    name: str,
    *,
    queue: str = DEFAULT_QUEUE,
    time_limit: float = 60.0,
    retry: RetryPolicy | None = None,
    max_backlog: int | None = None,
    description: str | None = None,
    target: Registry | None = None,
    events: Iterable[str | EventRoute] = (),
    interruptible: bool = False,
) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register `fn(payload: InModel) -> OutModel` as the function `name`.

    `events` lists the CloudEvents it takes at `POST /v1/events` (types, or `EventRoute`s with a
    source); the event's data is its input. `interruptible` lets a cancel stop it while it runs
    (it must be safe to stop anywhere); otherwise only a queued invocation can be cancelled."""
    if not _NAME.match(name):
        raise ValueError(f"function name {name!r} must match {_NAME.pattern}")
    if time_limit <= 0:
        raise ValueError("time_limit must be positive")
    routes = tuple(dict.fromkeys(EventRoute.of(route) for route in events))

    def decorate(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        input_model, output_model = _models_of(fn)
        (target if target is not None else registry).add(
            FunctionSpec(
                name=name,
                fn=fn,
                input_model=input_model,
                output_model=output_model,
                queue=queue,
                description=description or inspect.getdoc(fn) or "",
                time_limit=time_limit,
                retry=retry or RetryPolicy(),
                max_backlog=max_backlog,
                events=routes,
                interruptible=interruptible,
            )
        )
        return fn

    return decorate


def _models_of(fn: Callable[[Any], Any]) -> tuple[type[BaseModel], type[BaseModel]]:
    hints = get_type_hints(fn)
    params = list(inspect.signature(fn).parameters.values())
    if len(params) != 1 or params[0].name not in hints or "return" not in hints:
        raise TypeError(f"{fn.__qualname__} must take one annotated model and annotate its return")
    models = hints[params[0].name], hints["return"]
    for model in models:
        if not (inspect.isclass(model) and issubclass(model, BaseModel)):
            raise TypeError(f"{fn.__qualname__}: {model!r} is not a pydantic model")
    return models


def load_modules(modules: list[str], routes: Mapping[str, str] | None = None) -> Registry:
    """The functions the given modules define (imported once), with `routes` applied.

    `routes` (SPILLWAY_QUEUE_ROUTES) moves functions to other queues without touching their code,
    e.g. `{"sleep": "long"}` to serve `sleep` from a separate worker pool. The API and the workers
    must be given the same routes.
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"cannot import function module {module!r}: {exc}") from exc
    # Only what these modules define: whatever else the process imported stays out.
    selected = [spec for spec in registry if spec.fn.__module__ in modules]
    if not selected:
        raise ConfigError(f"no functions registered by {', '.join(modules) or '(no modules)'}")
    routes = routes or {}
    unknown = sorted(set(routes) - {spec.name for spec in selected})
    if unknown:
        raise ConfigError(f"SPILLWAY_QUEUE_ROUTES names unknown functions: {', '.join(unknown)}")
    loaded = Registry()
    for spec in selected:
        loaded.add(dataclasses.replace(spec, queue=routes.get(spec.name, spec.queue)))
    return loaded
