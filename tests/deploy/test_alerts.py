"""The Prometheus alert rules of deploy/prometheus/tandem-alerts.yml (issue 15, item 8).

``promtool check rules`` (Debian's prometheus package, installed by ``make cluster-tools``) accepts the
file; ``promtool test rules`` shows each alert firing on the series that should raise it, at the
time it should, and not before; and every metric a rule reads is one a running node exports (scraped
from a node of the cluster).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import cluster_conf as conf
from tests.helpers.cluster import Cluster
from tests.helpers.netns import unavailable

RULES = conf.DEPLOY / "prometheus" / "tandem-alerts.yml"
ALERTS = ("TandemNodeNotReady", "TandemRoomLeaseLost", "TandemBusDown", "TandemPushFailures",
          "TandemRetentionSweeperStalled")


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        unavailable("promtool is not installed (`make cluster-tools` installs Debian's prometheus)")
    assert path is not None
    return path


def _rules() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule for group in doc["groups"] for rule in group["rules"]}


def test_promtool_accepts_the_rules() -> None:
    checked = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True,
                             timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in checked.stdout
    assert tuple(_rules()) == ALERTS


def _expected(alert: str, labels: dict[str, str]) -> dict[str, Any]:
    rule = _rules()[alert]
    instance = labels.get("instance", "")
    annotations = {k: v.replace("{{ $labels.instance }}", instance) for k, v in rule["annotations"].items()}
    return {"exp_labels": {**labels, **rule["labels"]}, "exp_annotations": annotations}


def _case(alert: str, series: dict[str, str], quiet_at: str, firing_at: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "alert_rule_test": [
            {"eval_time": quiet_at, "alertname": alert, "exp_alerts": []},
            {"eval_time": firing_at, "alertname": alert, "exp_alerts": [_expected(alert, labels)]},
        ],
    }


def test_each_alert_fires_when_it_should_and_not_before(tmp_path: Path) -> None:
    node = {"job": "tandem", "instance": "node-a:8081"}
    sel = 'job="tandem",instance="node-a:8081"'
    cases = [
        # The node stops answering scrapes at minute 2; "for: 2m" holds it back until minute 4.
        _case("TandemNodeNotReady", {f"up{{{sel}}}": "1 1 0 0 0 0 0", f"tandem_ready{{{sel}}}": "1 1"},
              "3m", "5m", node),
        # It answers, but is not ready (database, bus or policies).
        _case("TandemNodeNotReady", {f"up{{{sel}}}": "1x10", f"tandem_ready{{{sel}}}": "1 1 0 0 0 0 0 0"},
              "3m", "5m", node),
        _case("TandemRoomLeaseLost", {f"tandem_room_lease_renewals_failed_total{{{sel}}}": "0 0 0 0 1 1"},
              "3m", "5m", node),
        _case("TandemBusDown", {f"tandem_bus_up{{{sel}}}": "1 1 0 0 0 0"}, "2m", "4m", node),
        # 2 refused pushes a minute on node a (fires after 15 min of it); node b's pushes only bounce off
        # unsubscribed browsers ("gone"), which is no failure, however many.
        _case("TandemPushFailures", {
            f'tandem_push_total{{{sel},result="refused"}}': "0+2x60",
            'tandem_push_total{job="tandem",instance="node-b:8082",result="gone"}': "0+50x60",
            'tandem_push_total{job="tandem",instance="node-b:8082",result="sent"}': "0+50x60",
        }, "20m", "40m", {"instance": "node-a:8081"}),
        # Hourly sweeps; the last finished at 0 (time 0 of the test): quiet at 1h59m, firing at 2h01m.
        _case("TandemRetentionSweeperStalled", {
            f"tandem_retention_sweep_interval_seconds{{{sel}}}": "3600+0x200",
            f"tandem_retention_sweep_last_success_timestamp_seconds{{{sel}}}": "0+0x200",
        }, "119m", "121m", {}),
    ]
    tests = tmp_path / "tandem-alerts.test.yml"
    tests.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": cases}))
    ran = subprocess.run([_promtool(), "test", "rules", str(tests)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert {c["alert_rule_test"][0]["alertname"] for c in cases} == set(ALERTS)


def _metric_names(expr: str) -> set[str]:
    """Metric names an expression reads (the names of selectors: tandem_* and Prometheus' own up)."""
    return set(re.findall(r"\b(tandem_[a-z_]+|up)\b(?=\s*[{\[)=<>!*+-]|\s*$)", expr))


def test_every_metric_the_rules_read_is_exported_by_a_node(cluster: Cluster) -> None:
    with urllib.request.urlopen(f"{cluster.node_url(0)}/metrics", timeout=10) as resp:  # loopback only
        exported = resp.read().decode()
    families = set(re.findall(r"^# TYPE (\S+) ", exported, re.MULTILINE))
    read = set().union(*(_metric_names(rule["expr"]) for rule in _rules().values()))
    assert {"tandem_ready", "tandem_bus_up", "tandem_push_total", "tandem_retention_sweep_interval_seconds",
            "tandem_retention_sweep_last_success_timestamp_seconds", "up",
            "tandem_room_lease_renewals_failed_total"} == read
    missing = {m for m in read - {"up"}
               if m not in families and m.removesuffix("_total") not in families}
    assert not missing, f"rules read metrics no node exports: {missing}"
    # What the gauges say on a healthy node: ready, bus up, hourly sweeps, counted from the sweeper's start.
    assert re.search(r"^tandem_ready 1\.0$", exported, re.MULTILINE)
    assert re.search(r"^tandem_bus_up 1\.0$", exported, re.MULTILINE)
    assert re.search(r"^tandem_retention_sweep_interval_seconds 3600\.0$", exported, re.MULTILINE)
    started = re.search(r"^tandem_retention_sweep_last_success_timestamp_seconds (\S+)$", exported, re.MULTILINE)
    assert started is not None and 0 < time.time() - float(started.group(1)) < 3600

