"""Fixtures for the offline manifest checks: the rendered kustomizations, tools and settings.

Nothing here needs a cluster, a container engine or the network: the manifests are rendered with
`kubectl kustomize` and checked against schemas, linters and the code they deploy.
"""

from __future__ import annotations

import pytest

from tests.manifests import manifest_utils as mu


@pytest.fixture(scope="session")
def kubectl() -> str:
    path = mu.find_kubectl()
    if path is None:
        pytest.skip(
            "kubectl not found on PATH: install it (the CI script does) to render the manifests"
        )
    return path


@pytest.fixture(scope="session")
def renders(kubectl: str) -> dict[str, list[mu.Doc]]:
    """Every deployment the repository ships, rendered once per session."""
    return {name: mu.render_root(kubectl, parts) for name, parts in mu.KUSTOMIZATIONS.items()}


@pytest.fixture(scope="session")
def root(renders: dict[str, list[mu.Doc]]) -> list[mu.Doc]:
    return renders["root"]


@pytest.fixture(scope="session")
def all_docs(renders: dict[str, list[mu.Doc]]) -> list[tuple[str, mu.Doc]]:
    return [(name, doc) for name, docs in renders.items() for doc in docs]
