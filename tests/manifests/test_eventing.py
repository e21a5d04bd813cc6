"""The Knative Eventing overlay (eventing/), offline: it renders, the Broker and Triggers validate
against the Eventing CRDs' models with unknown fields refused, and the Triggers are the
registry's event routes, one to one, delivering where the API serves.

A cluster prunes unknown fields of a CRD without a word, so a typo in `delivery` (`backoffDelai`)
would deploy and silently fall back to the defaults: the models are validated with extra fields
forbidden, as tests/manifests/test_k8s_schemas.py does for Serving and KEDA.
"""

from __future__ import annotations

import copy
import re
import shutil
import warnings
from typing import Any

import kubernetes_validate
import pytest
from pydantic import BaseModel, ValidationError

from functions.api.main import app
from functions.registry import load_modules
from functions.settings import Settings
from tests.manifests import manifest_utils as mu

with warnings.catch_warnings():
    # The package also loads its messaging models, whose Channel declares a field `name` that
    # shadows Resource.name: pydantic warns, and this suite turns warnings into errors.
    warnings.simplefilter("ignore", UserWarning)
    from cloudcoil.models.knative_eventing.eventing import v1 as eventing
    from cloudcoil.models.knative_eventing.sources.v1 import SinkBinding

EVENTING_GROUP = "eventing.knative.dev"
EVENTING_GROUPS = (EVENTING_GROUP, "sources.knative.dev")
MODELS: dict[str, type[BaseModel]] = {
    "Broker": eventing.Broker,
    "Trigger": eventing.Trigger,
    "SinkBinding": SinkBinding,
}
OVERLAY = mu.REPO / "eventing"


@pytest.fixture(scope="module")
def overlay(kubectl: str) -> list[mu.Doc]:
    return mu.render(kubectl, OVERLAY)


@pytest.fixture(scope="module")
def with_existing_broker(kubectl: str, tmp_path_factory: pytest.TempPathFactory) -> list[mu.Doc]:
    """The overlay with the existing-broker component enabled, by the edit the comment asks."""
    work = tmp_path_factory.mktemp("eventing") / "eventing"
    shutil.copytree(OVERLAY, work)
    text = (work / "kustomization.yaml").read_text()
    assert "# components:\n#   - existing-broker\n" in text
    text = text.replace(
        "# components:\n#   - existing-broker\n", "components:\n  - existing-broker\n"
    )
    (work / "kustomization.yaml").write_text(text)
    return mu.render(kubectl, work)


def _validate(doc: mu.Doc) -> None:
    MODELS[doc["kind"]].model_validate(doc, extra="forbid")


def test_every_object_validates_strictly(overlay: list[mu.Doc], root: list[mu.Doc]) -> None:
    """Eventing kinds against their models, anything else against Kubernetes' own schema (none
    today), all in the system's namespace."""
    kinds = set()
    for doc in overlay:
        if mu.group(doc) in EVENTING_GROUPS:
            try:
                _validate(doc)
            except ValidationError as exc:
                pytest.fail(f"{mu.ident(doc)}:\n{exc}")
        else:
            kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
        kinds.add(doc["kind"])
        assert doc["metadata"]["namespace"] == mu.namespace_of(root)
    assert {"Broker", "Trigger", "SinkBinding"} <= kinds


@pytest.mark.parametrize(
    ("kind", "path", "typo"),
    [
        ("Trigger", ("spec", "delivery"), "backoffDelai"),
        ("Trigger", ("spec",), "filters"),
        ("Trigger", ("spec", "subscriber"), "url"),
        ("Broker", ("spec", "delivery"), "retries"),
    ],
)
def test_the_check_catches_typos(
    overlay: list[mu.Doc], kind: str, path: tuple[str, ...], typo: str
) -> None:
    doc = copy.deepcopy(next(d for d in overlay if d["kind"] == kind))
    node: Any = doc
    for key in path:
        node = node[key]
    node[typo] = 1
    with pytest.raises(ValidationError, match=typo):
        _validate(doc)


def _routes() -> set[tuple[str, str | None, str]]:
    modules = Settings.model_fields["FUNCTION_MODULES"].default
    registry = load_modules(list(modules))
    return {(route.type, route.source, spec.name) for route, spec in registry.event_routes()}


