"""The alerting rules (platform/monitoring/prometheusrule.yaml): promtool checks their syntax and
runs unit tests of when they fire, and every metric they read is one the code exports.

promtool is Prometheus's own rule checker (prometheus/cmd/promtool: `check rules`, `test rules`,
whose input-series notation `a+bxN` is documented in docs/configuration/unit_testing_rules.md).
No wheel ships it; scripts/test takes it from Debian's `prometheus` package into .venv/bin.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.manifests import manifest_utils as mu
from tests.manifests.test_k8s_consistency import _defined_metrics

RULES = mu.REPO / "platform/monitoring/prometheusrule.yaml"


def _rule_groups() -> dict[str, Any]:
    doc = yaml.safe_load(RULES.read_text())
    assert doc["kind"] == "PrometheusRule"
    return {"groups": doc["spec"]["groups"]}


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool") or str(mu.REPO / ".venv/bin/promtool")
    if not os.access(found, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: scripts/test installs it from Debian's prometheus")
        pytest.skip("promtool not found (scripts/test installs it from Debian's prometheus)")
    return found


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "spillway.rules.yaml"
    path.write_text(yaml.safe_dump(_rule_groups()))
    return path


def test_the_rules_read_only_metrics_the_code_exports() -> None:
    defined = _defined_metrics()
    expressions = [rule["expr"] for g in _rule_groups()["groups"] for rule in g["rules"]]
    used = {m for expr in expressions for m in re.findall(r"\bspillway_\w+", expr)}
    assert used, "no spillway metric in the rules"
    assert used <= defined, sorted(used - defined)
    assert {"spillway_dead_lettered_total", "spillway_reclaimed_deliveries_total"} <= used


def test_promtool_accepts_the_rules(promtool: str, rules_file: Path) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 rules found" in result.stdout, result.stdout


# Two API replicas report the same Redis-side total; one worker reclaims twice.
_TESTS = {
    "evaluation_interval": "1m",
    "tests": [
        {
            "interval": "1m",
            "input_series": [
                {
                    "series": 'spillway_dead_lettered_total{namespace="s", pod="api-1", '
                    'queue="spillway", reason="retries_exhausted"}',
                    "values": "5x20 7x20",
                },
                {
                    "series": 'spillway_dead_lettered_total{namespace="s", pod="api-2", '
                    'queue="spillway", reason="retries_exhausted"}',
                    "values": "5x20 7x20",
                },
                {
                    "series": 'spillway_dead_letters_shed_total{namespace="s", pod="api-1", '
                    'queue="spillway"}',
                    "values": "0x40",
                },
                {
                    "series": 'spillway_reclaimed_deliveries_total{namespace="s", pod="w-1"}',
                    "values": "0x10 2x30",
                },
            ],
            "alert_rule_test": [
                # Flat for 20 minutes: nothing new, no alert.
                {"eval_time": "18m", "alertname": "SpillwayDeadLettersGrowing", "exp_alerts": []},
                {
                    "eval_time": "25m",
                    "alertname": "SpillwayDeadLettersGrowing",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "severity": "warning",
                                "namespace": "s",
                                "queue": "spillway",
                                "reason": "retries_exhausted",
                            },
                            "exp_annotations": {
                                "summary": "Dead letters are arriving in queue spillway "
                                "(retries_exhausted)",
                                "description": "2 message(s) were dead-lettered in the last 15 "
                                "minutes. List them with `spillway dlq list --queue spillway "
                                "--reason retries_exhausted` (or GET /v1/dead-letters), fix "
                                "the cause, then replay.",
                            },
                        }
                    ],
                },
                # 15 minutes after the last one, quiet again.
                {"eval_time": "38m", "alertname": "SpillwayDeadLettersGrowing", "exp_alerts": []},
                {"eval_time": "30m", "alertname": "SpillwayDeadLettersShed", "exp_alerts": []},
                {"eval_time": "5m", "alertname": "SpillwayWorkersLost", "exp_alerts": []},
                {
                    "eval_time": "15m",
                    "alertname": "SpillwayWorkersLost",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "warning", "namespace": "s"},
                            "exp_annotations": {
                                "summary": "Workers died with tasks in flight",
                                "description": "2 deliveries were recovered from lost workers in "
                                "the last 10 minutes. Look for OOM kills and evictions of "
                                "spillway-worker pods.",
                            },
                        }
                    ],
                },
            ],
        }
    ],
}


def test_the_alerts_fire_when_they_should(promtool: str, rules_file: Path, tmp_path: Path) -> None:
    tests = tmp_path / "tests.yaml"
    tests.write_text(yaml.safe_dump({"rule_files": [str(rules_file)], **_TESTS}))
    result = subprocess.run(
        [promtool, "test", "rules", str(tests)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# A sender that is down from minute 4: what is ready stays ready. A burst a sender takes within a
# scrape or two (minute 1) does not fire. Minutes 4 and 5 hold the same value, so the figure does
# not depend on whether the range includes its left end (it does before Prometheus 3.0).
_CALLBACK_TESTS = {
    "evaluation_interval": "1m",
    "tests": [
        {
            "interval": "1m",
            "input_series": [
                {
                    "series": 'spillway_outbox_deliveries{namespace="s", pod="api-1", '
                    'state="ready"}',
                    "values": "0 40 0 0 3 3 8 9 12 12 12 12 12 12 12 12 12 12 12 12",
                },
            ],
            "alert_rule_test": [
                {"eval_time": "8m", "alertname": "SpillwayCallbacksWaiting", "exp_alerts": []},
                {
                    "eval_time": "14m",
                    "alertname": "SpillwayCallbacksWaiting",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "warning", "namespace": "s"},
                            "exp_annotations": {
                                "summary": "Callbacks are waiting for a sender",
                                "description": "At least 3 callbacks or completion events have "
                                "waited in the outbox for 10 minutes. Check the spillway-sender "
                                "pods (`kubectl logs deployment/spillway-sender`); add replicas "
                                "if they are busy.",
                            },
                        }
                    ],
                },
            ],
        }
    ],
}


def test_waiting_callbacks_alert_only_when_no_sender_takes_them(
    promtool: str, rules_file: Path, tmp_path: Path
) -> None:
    tests = tmp_path / "callbacks.yaml"
    tests.write_text(yaml.safe_dump({"rule_files": [str(rules_file)], **_CALLBACK_TESTS}))
    result = subprocess.run(
        [promtool, "test", "rules", str(tests)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
