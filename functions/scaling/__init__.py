"""Scaling engine: a deterministic model of KEDA + HPA (workers) and the Knative KPA (API).

One job per module:

    spec.py        parameters (ScaledObject, Knative Service) with upstream defaults
    formula.py     the expr-lang subset used by `scalingModifiers.formula`
    keda.py        KEDA's redis trigger, activation and 0 <-> 1 step on each pollingInterval
    hpa.py         the HPA's sync: legacy rules (behavior unset) and behavior rules
    controller.py  ScalingController: KEDA polls + HPA syncs on one clock, with reasons
    knative.py     the Knative Pod Autoscaler (stable/panic windows, scale to zero)
    manifests.py   ScaledObject / Knative Service from YAML: a file or a rendered kustomize dir
    overrides.py   what-if edits of a ScaledObject and the kustomize patch that applies them
    replay.py      replay a recorded metric series through the controller
    workload.py    arrival profiles and service times for `run`
    frontend.py    the API side of a run: Knative pods, the activator's buffer
    simulate.py    discrete-event simulation of API, queue and worker pods
    stats.py       counters and the JSON summary of a run
    sweep.py       grid over trigger settings, cheapest setting meeting an SLO
    plot.py        the PNG of a run
    cli.py         `spillway simulate replay|run|sweep`: the options (argparse only)
    commands.py    the commands: read manifests and options, run the engine, report
    output.py      the files and tables the commands write

Facts and their upstream sources are in docs/scaling.md; each rule cites its source where it is
implemented. Nothing is imported here: `spillway api` builds the CLI, which registers
`simulate`, and must not pay for the engine (import functions.scaling.controller instead).
"""
