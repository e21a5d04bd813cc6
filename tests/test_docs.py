"""The README documents every setting, with the default the code really has."""

from __future__ import annotations

import re

from functions.api.problems import TYPES
from functions.settings import Settings, env_name
from tests.support.processes import ROOT


def _documented() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    return dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", text, flags=re.MULTILINE))


def test_every_setting_is_documented_with_its_default() -> None:
    documented = _documented()
    for name, field in Settings.model_fields.items():
        env = env_name(name)
        assert env in documented, f"{env} is missing from the README's configuration table"
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        shown = documented[env].strip()
        if default is None:
            assert shown.startswith("(unset"), (env, shown)
        elif default in ("", [], {}):
            assert shown.startswith("(empty"), (env, shown)
        elif isinstance(default, list):
            assert shown == f"`{','.join(default)}`", (env, shown)
        else:
            assert shown == f"`{default}`", (env, shown, default)


def test_no_unknown_settings_are_documented() -> None:
    known = {env_name(n) for n in Settings.model_fields}
    assert set(_documented()) <= known


def test_every_problem_type_is_documented_as_the_code_has_it() -> None:
    """The README's "Problem types" table is functions/api/problems.py's TYPES, row for row."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Problem types", 1)[1].split("\n\n", 3)[2]
    rows = re.findall(r"^\| `([a-z-]+)` \| `(\d+)` \| (.+) \|$", section, flags=re.MULTILINE)
    assert [(slug, int(status), when) for slug, status, when in rows] == [
        (slug, status, when) for slug, (status, when) in TYPES.items()
    ]


def acl_rows() -> list[str]:
    """docs/deploy.md's ACL users table as functions/acl/ generates it for the manifests'
    layout (scripts/redis-secret's defaults)."""
    from functions import acl

    def cell(words: str) -> str:
        return " ".join(f"`{w}`".replace("|", "\\|") for w in words.split()) or "none"

    layout = acl.Layout(queues=("spillway", "long"), pools=("", "long"))
    return [
        f"| `{name}` | {purpose} | {cell(commands)} | {cell(keys)} | {cell(channels)} |"
        for name, purpose, commands, keys, channels in acl.table(layout)
    ]


def test_the_acl_table_is_what_the_code_generates() -> None:
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    for row in acl_rows():
        assert row in deploy, f"docs/deploy.md lacks (or has an old) ACL row:\n{row}"
