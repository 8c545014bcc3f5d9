"""deploy/grafana: the dashboard queries metrics the services expose, with labels they carry.

Metric names and label names come from the kit itself (a ServiceMetrics registry), plus the few
metrics proposed for the kit (PROPOSED_METRICS, documented in deploy/grafana/README.md). Target
labels (namespace, service, ...) come from the scrape job beside the dashboard, whose label
sources must exist on the pods of deploy/k8s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from inclusion_kit.observability import ServiceMetrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "inclusion-dashboard.json"
SCRAPE = ROOT / "deploy" / "grafana" / "prometheus-scrape.yaml"
README = ROOT / "deploy" / "grafana" / "README.md"
K8S_API = ROOT / "deploy" / "k8s" / "base" / "referral-api" / "api.yaml"

# Metrics the dashboard may use before the kit has them: name -> labels (see README.md).
# Metrics the dashboard may use before the kit has them (none now: all are the kit's).
PROPOSED_METRICS: dict[str, frozenset[str]] = {}
# What the dashboard must show (the deployment issue's list), by the metrics that carry it.
REQUIRED = {
    "ingest rate": {"ingest_records_total"},
    "HTTP latency": {"http_request_duration_seconds_bucket"},
    "outbox lag": {"outbox_oldest_unpublished_age_seconds", "outbox_unpublished_rows"},
    "consumer lag": {"consumer_lag_records"},
    "dead letters": {"events_dead_lettered_total"},
    "dead-letter depth": {"dead_letter_depth_records"},
}
PROMQL_FUNCTIONS = frozenset(
    {
        "sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile", "stddev", "stdvar",
        "rate", "irate", "increase", "delta", "idelta", "histogram_quantile", "clamp_min", "clamp_max",
        "abs", "ceil", "floor", "round", "sort", "sort_desc", "time", "vector", "scalar", "absent",
        "max_over_time", "min_over_time", "avg_over_time", "sum_over_time", "label_replace",
    }
)  # fmt: skip
PROMQL_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or"}
)


def kit_metrics() -> dict[str, frozenset[str]]:
    """Exposed sample name -> label names, for every metric of a service's registry."""
    found: dict[str, frozenset[str]] = {}
    for metric in vars(ServiceMetrics("dashboard-test")).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        # prometheus_client keeps the family name (a counter's without _total) and its labels.
        name, kind, labels = metric._name, metric._type, frozenset(metric._labelnames)
        if kind == "counter":
            found[f"{name}_total"] = labels
        elif kind == "histogram":
            found[f"{name}_bucket"] = labels | {"le"}
            found[f"{name}_sum"] = labels
            found[f"{name}_count"] = labels
        else:
            found[name] = labels
    return found


def target_labels() -> frozenset[str]:
    """Labels every scraped series carries (the scrape job's relabelings, plus Prometheus's)."""
    scrape = yaml.safe_load(SCRAPE.read_text(encoding="utf-8"))
    (job,) = scrape["scrape_configs"]
    labels = {
        r["target_label"] for r in job["relabel_configs"] if not r.get("target_label", "__").startswith("__")
    }
    return frozenset(labels | {"job", "instance"})


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


# ---------------------------------------------------------------------------------------------
# A PromQL reader for what dashboards use: selectors, grouping clauses, functions
# ---------------------------------------------------------------------------------------------
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
SELECTOR = re.compile(r'([A-Za-z_:][\w:]*)\s*\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\}')
MATCHER = re.compile(r'\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*(?:,|$)')
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def parse(expr: str) -> tuple[list[tuple[str, set[str]]], set[str]]:
    """([(metric, matcher labels)], grouping labels), refusing bare metric names (every selector
    is scoped with braces) and anything it does not recognise."""
    selectors = []
    for name, body in SELECTOR.findall(expr):
        matchers = MATCHER.findall(body)
        assert "".join(MATCHER.sub("", body).split()) == "", f"cannot read matchers {{{body}}} in {expr}"
        selectors.append((name, {label for label, _op in matchers}))
    grouping = {label.strip() for _kind, labels in GROUPING.findall(expr) for label in labels.split(",")}
    grouping.discard("")
    rest = GROUPING.sub(" ", SELECTOR.sub(" ", STRING.sub('""', expr)))
    rest = re.sub(r"\[[^\]]*\]", " ", rest)  # range selectors
    for word in re.findall(r"[A-Za-z_:][\w:]*", rest):
        assert word in PROMQL_FUNCTIONS or word in PROMQL_KEYWORDS, f"{word!r} in {expr}: a bare metric?"
    return selectors, grouping


