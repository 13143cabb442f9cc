#!/usr/bin/env python3
"""Every metric name a generated project's dashboard and alert rules use must exist in the app's
/metrics output: a renamed metric would otherwise leave an empty panel and an alert that can
never fire, silently.

  metric_names.py --exposition FILE… --dashboard JSON… --rules YAML…

(one exposition per scrape target: the app's /metrics, and with the prod toggle the backup
textfile exporter's)

Names used: every selector in the PromQL of the dashboard's targets and of the rules' `expr`
(labels, functions, keywords, durations and Grafana variables are not names). Names exposed:
each sample's name plus each `# TYPE` line (a histogram `x` exposes x_bucket, x_sum, x_count),
so a metric registered at zero counts even before its first sample. `up` is Prometheus' own.
Exit 1, naming each missing metric and where it is used.
"""
import argparse
import json
import re
import sys

import yaml

# Series Prometheus makes itself for every target.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS", "ALERTS_FOR_STATE"}
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan", "Inf", "NaN", "start", "end", "atan2",
}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENTIFIER = re.compile(r"(?<![\w.:$])[a-zA-Z_:][a-zA-Z0-9_:]*")


def promql_names(expr):
    """Metric names selected by one PromQL expression."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)          # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)         # ranges, subqueries, [$__rate_interval]
    text = re.sub(r"\$\{[^}]*\}|\$\w+", " ", text)  # Grafana variables elsewhere
    text = GROUPING.sub(" ", text)
    names = set()
    for match in IDENTIFIER.finditer(text):
        name = match.group(0)
        following = text[match.end():].lstrip()
        if following.startswith("(") or name in KEYWORDS:
            continue  # a function or aggregation call, or a keyword
        names.add(name)
    return names


def exposition_names(text):
    names = set()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                name, kind = parts[2], parts[3]
                names.add(name)
                if kind == "histogram":
                    names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
                elif kind == "summary":
                    names.update({f"{name}_sum", f"{name}_count"})
            continue
        match = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
        if match:
            names.add(match.group(0))
    return names


def dashboard_expressions(path):
    with open(path, encoding="utf-8") as handle:
        dashboard = json.load(handle)
    found = []

    def walk(panels):
        for panel in panels or []:
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    found.append((f"{path}: panel {panel.get('title', panel.get('id'))!r}", target["expr"]))
            walk(panel.get("panels"))  # panels folded inside a row

    walk(dashboard.get("panels"))
    return found


def rule_expressions(path):
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle) or {}
    found = []
    for group in document.get("groups") or []:
        for rule in group.get("rules") or []:
            name = rule.get("alert") or rule.get("record")
            found.append((f"{path}: rule {name}", str(rule.get("expr", ""))))
            if rule.get("record"):
                PROMETHEUS_SERIES.add(rule["record"])  # a recording rule's output is a series too
    return found


def missing_names(exposed, usages):
    """[(name, where)] for every used name neither exposed nor made by Prometheus."""
    missing = []
    for where, expr in usages:
        for name in sorted(promql_names(expr)):
            if name not in exposed and name not in PROMETHEUS_SERIES:
                missing.append((name, where))
    return missing


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exposition", nargs="+", required=True)
    parser.add_argument("--dashboard", nargs="*", default=[])
    parser.add_argument("--rules", nargs="*", default=[])
    args = parser.parse_args(argv)
    exposed = set()
    for path in args.exposition:
        with open(path, encoding="utf-8") as handle:
            exposed |= exposition_names(handle.read())
    usages = []
    for path in args.dashboard:
        usages += dashboard_expressions(path)
    for path in args.rules:
        usages += rule_expressions(path)
    if not usages:
        print("metric_names: no expression found in the dashboard and rules given", file=sys.stderr)
        return 1
    missing = missing_names(exposed, usages)
    for name, where in missing:
        print(f"metric_names: {name} is not in the scraped /metrics output (used by {where})", file=sys.stderr)
    used = set().union(*(promql_names(expr) for _, expr in usages))
    if not missing:
        print(f"metric_names: all {len(used)} metric names of {len(usages)} expressions are exposed")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
