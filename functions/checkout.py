"""Where this Spillway runs from, and how to add an optional part to it.

Spillway is used two ways: from a git checkout (scripts/bootstrap builds `.venv`, and `keda/`
holds the manifests `spillway dev` and `spillway load --compare-sim` read), or installed from
the package index as `spillway-functions` (the command is still `spillway`; the name `spillway`
on the index belongs to an unrelated project). Every hint a command prints comes from here, so
it names what works where the user is. Only the standard library: the CLI imports this for
every command.
"""

from __future__ import annotations

from pathlib import Path

# The distribution name on the package index (pyproject.toml's [project] name).
DISTRIBUTION = "spillway-functions"


def root() -> Path | None:
    """The checkout this code was imported from, or None when it is an installed package."""
    candidate = Path(__file__).resolve().parent.parent
    if (candidate / "scripts" / "bootstrap").is_file() and (candidate / "keda").is_dir():
        return candidate
    return None


def _shown(path: Path) -> str:
    """`path` as the user would type it from where they are: relative inside the current
    directory, absolute elsewhere."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def install_hint(extra: str) -> str:
    """The command that adds `extra` (an optional-dependencies name) without removing others."""
    checkout = root()
    if checkout is not None:
        bootstrap = _shown(checkout / "scripts" / "bootstrap")
        # The tools extra is part of every bootstrap; the others are asked for by name.
        return bootstrap if extra == "tools" else f"{bootstrap} --extra {extra}"
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def command() -> str:
    """How to run `spillway` here: the checkout's wrapper (PATH does not hold .venv/bin), or
    the installed command."""
    checkout = root()
    return "spillway" if checkout is None else _shown(checkout / "scripts" / "spillway")


def manifest(relative: str) -> Path | None:
    """A file or folder of the manifests (`keda`, `keda/base/scaledobject.yaml`): the
    checkout's, wherever the command runs from; else the current directory's (an installed
    package run inside a checkout); else None."""
    for base in (root(), Path.cwd()):
        if base is not None and (base / relative).exists():
            return _relative(base / relative)
    return None


def _relative(path: Path) -> Path:
    return Path(_shown(path))


def missing_manifest(option: str, relative: str) -> str:
    """What to do when `option` has no default: neither a checkout nor the current directory
    holds `relative`."""
    return (
        f"no {relative} here and no Spillway checkout to take it from: pass {option} PATH "
        "(the ScaledObject you deploy), or cd to a Spillway checkout"
    )
