#!/usr/bin/env python3
"""Every alert and dashboard query parses and names only metrics that exist.

  check_observability.py SOURCE_DIR SENTINEL_BINARY

Needs the test PostgreSQL (SENTINEL_TEST_PG_URL, scripts/pg.sh) and promtool (Debian package
prometheus). It
- runs the binary for real (`kafka-mock`, `migrate`, `run --metrics-listen`) and takes the metric
  names its /metrics declares (histograms with _bucket/_sum/_count), including process_* and
  sentinel_ingest_build_info, once librdkafka's statistics made kafka_brokers_up a sample;
- takes the exporters' names from tests/docker/exporter_metrics.txt and the custom queries of
  docker/postgres-exporter/queries.yaml; where prometheus-postgres-exporter and
  prometheus-node-exporter are installed, scrapes them (the former against the test PostgreSQL)
  and fails on a listed name they do not export;
- puts every expression of docker/prometheus/*alerts.yml and every query of
  docker/grafana/dashboards/*.json (Grafana's $variables replaced) into a generated rules file
  for `promtool check rules`, and fails on any metric name outside the two sets above;
- checks that every alert has a runbook_url naming a section of docs/runbook.md.
Prints one line per failed check and exits 1 if any failed.
"""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from checklist import check, finish  # noqa: E402 (after the line above)

SRC, BINARY = sys.argv[1], sys.argv[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode()
    except OSError:
        return ""


def declared_names(text):
    """Names a Prometheus text exposition declares (TYPE lines, histograms expanded) or samples."""
    names = set()
    for m in re.finditer(r"^# TYPE (\S+) (\S+)$", text, re.M):
        name, kind = m.groups()
        names.add(name)
        if kind in ("histogram", "summary"):
            names |= {name + "_bucket", name + "_sum", name + "_count"}
    names |= set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.M))
    return names


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if shutil.which("promtool") is None:
    print("FAIL: promtool is not installed (Debian package prometheus; scripts/setup.sh)")
    sys.exit(1)
pg_url = os.environ.get("SENTINEL_TEST_PG_URL")
if not pg_url:
    print("FAIL: SENTINEL_TEST_PG_URL is not set (bash scripts/pg.sh start DIR; . DIR/env)")
    sys.exit(1)

# --- the binary's names, from a real run ---------------------------------------------------------
binary_names = set()
work = tempfile.mkdtemp(prefix="sentinel-observability-")
mock = subprocess.Popen([BINARY, "kafka-mock"], stdout=subprocess.PIPE, stderr=open(
    os.path.join(work, "kafka-mock.log"), "w"), text=True)
run = None
try:
    bootstrap = mock.stdout.readline().strip()
    check(bootstrap != "", "kafka-mock printed no bootstrap list")
    r = subprocess.run([BINARY, "migrate", "--pg", pg_url], capture_output=True, text=True)
    check(r.returncode == 0, "migrate: " + r.stderr[-2000:])
    port = free_port()
    run_log = os.path.join(work, "run.log")
    run = subprocess.Popen([BINARY, "run", "--pg", pg_url, "--brokers", bootstrap, "--group",
                            f"observability-check-{os.getpid()}", "--metrics-listen",
                            f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                           stderr=open(run_log, "w"))
    text = ""
    deadline = time.time() + 60
    # Statistics every 5 s: wait for the first, so the gauge is a sample, not only declared.
    while time.time() < deadline and run.poll() is None:
        text = get(f"http://127.0.0.1:{port}/metrics")
        if re.search(r"^sentinel_ingest_kafka_brokers_up [1-9]", text, re.M):
            break
        time.sleep(0.5)
    check(re.search(r"^sentinel_ingest_kafka_brokers_up [1-9]", text, re.M) is not None,
          "run: no sentinel_ingest_kafka_brokers_up >= 1 within 60 s; log: "
          + open(run_log).read()[-2000:])
    check(re.search(r'^sentinel_ingest_build_info\{version="[^"]+",commit="[^"]+",'
                    r'librdkafka="[0-9][^"]*"\} 1$', text, re.M) is not None,
          "run: sentinel_ingest_build_info{version,commit,librdkafka} 1 missing")
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                 "process_max_fds", "process_start_time_seconds", "process_virtual_memory_bytes"):
        m = re.search(r"^" + name + r" (\S+)$", text, re.M)
        check(m is not None and float(m.group(1)) > 0, f"run: {name} missing or not positive")
    binary_names = {n for n in declared_names(text)
                    if n.startswith("sentinel_ingest_") or n.startswith("process_")}
finally:
    if run is not None:
        stop(run)
    stop(mock)
print(f"binary exports {len(binary_names)} names")

# --- the exporters' names ------------------------------------------------------------------------
listed = set()
for line in open(os.path.join(SRC, "tests", "docker", "exporter_metrics.txt")):
    line = line.strip()
    if line and not line.startswith("#"):
        listed.add(line)
queries_file = os.path.join(SRC, "docker", "postgres-exporter", "queries.yaml")
custom = set()
for prefix, q in yaml.safe_load(open(queries_file)).items():
    for column in q["metrics"]:
        (col, spec), = column.items()
        if spec["usage"] in ("GAUGE", "COUNTER"):
            custom.add(f"{prefix}_{col}")


