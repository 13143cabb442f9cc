"""Tests of ci/metric_names.py: the PromQL name extraction and the comparison, on the template's
own dashboard and rules against a hand-made exposition (ci/fixtures/metrics-exposition.txt).

Run: python3 -m unittest ci/metric_names_test.py (ci/test-all.sh does).
"""
import io
import os
import re
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import metric_names  # noqa: E402

TEMPLATE = os.path.join(HERE, "..", "template", "monitoring")
FIXTURE = os.path.join(HERE, "fixtures", "metrics-exposition.txt")
BACKUP_FIXTURE = os.path.join(HERE, "fixtures", "backup-exposition.txt")


def rendered(path, directory):
    """The template file with its placeholders filled, as a generated project has it."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    text = re.sub(r"\{\{\s*(crate_name|project-name)\s*\}\}", "demo", text)
    text = re.sub(r"\{%\s*(if prod|endif)\s*%\}", "", text)  # the prod toggle on
    target = os.path.join(directory, os.path.basename(path))
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(text)
    return target


class PromqlNames(unittest.TestCase):
    def test_selectors_are_names_and_labels_functions_keywords_are_not(self):
        expr = ('histogram_quantile(0.99, sum by (le, route) '
                '(rate(http_request_duration_seconds_bucket{job="api",route!="unmatched"}[5m]))) > 1')
        self.assertEqual(metric_names.promql_names(expr), {"http_request_duration_seconds_bucket"})

    def test_binary_operations_offsets_and_grafana_variables(self):
        expr = ('sum(rate(a_total{x="y {z}"}[$__rate_interval])) / ignoring (x) '
                'sum(rate(b_total[5m] offset 1h)) and on (instance) up == 0 or vector(1e3)')
        self.assertEqual(metric_names.promql_names(expr), {"a_total", "b_total", "up"})

    def test_aggregation_with_trailing_grouping_and_label_values_with_keywords(self):
        expr = 'sum(c_total{outcome=~"failed|limited", gate="by"}) without (gate) > bool 2'
        self.assertEqual(metric_names.promql_names(expr), {"c_total"})

    def test_time_and_absent_are_functions(self):
        self.assertEqual(metric_names.promql_names("time() - absent(d_seconds)"), {"d_seconds"})


class Exposition(unittest.TestCase):
    def test_samples_and_type_lines_both_count_and_histograms_expand(self):
        with open(FIXTURE, encoding="utf-8") as handle:
            names = metric_names.exposition_names(handle.read())
        self.assertIn("rate_limit_rejections_total", names)  # TYPE line only
        self.assertIn("http_request_duration_seconds_bucket", names)
        self.assertIn("app_build_info", names)
        self.assertNotIn("HELP", names)


class TemplateAgainstFixture(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.dashboard = rendered(os.path.join(TEMPLATE, "grafana", "dashboards", "api.json"), self.directory)
        self.rules = rendered(os.path.join(TEMPLATE, "prometheus", "alerts.yml"), self.directory)

    def run_checker(self, exposition):
        path = os.path.join(self.directory, "exposition.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(exposition)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = metric_names.main(["--exposition", path, BACKUP_FIXTURE,
                                      "--dashboard", self.dashboard, "--rules", self.rules])
        return code, out.getvalue(), err.getvalue()

    def test_every_name_of_the_dashboard_and_rules_is_in_the_published_names(self):
        with open(FIXTURE, encoding="utf-8") as handle:
            code, out, err = self.run_checker(handle.read())
        self.assertEqual(code, 0, err)
        self.assertIn("are exposed", out)

    def test_a_metric_missing_from_the_output_is_named_with_where_it_is_used(self):
        with open(FIXTURE, encoding="utf-8") as handle:
            text = "".join(line for line in handle if "db_pool_acquire_timeouts_total" not in line)
        code, _, err = self.run_checker(text)
        self.assertEqual(code, 1)
        self.assertIn("db_pool_acquire_timeouts_total is not in the scraped /metrics output", err)
        self.assertIn("rule DatabasePoolExhausted", err)
        self.assertIn("panel 'Database pool acquire timeouts'", err)

    def test_the_backup_alert_needs_the_backup_exporter_s_series(self):
        with open(FIXTURE, encoding="utf-8") as handle:
            app_only = handle.read()
        path = os.path.join(self.directory, "app.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(app_only)
        err = io.StringIO()
        with redirect_stdout(io.StringIO()), redirect_stderr(err):
            code = metric_names.main(["--exposition", path, "--dashboard", self.dashboard, "--rules", self.rules])
        self.assertEqual(code, 1)
        self.assertIn("backup_last_success_timestamp_seconds is not in", err.getvalue())
        self.assertIn("rule BackupTooOld", err.getvalue())

    def test_an_empty_exposition_fails_on_every_name(self):
        code, _, err = self.run_checker("")
        self.assertEqual(code, 1)
        self.assertIn("http_requests_total", err)
        self.assertNotIn(" up is not", err)


if __name__ == "__main__":
    unittest.main()
