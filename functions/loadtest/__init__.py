"""`spillway load`: offer invocations on a schedule, watch the system scale, report what happened.

profiles (when arrivals happen) · producer (open-loop sends) · sampler + sources (once a second:
Redis, replicas, /metrics) · drain (poll to completion) · metrics, timeseries, summary (figures) ·
charts, report, output (the run folder) · simcompare (`--compare-sim`) · cli (the options),
commands (their checks), run (one run, start to finish) · locustfile.
"""