def scrape_exporter(args, port, env=None):
    proc = subprocess.Popen(args + [f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        for _ in range(40):
            text = get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            if text:
                return text
            time.sleep(0.25)
        return ""
    finally:
        stop(proc)


exported = set()
if shutil.which("prometheus-postgres-exporter"):
    # libpq's key=value string as a URI for the exporter (Go's lib/pq reads both; keep it simple).
    kv = dict(re.findall(r"(\w+)=(\S+)", pg_url))
    dsn = (f"postgresql://{kv.get('user', 'postgres')}@{kv.get('host', '127.0.0.1')}:"
           f"{kv.get('port', '5432')}/{kv.get('dbname', 'postgres')}?sslmode=disable")
    text = scrape_exporter(["prometheus-postgres-exporter", "--extend.query-path=" + queries_file],
                           free_port(), env=dict(os.environ, DATA_SOURCE_NAME=dsn))
    check(re.search(r"^pg_up 1$", text, re.M) is not None,
          "prometheus-postgres-exporter could not reach the test PostgreSQL")
    check(re.search(r'^pg_exporter_user_queries_load_error\{[^}]*\} 0$', text, re.M) is not None,
          "prometheus-postgres-exporter refused docker/postgres-exporter/queries.yaml")
    check(re.search(r"^pg_wal_dir_bytes", text, re.M) is not None,
          "queries.yaml: pg_wal_dir_bytes not exported (query failed?)")
    exported |= declared_names(text)
else:
    print("note: prometheus-postgres-exporter not installed: its names are not verified")
if shutil.which("prometheus-node-exporter"):
    exported |= declared_names(scrape_exporter(["prometheus-node-exporter"], free_port()))
else:
    print("note: prometheus-node-exporter not installed: its names are not verified")
if exported:
    exported.add("up")
    for name in sorted(listed):
        prefix_exporter = ("prometheus-postgres-exporter" if name.startswith("pg_")
                           else "prometheus-node-exporter" if name.startswith("node_") else None)
        if prefix_exporter and shutil.which(prefix_exporter):
            check(name in exported, f"exporter_metrics.txt: {prefix_exporter} exports no {name}")
known = binary_names | listed | custom

# --- every expression: parses, and names known metrics -------------------------------------------
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "offset", "inf", "nan", "atan2"}


def metric_names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)                # string literals
    e = re.sub(r"\{[^}]*\}", "{}", e)                           # label matchers
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\[[^\]]*\]", "[]", e)                          # ranges, subqueries
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", e):
        if m.group(1).lower() not in KEYWORDS:
            names.add(m.group(1))
    return names


def grafana_to_promql(expr):
    e = re.sub(r"\$__(rate_interval|interval|range)\b", "5m", expr)
    return re.sub(r"\$\{?\w+\}?", ".*", e)


exprs = []  # (where, expr)
rule_files = sorted(glob.glob(os.path.join(SRC, "docker", "prometheus", "*alerts.yml")))
check(len(rule_files) >= 2, f"rule files: {rule_files}")
runbook = open(os.path.join(SRC, "docs", "runbook.md")).read()
anchors = set()
for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", runbook, re.M):
    anchors.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
for path in rule_files:
    for group in yaml.safe_load(open(path))["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            exprs.append((f"{os.path.basename(path)}: {name}", rule["expr"]))
            if "alert" in rule:
                url = rule.get("annotations", {}).get("runbook_url", "")
                m = re.fullmatch(r"docs/runbook\.md#([\w-]+)", url)
                check(m is not None, f"{name}: runbook_url {url!r} is not docs/runbook.md#anchor")
                if m:
                    check(m.group(1) in anchors, f"{name}: docs/runbook.md has no section #{m.group(1)}")
dashboards = sorted(glob.glob(os.path.join(SRC, "docker", "grafana", "dashboards", "*.json")))
check(dashboards != [], "no dashboard in docker/grafana/dashboards")


def panels_of(node):
    for p in node.get("panels", []):
        yield p
        yield from panels_of(p)


for path in dashboards:
    dash = json.load(open(path))
    for p in panels_of(dash):
        for t in p.get("targets", []):
            exprs.append((f"{os.path.basename(path)}: {p.get('title')} {t.get('refId')}",
                          grafana_to_promql(t["expr"])))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("definition", "")
        m = re.fullmatch(r"label_values\((.+),\s*\w+\)", q)
        if m:
            exprs.append((f"{os.path.basename(path)}: variable {v['name']}", m.group(1)))
check(len(exprs) > 30, f"only {len(exprs)} expressions found")

with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
    yaml.safe_dump({"groups": [{"name": "all-expressions", "rules": [
        {"record": f"check:expr_{i}", "expr": e} for i, (_, e) in enumerate(exprs)]}]}, f)
    generated = f.name
r = subprocess.run(["promtool", "check", "rules", generated], capture_output=True, text=True)
if not check(r.returncode == 0, "promtool check rules (every alert and dashboard expression): "
             + r.stdout + r.stderr):
    for i, (where, e) in enumerate(exprs):
        if f"\"check:expr_{i}\"" in r.stdout + r.stderr:
            print(f"  {where}: {e}")
os.unlink(generated)
for where, e in exprs:
    for name in sorted(metric_names(e) - known):
        check(False, f"{where}: metric {name} is exported by neither the binary nor the exporters")

finish(f"observability checks: all passed ({len(exprs)} expressions)")
