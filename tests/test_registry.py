from __future__ import annotations

import random
import subprocess
import sys

import pytest
from pydantic import BaseModel

from functions.errors import ConfigError
from functions.registry import EventRoute, Registry, RetryPolicy, function, load_modules


class In(BaseModel):
    x: int


class Out(BaseModel):
    y: int


def test_decorator_records_models_queue_limits_and_docstring() -> None:
    target = Registry()

    @function("double", queue="math", time_limit=5, retry=RetryPolicy(attempts=2), target=target)
    def double(payload: In) -> Out:
        """Twice x."""
        return Out(y=payload.x * 2)

    spec = target.get("double")
    assert spec is not None
    assert (spec.input_model, spec.output_model) == (In, Out)
    assert (spec.queue, spec.time_limit, spec.description) == ("math", 5, "Twice x.")
    assert spec.task_name == "spillway.double"
    assert 0 < spec.soft_time_limit < spec.time_limit
    assert target.queues() == ["math"]
    assert double(In(x=2)) == Out(y=4)  # still a plain callable


@pytest.mark.parametrize("name", ["Upper", "", "has space", "x" * 64, "-lead"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="must match"):
        function(name, target=Registry())


def test_functions_need_annotated_models() -> None:
    target = Registry()
    with pytest.raises(TypeError, match="one annotated model"):

        @function("untyped", target=target)
        def untyped(payload):  # type: ignore[no-untyped-def]
            return payload

    with pytest.raises(TypeError, match="not a pydantic model"):

        @function("dicts", target=target)
        def dicts(payload: dict) -> dict:  # type: ignore[type-arg]
            return payload


def test_a_name_registers_once() -> None:
    target = Registry()

    def f(payload: In) -> Out:
        return Out(y=1)

    function("once", target=target)(f)
    with pytest.raises(ValueError, match="registered twice"):
        function("once", target=target)(f)


def test_retry_policy_validation_and_matching() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(backoff=5, backoff_max=1)
    policy = RetryPolicy(attempts=3, on=(ConnectionError,))
    assert policy.retryable(ConnectionRefusedError())
    assert not policy.retryable(ValueError())
    assert not RetryPolicy(attempts=3).retryable(ConnectionError())


def test_unimportable_module_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="cannot import function module 'no.such.module'"):
        load_modules(["no.such.module"])


def test_queue_routes_move_functions_without_touching_the_global_registry() -> None:
    from functions.registry import registry

    routed = load_modules(["functions.builtins"], {"sleep": "long"})
    sleep = routed.get("sleep")
    assert sleep is not None and sleep.queue == "long"
    assert routed.queues() == ["long", "spillway"]
    original = registry.get("sleep")
    assert original is not None and original.queue == "spillway"
    with pytest.raises(ConfigError, match="unknown functions: nope"):
        load_modules(["functions.builtins"], {"nope": "x"})


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    policy = RetryPolicy(attempts=10, backoff=1, backoff_max=8, jitter=False)
    assert [policy.delay(n) for n in range(5)] == [1, 2, 4, 8, 8]
    jittered = RetryPolicy(attempts=10, backoff=4, backoff_max=60)
    delays = {jittered.delay(1, random.Random(seed)) for seed in range(50)}
    assert all(4 <= d <= 8 for d in delays) and len(delays) > 10


def test_longest_delay_is_the_wait_before_the_last_retry_without_jitter() -> None:
    assert RetryPolicy(attempts=1, backoff=5).longest_delay == 0
    assert RetryPolicy(attempts=4, backoff=1, backoff_max=60).longest_delay == 4
    assert RetryPolicy(attempts=10, backoff=1, backoff_max=8).longest_delay == 8


def test_user_code_imports_the_public_names_from_the_package() -> None:
    import functions
    from functions import registry as registry_module

    assert sorted(functions.__all__) == ["EventRoute", "FunctionSpec", "RetryPolicy", "function"]
    assert functions.function is registry_module.function
    assert functions.EventRoute is registry_module.EventRoute
    assert functions.RetryPolicy is registry_module.RetryPolicy
    assert functions.FunctionSpec is registry_module.FunctionSpec
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        functions.nope  # noqa: B018


def test_the_spillway_command_does_not_load_the_registry_to_parse() -> None:
    """`spillway --help`, `simulate` and `load` live in the same package: pydantic stays out."""
    code = (
        "import sys; from functions.cli import build_parser; build_parser(); "
        "print('pydantic' in sys.modules, 'functions.registry' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


def test_events_route_by_type_and_prefer_an_exact_source() -> None:
    target = Registry()

    @function("any-order", events=["com.example.order"], target=target)
    def any_order(payload: In) -> Out:
        return Out(y=payload.x)

    @function(
        "shop-order",
        events=[EventRoute("com.example.order", source="/shop"), "com.example.refund"],
        target=target,
    )
    def shop_order(payload: In) -> Out:
        return Out(y=payload.x)

    def routed(event_type: str, source: str) -> str | None:
        spec = target.for_event(event_type, source)
        return spec.name if spec else None

    assert routed("com.example.order", "/shop") == "shop-order"
    assert routed("com.example.order", "/elsewhere") == "any-order"
    assert routed("com.example.refund", "/anywhere") == "shop-order"
    assert routed("com.example.other", "/shop") is None
    assert target.event_sources("com.example.order") == ["/shop"]
    assert [(r.type, r.source, s.name) for r, s in target.event_routes()] == [
        ("com.example.order", None, "any-order"),
        ("com.example.order", "/shop", "shop-order"),
        ("com.example.refund", None, "shop-order"),
    ]


def test_an_event_route_taken_twice_is_refused() -> None:
    target = Registry()

    @function("first", events=["com.example.x"], target=target)
    def first(payload: In) -> Out:
        return Out(y=payload.x)

    with pytest.raises(ValueError, match="both take events of type 'com.example.x'"):

        @function("second", events=[EventRoute("com.example.x")], target=target)
        def second(payload: In) -> Out:
            return Out(y=payload.x)

    assert target.get("second") is None


@pytest.mark.parametrize(("event_type", "source"), [("", None), ("has space", None), ("x", "")])
def test_bad_event_routes_are_refused(event_type: str, source: str | None) -> None:
    with pytest.raises(ValueError, match="event"):
        EventRoute(event_type, source=source)


def test_echo_takes_the_shipped_event_type() -> None:
    registry = load_modules(["functions.builtins"])
    spec = registry.for_event("dev.spillway.echo", "/anything")
    assert spec is not None and spec.name == "echo"
