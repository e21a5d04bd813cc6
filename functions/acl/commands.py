"""The commands each component sends to Redis, as ACL `+` rules, each with where it is sent.

Found by reading the code and upstream (cited per entry), then checked against a real
redis-server: tests/e2e/test_acl.py runs each component under its user with `ACL LOG` empty.
"""

from __future__ import annotations

# Sent on every connection by the clients in use and harmless: PING (redis-py's health check,
# KEDA's first call, the API's connection setup). AUTH and HELLO need no permission
# (redis 7.0 src/acl.c ACLCheckAllUserCommandPerm skips CMD_NO_AUTH commands).
CONNECT = ("ping",)

# What the API's Lua scripts run (functions/api/submit.py; the dead-letter scripts in
# functions/deadletters/lua/ with functions/worker/lua/_lib.lua) besides the plain commands.
DATA = (
    "lpush",
    "rpush",
    "llen",
    "hget",
    "hmget",
    "hgetall",
    "hset",
    "hdel",
    "hincrby",
    "hlen",
    "exists",
    "get",
    "incrby",
    "decrby",
    "del",
    "expire",
    "persist",
    "sadd",
    "srem",
    "smembers",
    "zadd",
    "zrem",
    "zcard",
    "zrange",
    "zrevrangebyscore",
    "zrangebyscore",
    "time",
)

API = (
    *CONNECT,
    # The submit script and the dead-letter scripts: EVALSHA first, EVAL when Redis lost its
    # script cache (functions/api/resp.py, run_script).
    "evalsha",
    "eval",
    *DATA,
    # Readiness: DEL of a key nothing writes and INFO memory (functions/api/submit.py, probe);
    # INFO replication/server/persistence and WAIT for durable submits (durability.py).
    "info",
    "wait",
)

WORKER = (
    *CONNECT,
    # functions/worker/inflight.py and transport.py load their scripts and run them by SHA;
    # kombu's binding refresh does the same (SCRIPT EXISTS, then EVALSHA).
    "evalsha",
    "script|load",
    "script|exists",
    # The peek that waits for a message without taking it (transport.py, Channel._peek).
    "blmove",
    # kombu's queue declare (4 x LLEN in MULTI), binding sets and the binding-deadline sweep.
    "multi",
    "exec",
    "llen",
    "sadd",
    "srem",
    "smembers",
    "zadd",
    "zrem",
    "zrange",
    "zrangebyscore",
    "zscore",
    "zcard",
    "sismember",
    # Inside the in-flight scripts (functions/worker/lua/*.lua); EXISTS and HGETALL queue a
    # finished invocation's callback and completion event (_lib.lua, notify).
    "exists",
    "hgetall",
    "rpop",
    "rpush",
    "lpush",
    "hget",
    "hmget",
    "hset",
    "hdel",
    "hincrby",
    "del",
    "get",
    "incrby",
    "decrby",
    "expire",
    "pexpire",
    "persist",
    "time",
    # Task and worker events for Flower (worker_send_task_events, heartbeats).
    "publish",
)

# KEDA's redis scaler: `EVAL <script> 1 <listName>` on every poll, the script running TYPE and
# then the length command for the type (kedacore/keda pkg/scalers/redis_scaler.go, v2.12.0 to
# v2.18.3: the `getListLengthScript` lookup table; v2.20.0 the if/elseif form), PING when the
# scaler is created (getRedisClient). Our triggers read lists, hashes and sorted sets.
KEDA = (*CONNECT, "eval", "type", "llen", "hlen", "zcard")

SENDER = (
    *CONNECT,
    "evalsha",
    "eval",
    "script|load",
    "blmove",
    "lmove",
    "lrange",
    "lrem",
    "llen",
    "lpush",
    "rpush",
    "rpop",
    "hget",
    "hmget",
    "hgetall",
    "hset",
    "hdel",
    "hincrby",
    "zadd",
    "zrem",
    "zrangebyscore",
    "zcard",
    "sadd",
    "smembers",
    "get",
    "incrby",
    "decrby",
    "expire",
    "persist",
    "time",
    # The events switch a sender sets or clears at start (functions/sender/outbox.py), and the
    # dead-letter bookkeeping in _lib.lua its settle script shares with the workers.
    "set",
    "del",
    "exists",
    "srem",
    "zrange",
)
