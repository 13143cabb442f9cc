#!/usr/bin/env python3
"""shasec's ecosystem check: audit public projects at pinned commits and score the findings
against hand-written labels.

Each project of projects.toml has expectations/OWNER+NAME.toml, a list of `[[finding]]` entries
(rule, location as shasec prints it, verdict "tp" or "fp", a one-line reason, and for a tp an
optional `max_severity`: reported above it, the finding over-rates the issue and counts as a
false positive). Known issues that shasec must find are `tp` entries too, whether or not it
reports them today.

  precision = reported findings labelled tp / all reported findings (an unlabelled one counts
              as a false positive and is listed, so the labels cannot silently fall behind)
  recall    = tp entries reported / all tp entries

The repositories' code never enters this repository: snapshots come in with the session's `fetch`
tool under --mirror (OWNER+NAME/repo, a bare git dir) and are cloned into --corpus, outside it.
Not run in CI (it cannot fetch). Exit 1 when a goal is missed or a project crashed.

Usage: run.py [--shasec BIN] [--corpus DIR] [--mirror DIR] [--only NAME] [--save DIR] [--replay DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOAL_PRECISION = 0.95
GOAL_RECALL = 0.90
GOAL_SECONDS = 2.0


def slug(repo):
    return repo.replace("/", "+")


def checkout(project, corpus, mirror):
    """The project's work tree at its pinned commit, cloned from the fetched snapshot.

    Snapshots lack files of 4 MiB and more, so a plain checkout can fail half-way: the index is
    written from the tree (git needs no blob for that) and every blob present is checked out.
    """
    directory = corpus / slug(project["repo"])
    if not directory.is_dir():
        snapshot = mirror / slug(project["repo"]) / "repo"
        if not snapshot.is_dir():
            raise RuntimeError(f"no snapshot at {snapshot}: fetch github:{project['repo']} first")
        subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(snapshot), str(directory)], check=True)
    git = ["git", "-C", str(directory)]
    head = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    tracked = subprocess.run(git + ["ls-files"], capture_output=True, text=True, check=True).stdout
    if head != project["commit"] or not tracked:
        subprocess.run(git + ["update-ref", "--no-deref", "HEAD", project["commit"]], check=True)
        subprocess.run(git + ["read-tree", project["commit"]], check=True)
        subprocess.run(git + ["checkout-index", "--all", "--force", "--quiet"], capture_output=True)
    return directory


def location(finding):
    where = finding["location"]
    return f"{where['path']}:{where['line']}" if where.get("line") else where["path"]


def audit(binary, directory):
    """(findings, seconds, crash message or None)."""
    started = time.monotonic()
    result = subprocess.run(
        [binary, "audit", str(directory), "--format", "json", "--fail-on", "critical"],
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    if result.returncode not in (0, 1):
        return [], seconds, f"exit {result.returncode}: {result.stderr.strip()[:300]}"
    try:
        return json.loads(result.stdout)["findings"], seconds, None
    except (json.JSONDecodeError, KeyError) as error:
        return [], seconds, f"unreadable report: {error}"


def load_labels(name):
    path = HERE / "expectations" / f"{name}.toml"
    if not path.is_file():
        return {}
    labels = {}
    for entry in tomllib.loads(path.read_text()).get("finding", []):
        labels[(entry["rule"], entry["location"])] = entry
    return labels


SEVERITIES = ["info", "low", "medium", "high", "critical"]


def is_true(finding, labels):
    entry = labels.get((finding["rule"], location(finding)), {})
    if entry.get("verdict") != "tp":
        return False
    ceiling = entry.get("max_severity", "critical")
    return SEVERITIES.index(finding["severity"]) <= SEVERITIES.index(ceiling)


def score(name, findings, labels):
    reported = {(f["rule"], location(f)) for f in findings}
    # One verdict per (rule, location); the most severe report there decides over-rating.
    worst = {}
    for finding in findings:
        key = (finding["rule"], location(finding))
        if key not in worst or SEVERITIES.index(finding["severity"]) > SEVERITIES.index(worst[key]["severity"]):
            worst[key] = finding
    tp_reported = sum(1 for finding in worst.values() if is_true(finding, labels))
    unlabelled = sorted(key for key in reported if key not in labels)
    true_issues = {key for key, entry in labels.items() if entry["verdict"] == "tp"}
    missed = sorted(true_issues - reported)
    false_positives = sorted(
        key for key, finding in worst.items() if key in labels and not is_true(finding, labels)
    )
    return {
        "project": name,
        "reported": len(reported),
        "tp": tp_reported,
        "issues": len(true_issues),
        "found": len(true_issues & reported),
        "unlabelled": unlabelled,
        "missed": missed,
        "false_positives": false_positives,
    }


def ratio(numerator, denominator):
    return numerator / denominator if denominator else 1.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = os.environ.get("CARGO_TARGET_DIR", str(HERE.parent.parent / "target"))
    parser.add_argument("--shasec", default=str(Path(target) / "release" / "shasec"))
    parser.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--only", help="one project (OWNER/NAME)")
    parser.add_argument("--save", type=Path, help="write each project's findings as JSON here")
    parser.add_argument("--replay", type=Path, help="score findings saved by --save instead of auditing")
    parser.add_argument("--verbose", "-v", action="store_true", help="list false positives and misses")
    args = parser.parse_args()

    projects = tomllib.loads((HERE / "projects.toml").read_text())["project"]
    if args.only:
        projects = [p for p in projects if p["repo"] == args.only]
    if not args.replay and not Path(args.shasec).is_file():
        sys.exit(f"no shasec binary at {args.shasec} (cargo build --release -p shasec, or --shasec BIN)")
    args.corpus.mkdir(parents=True, exist_ok=True)

    results, crashes, timings = [], [], []
    for project in projects:
        name = slug(project["repo"])
        if args.replay:
            findings = json.loads((args.replay / f"{name}.json").read_text())
            seconds, crash = 0.0, None
        else:
            try:
                directory = checkout(project, args.corpus, args.mirror)
            except (RuntimeError, subprocess.CalledProcessError) as error:
                crashes.append((name, f"checkout: {error}"))
                continue
            findings, seconds, crash = audit(args.shasec, directory)
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                (args.save / f"{name}.json").write_text(json.dumps(findings, indent=1))
        if crash:
            crashes.append((name, crash))
        timings.append((seconds, name))
        results.append((score(name, findings, load_labels(name)), seconds))

    print(f"{'project':<50} {'found':>5} {'TP':>4} {'FP':>4} {'miss':>4} {'precision':>9} {'recall':>7} {'time':>6}")
    totals = {"reported": 0, "tp": 0, "issues": 0, "found": 0}
    for result, seconds in results:
        for key in totals:
            totals[key] += result[key]
        print(
            f"{result['project']:<50} {result['reported']:>5} {result['tp']:>4} "
            f"{result['reported'] - result['tp']:>4} {len(result['missed']):>4} "
            f"{ratio(result['tp'], result['reported']):>9.1%} "
            f"{ratio(result['found'], result['issues']):>7.1%} {seconds:>5.2f}s"
        )
        if args.verbose:
            for rule, where in result["false_positives"]:
                print(f"    FP    {rule} {where}")
            for rule, where in result["missed"]:
                print(f"    MISS  {rule} {where}")
        for rule, where in result["unlabelled"]:
            print(f"    UNLABELLED {rule} {where}")
    precision = ratio(totals["tp"], totals["reported"])
    recall = ratio(totals["found"], totals["issues"])
    print(
        f"\noverall: {totals['reported']} findings, {totals['tp']} true, "
        f"{totals['found']}/{totals['issues']} known issues found; "
        f"precision {precision:.1%}, recall {recall:.1%}"
    )
    if timings and not args.replay:
        seconds, name = max(timings)
        print(f"slowest: {name} {seconds:.2f}s")
    for name, crash in crashes:
        print(f"CRASH {name}: {crash}")
    if not crashes:
        print("crashes: none")
    slow = [name for seconds, name in timings if seconds >= GOAL_SECONDS]
    failed = (
        precision < GOAL_PRECISION or recall < GOAL_RECALL or crashes or (slow and not args.replay)
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
