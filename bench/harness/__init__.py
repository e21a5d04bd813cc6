"""What every benchmark section shares, one module a topic; importing any of them starts nothing.

cpus           which CPUs the server under test and the load generator get, and pinning
priority       running the suite and its children at a higher priority
processes      child processes: their environment, their logs, stopping their whole group
probes         raw-socket HTTP GET/POST and waiting for a 200
stats          median and spread of repeated runs
machine        what the results file records about the machine and the code measured
redisserver    a private redis-server pinned to the load CPUs
interference   how much CPU other work took during a measurement
repeat         the repeat policy: run again what other work disturbed, keep the clean rounds
"""
