"""The faults the fault suite (tests/faults/) and the soak (bench/soak.py) inject into a cell,
and the mixed work they inject them under."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import redis

from functions import keys
from functions.localredis import RedisServer
from tests.support.chaos import Cell, children, wait_for
from tests.support.ledger import Entry, Ledger
from tests.support.processes import Proc


def kill_main(worker: Proc) -> list[int]:
    """kill -9 of a worker's main process only; returns the pool children it had."""
    pool = children(worker.pid)
    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait(10)
    return pool


def crash_redis(server: RedisServer) -> None:
    """kill -9 of redis-server: no shutdown, so no last write or fsync of its append-only file."""
    assert server.process is not None
    server.process.kill()
    server.process.wait(10)
    server.process = None


def freeze_redis(server: RedisServer) -> None:
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)


def thaw_redis(server: RedisServer) -> None:
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGCONT)


def _socket_inodes(pid: int) -> set[str]:
    found: set[str] = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def connections(pids: list[int], port: int) -> list[str]:
    """`ip:port` (as Redis names clients) of the TCP connections of `pids` to local `port`,
    from /proc/<pid>/fd and /proc/net/tcp (proc(5))."""
    inodes = set().union(*(_socket_inodes(pid) for pid in pids))
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if inode in inodes and int(remote.split(":")[1], 16) == port:
            address, local_port = local.split(":")
            ip = ".".join(str(b) for b in reversed(bytes.fromhex(address)))
            found.append(f"{ip}:{int(local_port, 16)}")
    return found


def kill_connections(client: redis.Redis, worker: Proc, port: int) -> int:
    """`CLIENT KILL ADDR` every connection of a worker (its main process and pool children) to
    the Redis on `port`; returns how many Redis closed."""
    killed = 0
    for address in connections([worker.pid, *children(worker.pid)], port):
        killed += int(client.client_kill_filter(_id=None, addr=address, skipme=True))
    return killed


def submit_mix(
    ledger: Ledger, cell: Cell, slow: int, seconds: float, retries: int = 2
) -> tuple[list[Entry], list[Entry]]:
    """Work to strike: `retries` invocations of `flaky-later` that fail once and wait 2 s in
    the scheduled set, then `slow` sleeps of `seconds`. Returns (slow, retrying) once the
    retries wait in Redis and the sleeps that fit have started."""
    retrying = [
        ledger.submit(cell.http, "flaky-later", expected_runs=2, fail_times=1)
        for _ in range(retries)
    ]
    wait_for(
        lambda: cell.client.zcard(keys.scheduled_key("")) >= retries,
        10,
        "the retries to wait in the scheduled set",
    )
    sleeping = [ledger.submit(cell.http, "slow", seconds=seconds) for _ in range(slow)]
    slots = sum(len(children(w.pid)) for w in cell.workers if w.alive())
    ledger.wait_running(retries + min(slow, slots), timeout=15)
    assert all(e.outcome == "acknowledged" for e in ledger.entries), ledger.entries
    return sleeping, retrying
