"""Dead letters: where every invocation that cannot finish is kept, to be seen, fixed and replayed.

Workers file them (functions/worker/lua/_lib.lua, `dead_letter`); this package reads and operates
the store, for the API (functions/api/routes/dead_letters.py) and for `spillway dlq` alike:

    store.py      DeadLetters: list, show, replay, delete, purge, stats (one implementation)
    lua/          its scripts, each run with the worker's _lib.lua in front
    errors.py     what the store refuses, under one base
    metrics.py    the Prometheus collector fed from the store's counts
    cli.py  commands.py  output.py  connection.py    `spillway dlq ...`
"""
