"""eventing/sink-binding.yaml, offline: the Eventing CRD's model with unknown fields rejected, the
subject is the sender the root kustomization deploys, and what the binding injects is what the
sender reads.

The injection follows knative/eventing knative-v1.22.2 pkg/apis/sources/v1/
sinkbinding_lifecycle.go, SinkBinding.Do: K_SINK is the resolved sink URL and K_CE_OVERRIDES the
JSON of `spec.ceOverrides`, appended to every container of the subject's pod template.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from functions.sender.events import extensions
from functions.settings import Settings
from tests.manifests import manifest_utils as mu

with warnings.catch_warnings():
    # The generated messaging models (imported by the package) shadow Resource.name: harmless
    # for SinkBinding, but the suite turns warnings into errors.
    warnings.simplefilter("ignore", UserWarning)
    from cloudcoil.models.knative_eventing.sources.v1 import SinkBinding

PATH = mu.REPO / "eventing" / "sink-binding.yaml"


@pytest.fixture(scope="module")
def binding() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(PATH.read_text())
    return doc


def test_the_binding_validates_with_unknown_fields_rejected(binding: dict[str, Any]) -> None:
    SinkBinding.model_validate(binding, extra="forbid")


@pytest.mark.parametrize(
    ("path", "typo"), [(("spec",), "subjet"), (("spec", "sink"), "reff"), (("spec",), "ceOverride")]
)
def test_a_typo_is_caught(binding: dict[str, Any], path: tuple[str, ...], typo: str) -> None:
    """Without extra="forbid" a misspelt field is dropped and the binding silently does less."""
    broken = copy.deepcopy(binding)
    node = broken
    for key in path:
        node = node[key]
    node[typo] = {}
    with pytest.raises(ValidationError):
        SinkBinding.model_validate(broken, extra="forbid")


def test_the_subject_is_the_rendered_sender(binding: dict[str, Any], root: list[mu.Doc]) -> None:
    subject = binding["spec"]["subject"]
    target = mu.find(root, subject["kind"], subject["name"])
    assert target["apiVersion"] == subject["apiVersion"]
    (container,) = target["spec"]["template"]["spec"]["containers"]
    assert mu.is_sender(container)
    # SPILLWAY_EVENTS_SINK would win over the injected K_SINK: the sender must not set it.
    assert "SPILLWAY_EVENTS_SINK" not in {v["name"] for v in container.get("env", [])}


def test_what_the_binding_injects_is_what_the_sender_reads(
    binding: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = json.dumps(binding["spec"]["ceOverrides"])  # as SinkBinding.Do marshals it
    monkeypatch.setenv("K_SINK", "http://broker-ingress.knative-eventing.svc.cluster.local/x/y")
    monkeypatch.setenv("K_CE_OVERRIDES", overrides)
    settings = Settings()
    assert settings.EVENTS_SINK == "http://broker-ingress.knative-eventing.svc.cluster.local/x/y"
    found = extensions(settings.CE_OVERRIDES)
    assert found == binding["spec"]["ceOverrides"]["extensions"]
    # CloudEvents 1.0.2 spec.md, "Attribute Naming Convention": a-z and 0-9, at most 20.
    assert all(re.fullmatch(r"[a-z0-9]{1,20}", name) for name in found)
    monkeypatch.setenv("K_CE_OVERRIDES", "")  # what Do injects without ceOverrides
    assert extensions(Settings().CE_OVERRIDES) == {}
