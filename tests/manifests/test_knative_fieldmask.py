"""The Knative Service against the webhook of the oldest Knative Serving the docs claim.

The cloudcoil model in test_k8s_schemas.py is generated from a recent Knative CRD; the webhook of
an older release rejects more (tests/manifests/knative_fieldmask.py follows fieldmask.go at
knative-v1.15.0). A rejected Service never creates a revision.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.manifests import knative_fieldmask as masks
from tests.manifests import manifest_utils as mu


def _services(all_docs: list[tuple[str, mu.Doc]]) -> list[tuple[str, mu.Doc]]:
    return [
        (k, d) for k, d in all_docs if (mu.group(d), d["kind"]) == (mu.KNATIVE_GROUP, "Service")
    ]


def test_service_passes_the_oldest_claimed_webhook(all_docs: list[tuple[str, mu.Doc]]) -> None:
    """pkg/apis/serving/fieldmask.go at knative-v1.15.0 (PodSpecMask, ContainerMask,
    SecurityContextMask, ...), feature flags at their defaults."""
    services = _services(all_docs)
    assert services
    for kustomization, service in services:
        errors = masks.revision_spec_errors(service["spec"]["template"]["spec"])
        assert not errors, f"{kustomization}: {mu.ident(service)}:\n" + "\n".join(errors)


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        (("containers", 0, "securityContext"), "privileged", False),  # allowed from 1.17 only
        (("containers", 0, "securityContext", "capabilities"), "add", ["NET_ADMIN"]),
        (("containers", 0), "lifecycle", {"preStop": {"exec": {"command": ["true"]}}}),
        ((), "securityContext", {"runAsNonRoot": True}),  # kubernetes.podspec-securitycontext
        ((), "nodeSelector", {"disk": "ssd"}),
        (("containers", 0, "livenessProbe"), "terminationGracePeriodSeconds", 5),
    ],
)
def test_masks_reject_what_the_webhook_rejects(
    root: list[mu.Doc], path: tuple[Any, ...], field: str, value: Any
) -> None:
    service = copy.deepcopy(mu.find(root, "Service", "spillway-api", mu.KNATIVE_GROUP))
    node: Any = service["spec"]["template"]["spec"]
    for key in path:
        node = node[key]
    node[field] = value
    errors = masks.revision_spec_errors(service["spec"]["template"]["spec"])
    assert any(e.split(":")[0].endswith(f".{field}") for e in errors), errors


def test_docs_claim_the_version_the_masks_follow() -> None:
    """The minimum stated to operators is the one this suite checks against."""
    claim = f"Knative Serving** {masks.MIN_VERSION} or later"
    assert claim in (mu.REPO / "docs/deploy.md").read_text()
    assert (
        f"Knative Serving ({masks.MIN_VERSION} or later"
        in (mu.REPO / "knative/kustomization.yaml").read_text()
    )