def test_the_promql_reader() -> None:
    selectors, grouping = parse(
        'histogram_quantile(0.95, sum by (service, le) (rate(x_bucket{a="1", b=~"p|q\\\\{z\\\\}"}[5m])))'
    )
    assert selectors == [("x_bucket", {"a", "b"})] and grouping == {"service", "le"}
    with pytest.raises(AssertionError, match="bare metric"):
        parse("sum(rate(http_requests_total[5m]))")
    with pytest.raises(AssertionError, match="cannot read matchers"):
        parse('sum(x{a="1" b="2"})')


# ---------------------------------------------------------------------------------------------
# The dashboard
# ---------------------------------------------------------------------------------------------
def test_dashboard_is_a_grafana_dashboard(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert (
        variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    )
    assert {"namespace", "service"} <= set(variables)
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids are unique"


def test_every_panel_has_a_title_a_datasource_and_queries(dashboard: dict[str, Any]) -> None:
    datasource = {"type": "prometheus", "uid": "${datasource}"}
    graphs = [p for p in panels(dashboard) if p["type"] != "row"]
    assert len(graphs) >= 10
    for panel in graphs:
        title = panel.get("title")
        assert title, panel
        assert panel.get("description"), title
        assert panel["datasource"] == datasource, title
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]) and panel["gridPos"]["x"] + panel["gridPos"][
            "w"
        ] <= 24
        assert panel["fieldConfig"]["defaults"].get("unit"), title
        targets = panel["targets"]
        assert targets, title
        assert len({t["refId"] for t in targets}) == len(targets), title
        for target in targets:
            assert target["datasource"] == datasource and target["expr"].strip(), title


def test_queries_use_metrics_and_labels_that_exist(dashboard: dict[str, Any]) -> None:
    known = kit_metrics() | PROPOSED_METRICS
    scraped = target_labels()
    for title, expr in queries(dashboard):
        selectors, grouping = parse(expr)
        assert selectors, f"{title}: no metric in {expr}"
        labels_here: set[str] = set()
        for metric, matchers in selectors:
            assert metric in known, f"{title}: {metric} is neither a kit metric nor a proposed one"
            unknown = matchers - known[metric] - scraped
            assert not unknown, f"{title}: {metric} has no labels {sorted(unknown)}"
            labels_here |= known[metric]
        unknown = grouping - labels_here - scraped
        assert not unknown, f"{title}: grouping by labels no series has: {sorted(unknown)}"


def test_dashboard_covers_what_operations_need(dashboard: dict[str, Any]) -> None:
    used = {metric for _title, expr in queries(dashboard) for metric, _ in parse(expr)[0]}
    for need, metrics in REQUIRED.items():
        assert metrics & used, f"no panel for {need} ({sorted(metrics)})"


def test_panels_on_proposed_metrics_say_so(dashboard: dict[str, Any]) -> None:
    kit = kit_metrics()
    readme = README.read_text(encoding="utf-8")
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            for metric, _ in parse(target["expr"])[0]:
                if metric in kit:
                    continue
                assert metric in panel["description"] and "proposed" in panel["description"], panel["title"]
                assert f"`{metric}{{" in readme, f"README.md does not describe {metric}"


def test_template_variables_query_existing_series(dashboard: dict[str, Any]) -> None:
    known = kit_metrics()
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((\w+)(\{[^}]*\})?,\s*(\w+)\)", variable["query"]["query"])
        assert match, variable["query"]
        assert match.group(1) in known and match.group(3) in target_labels()


def test_scrape_job_reads_labels_the_pods_carry() -> None:
    documents = list(yaml.safe_load_all(K8S_API.read_text(encoding="utf-8")))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    template = deployment["spec"]["template"]["metadata"]
    scrape = yaml.safe_load(SCRAPE.read_text(encoding="utf-8"))
    (job,) = scrape["scrape_configs"]
    for relabel in job["relabel_configs"]:
        for source in relabel["source_labels"]:
            for prefix, present in (
                ("__meta_kubernetes_pod_label_", template["labels"]),
                ("__meta_kubernetes_pod_annotation_", template["annotations"]),
            ):
                if source.startswith(prefix):
                    sanitized = {re.sub(r"[^A-Za-z0-9_]", "_", k): k for k in present}
                    assert source.removeprefix(prefix) in sanitized, f"pods have no {source}"
    assert {"namespace", "service", "component", "pod"} <= target_labels()
