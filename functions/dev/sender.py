"""`spillway dev`'s sender: one `spillway sender` process, so callbacks and completion events
work locally as they do in a cluster.

Without SPILLWAY_CALLBACK_SECRET, dev makes one for the session and writes it to a file only its
user can read (never to the terminal or a log): a receiver verifies with it. Without
SPILLWAY_CALLBACK_ALLOW_NETWORKS, dev allows loopback, where local receivers listen.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from functions.localredis import free_port

LOCAL_NETWORKS = "127.0.0.0/8,::1/128"


def callback_env(env: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """`env` with what the API and the sender need for local callbacks, and lines saying what
    was chosen."""
    env = dict(env)
    notes: list[str] = []
    if not env.get("SPILLWAY_CALLBACK_ALLOW_NETWORKS"):
        env["SPILLWAY_CALLBACK_ALLOW_NETWORKS"] = LOCAL_NETWORKS
        notes.append(f"callbacks may reach {LOCAL_NETWORKS} (SPILLWAY_CALLBACK_ALLOW_NETWORKS)")
    if not env.get("SPILLWAY_CALLBACK_SECRET"):
        folder = Path(tempfile.mkdtemp(prefix="spillway-dev-"))
        path = folder / "callback-secret"
        secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secret + "\n")
        env["SPILLWAY_CALLBACK_SECRET"] = secret
        notes.append(f"callbacks are signed with a secret made for this session: {path}")
    return env, notes


def start_sender(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    """A `spillway sender` with its output in a log file (the terminal belongs to the view)."""
    env = dict(env)
    env.setdefault("SPILLWAY_SENDER_HTTP_PORT", str(free_port()))
    log = Path(tempfile.mkstemp(prefix="spillway-sender-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "functions.cli", "sender"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, log