def _trigger_route(trigger: mu.Doc) -> tuple[str, str | None, str]:
    attributes: dict[str, str] = trigger["spec"]["filter"]["attributes"]
    assert set(attributes) <= {"type", "source"}, f"{mu.ident(trigger)} filters on more"
    function = trigger["metadata"]["labels"]["spillway.dev/function"]
    return attributes["type"], attributes.get("source"), function


def test_every_function_event_type_has_exactly_one_trigger(overlay: list[mu.Doc]) -> None:
    triggers = mu.of_kind(overlay, "Trigger", EVENTING_GROUP)
    routes = [_trigger_route(t) for t in triggers]
    assert len(routes) == len(set(routes)), f"two Triggers for one route: {routes}"
    assert set(routes) == _routes()


def test_triggers_deliver_to_the_api_and_dead_letter_into_spillway(
    overlay: list[mu.Doc], root: list[mu.Doc]
) -> None:
    service = next(d for d in mu.of_kind(root, "Service", mu.KNATIVE_GROUP))
    served = {path for path, operations in app.openapi()["paths"].items() if "post" in operations}
    broker = mu.find(overlay, "Broker", "spillway", EVENTING_GROUP)
    for trigger in mu.of_kind(overlay, "Trigger", EVENTING_GROUP):
        spec = trigger["spec"]
        assert spec["broker"] == broker["metadata"]["name"]
        sink = spec["delivery"]["deadLetterSink"]
        for destination, path in (
            (spec["subscriber"], "/v1/events"),
            (sink, "/v1/events/dead-letters"),
        ):
            assert destination["ref"] == {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "name": service["metadata"]["name"],
            }
            assert destination["uri"] == path and path in served


def _waits(delivery: dict[str, Any]) -> list[float]:
    """The waits before each retry, as eventing computes them: delay x 2^n (exponential) or
    delay x n (linear), n from 0 (knative/eventing knative-v1.22.2 pkg/kncloudevents/retries.go,
    RetryConfigFromDeliverySpec; hashicorp/go-retryablehttp v0.7.7 client.go, Client.Do passes
    attemptNum = i from 0)."""
    seconds = float(re.fullmatch(r"PT(\d+(?:\.\d+)?)S", delivery["backoffDelay"])[1])  # type: ignore[index]
    exponential = delivery["backoffPolicy"] == "exponential"
    return [seconds * (2**n if exponential else n) for n in range(delivery["retry"])]


def test_retries_outlast_a_redis_restart_without_holding_events_for_long(
    overlay: list[mu.Doc],
) -> None:
    """Every Trigger retries long enough for what Spillway answers retryably (429 while KEDA
    scales out, 503 while Redis restarts or fails over: a minute or two), with a first retry
    that waits (a linear policy's does not), and dead-letters within ten minutes."""
    for trigger in mu.of_kind(overlay, "Trigger", EVENTING_GROUP):
        waits = _waits(trigger["spec"]["delivery"])
        assert waits[0] > 0, mu.ident(trigger)
        assert 120 <= sum(waits) <= 600, (mu.ident(trigger), sum(waits))


def test_an_existing_broker_replaces_ours(with_existing_broker: list[mu.Doc]) -> None:
    assert not mu.of_kind(with_existing_broker, "Broker", EVENTING_GROUP)
    triggers = mu.of_kind(with_existing_broker, "Trigger", EVENTING_GROUP)
    assert triggers and {t["spec"]["broker"] for t in triggers} == {"default"}
    for trigger in triggers:
        _validate(trigger)


def test_completion_events_go_to_the_overlays_broker(
    overlay: list[mu.Doc], with_existing_broker: list[mu.Doc]
) -> None:
    """The SinkBinding sends the sender's completion events to the Broker the Triggers use: this
    overlay's own, or the existing one the component switches every Trigger to."""
    for docs in (overlay, with_existing_broker):
        (binding,) = [d for d in docs if d["kind"] == "SinkBinding"]
        brokers = {d["spec"]["broker"] for d in docs if d["kind"] == "Trigger"}
        assert brokers == {binding["spec"]["sink"]["ref"]["name"]}, (brokers, binding)
