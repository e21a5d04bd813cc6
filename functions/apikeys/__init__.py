"""API keys: who may call the API, for which tenant, with which scopes and limits.

    model.py     a key's record and its token (`spw_<id>_<secret>`): parse, hash, check
    store.py     the keys in Redis (redis-py, for `spillway keys` and the API's bootstrap)
    specs.py     key specs from a file mounted from a Kubernetes Secret (GitOps), loaded at start
    errors.py    KeyError base of the package's refusals
    cli.py       `spillway keys ...` options; commands.py the commands

The API reads keys through its own RESP client (functions/api/auth.py); every key lives under
`{SPILLWAY_KEY_PREFIX}spillway:auth:` (functions/keys.py), a prefix no worker needs.
"""
