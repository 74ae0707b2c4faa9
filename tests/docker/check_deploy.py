#!/usr/bin/env python3
"""Static checks of the container deployment (there is no Docker engine in CI).

  check_deploy.py SOURCE_DIR SENTINEL_BINARY

- docker-compose.yml is valid (`docker-compose config`);
- every sentinel-ingest command, flag and SENTINEL_* variable that docker-compose.yml and
  docker/Dockerfile use exists in the binary (its --help lists each flag with its Env: name);
  the metrics port a service publishes is the one it listens on; non-`run` services switch off
  the image's HEALTHCHECK;
- the Dockerfile: two stages (bookworm build, bookworm-slim runtime), non-root, a HEALTHCHECK
  through a sub-command that exists, and a runtime package for every shared library the binary
  needs (readelf + dpkg -S on this Debian machine);
- Kafka topics = the binary's default topics; PgBouncer in transaction mode on 6432 with
  max_client_conn 1000 and default_pool_size 20; the PostgreSQL settings, with shared_buffers and
  effective_cache_size computed by docker/postgres/start.sh as 25% and 75% of memory;
- docker/prometheus/*alerts.yml: `promtool check rules` and `promtool test rules` (*alerts_test.yml)
  when promtool is installed (Debian package prometheus), else a YAML structure check; each alert
  has a runbook_url; the monitoring profile (Prometheus loading every rule file, Grafana with its
  provisioning, postgres-exporter with its queries, node-exporter) is wired together.
  (check_observability.py checks the names inside the expressions against the binary.)
Prints one line per failed check and exits 1 if any failed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from checklist import check, finish  # noqa: E402 (after the line above)

SRC, BINARY = sys.argv[1], sys.argv[2]


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


_help_cache = {}


def help_of(command):
    """--help of a sub-command ("" for the top level)."""
    if command not in _help_cache:
        args = [BINARY] + ([command] if command else []) + ["--help"]
        r = run(args)
        _help_cache[command] = r.stdout if r.returncode == 0 else ""
    return _help_cache[command]


def subcommands():
    text = help_of("")
    part = text.split("Subcommands:", 1)[1] if "Subcommands:" in text else ""
    return {m.group(1) for m in re.finditer(r"^\s{2}([a-z][a-z-]*)\s", part, re.M)}


def flag_exists(command, flag):
    return re.search(r"(^|[\s,])" + re.escape(flag) + r"[\s=,]", help_of(command), re.M) is not None


def env_exists(command, name):
    return ("Env:" + name + ")") in help_of(command) or ("Env:" + name + ")") in help_of("")


def port_of(listen):
    return int(listen.rsplit(":", 1)[1])


# --- docker-compose.yml -------------------------------------------------------------------------
compose_file = os.path.join(SRC, "docker-compose.yml")
if shutil.which("docker-compose") is None:
    check(False, "docker-compose is not installed (scripts/setup.sh installs it)")
    sys.exit(1)
r = run(["docker-compose", "-f", compose_file, "config"], cwd=SRC)
if not check(r.returncode == 0, "docker-compose config: " + r.stderr.strip()):
    sys.exit(1)
compose = yaml.safe_load(r.stdout)
services = compose["services"]
known = subcommands()
check({"run", "migrate", "publish", "healthcheck", "partitions", "costs"} <= known,
      "binary sub-commands: " + ", ".join(sorted(known)))

# The image's defaults (ENV) count for every service built from it.
dockerfile = open(os.path.join(SRC, "docker", "Dockerfile")).read()
logical = re.sub(r"\\\n", " ", dockerfile)
image_env = {}
for m in re.finditer(r"^ENV\s+(.*)$", logical, re.M):
    for k, v in re.findall(r"(\w+)=(\S+)", m.group(1)):
        image_env[k] = v

sentinel_services = {}
for name, svc in services.items():
    build = svc.get("build") or {}
    if str(build.get("dockerfile", "")).endswith("docker/Dockerfile") or str(
            svc.get("image", "")).startswith("sentinel-ingest"):
        sentinel_services[name] = svc
check({"migrate", "ingest-1", "ingest-2", "publish"} <= set(sentinel_services),
      "sentinel services in compose: " + ", ".join(sorted(sentinel_services)))

for name, svc in sentinel_services.items():
    command = svc.get("command") or ["run"]
    if isinstance(command, str):
        command = command.split()
    sub = command[0]
    if not check(sub in known, f"{name}: sub-command '{sub}' does not exist"):
        continue
    for arg in command[1:]:
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            check(flag_exists(sub, flag), f"{name}: `{sub}` has no flag {flag}")
    env = dict(image_env)
    env.update({k: str(v) for k, v in (svc.get("environment") or {}).items()})
    for key in (svc.get("environment") or {}):
        if key.startswith("SENTINEL_"):
            check(env_exists(sub, key), f"{name}: `{sub}` reads no variable {key}")
        else:
            check(key.startswith("PG"), f"{name}: {key} is neither SENTINEL_* nor a libpq PG* variable")
    if sub == "run":
        listen = env.get("SENTINEL_METRICS_LISTEN", "")
        check(listen != "", f"{name}: run without SENTINEL_METRICS_LISTEN")
        if listen:
            targets = {int(p["target"]) for p in svc.get("ports", [])}
            check(port_of(listen) in targets,
                  f"{name}: publishes {sorted(targets)} but metrics listen on {listen}")
        check("pgbouncer:6432" in env.get("SENTINEL_PG_URL", ""),
              f"{name}: ingestors must go through PgBouncer (pgbouncer:6432)")
        check(env.get("SENTINEL_GROUP", "sentinel-ingest") == "sentinel-ingest",
              f"{name}: all ingestors share the consumer group sentinel-ingest")
        check("password" not in env.get("SENTINEL_PG_URL", "").split("@")[0].split("//")[-1]
              and ":" not in env.get("SENTINEL_PG_URL", "").split("@")[0].split("//")[-1],
              f"{name}: the password belongs in PGPASSWORD, not in the URL")
    else:
        hc_conf = svc.get("healthcheck") or {}
        check(hc_conf.get("disable") is True or hc_conf.get("test") == ["NONE"],
              f"{name}: `{sub}` serves no /healthz; disable the image's HEALTHCHECK")

check(len([n for n, s in sentinel_services.items() if (s.get("command") or ["run"])[0] == "run"]) >= 2,
      "two ingestor replicas")
check("load" in (services.get("publish", {}).get("profiles") or []), "publish under profile load")
migrate_deps = services["ingest-1"].get("depends_on", {})
check(migrate_deps.get("migrate", {}).get("condition") == "service_completed_successfully",
      "ingestors wait for migrate to complete")

# Kafka: KRaft, the binary's default topics.
kafka_env = services["kafka"]["environment"]
check("controller" in str(kafka_env.get("KAFKA_PROCESS_ROLES", "")), "Kafka in KRaft mode")
topics_cmd = " ".join(services["kafka-topics"]["command"])
# The built-in event types' topics, as `catalog list` prints them (name, topic, table, ...).
listed = run([BINARY, "catalog", "list"])
builtin_topics = [line.split()[1] for line in listed.stdout.splitlines()[2:] if line.strip()]
check(listed.returncode == 0 and len(builtin_topics) >= 2,
      f"catalog list shows the built-in types' topics: {listed.stdout!r}")
for topic in builtin_topics:
    check(topic in topics_cmd, f"kafka-topics does not create {topic}")
# The catalog folder: one setting for migrate and the ingestors (a type migrate did not apply is
# one `run` refuses), mounted read-only.
for name in ("migrate", "ingest-1"):
    svc = services[name]
    env = svc.get("environment", {})
    check(env.get("SENTINEL_CATALOG") == "/etc/sentinel-ingest/catalog",
          f"{name}: SENTINEL_CATALOG is {env.get('SENTINEL_CATALOG')!r}")
    check(any(str(v).endswith(":/etc/sentinel-ingest/catalog:ro") for v in svc.get("volumes", [])),
          f"{name}: the catalog folder is not mounted read-only")
check(env_exists("run", "SENTINEL_CATALOG") and env_exists("migrate", "SENTINEL_CATALOG"),
      "run and migrate read SENTINEL_CATALOG")

# PgBouncer.
ini = open(os.path.join(SRC, "docker", "pgbouncer", "pgbouncer.ini")).read()
settings = dict(re.findall(r"^\s*(\w+)\s*=\s*(.*?)\s*$", ini, re.M))
for key, want in (("pool_mode", "transaction"), ("listen_port", "6432"), ("max_client_conn", "1000"),
                  ("default_pool_size", "20")):
    check(settings.get(key) == want, f"pgbouncer.ini: {key} = {settings.get(key)}, want {want}")
check(any(int(p["published"]) == 6432 for p in services["pgbouncer"].get("ports", [])),
      "PgBouncer published on 6432")

# PostgreSQL: fixed settings on the command line, memory settings from start.sh.
pg = services["postgres"]
check(str(pg["image"]).startswith("postgres:15"), "PostgreSQL 15")
args = " ".join(pg["command"])
for setting in ("work_mem=256MB", "maintenance_work_mem=1GB", "max_connections=500",
                "log_min_duration_statement=1000"):
    check(setting in args, f"postgres: missing -c {setting}")
with tempfile.TemporaryDirectory() as tmp:
    fake = os.path.join(tmp, "docker-entrypoint.sh")
    with open(fake, "w") as f:
        f.write('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    os.chmod(fake, 0o755)
    r = run(["sh", os.path.join(SRC, "docker", "postgres", "start.sh"), "-c", "work_mem=256MB"],
            env={"PATH": tmp + ":/usr/bin:/bin"})
    check(r.returncode == 0, "postgres/start.sh failed: " + r.stderr)
    out = r.stdout.split("\n")
    total_kb = int(re.search(r"(\d+) kB of memory", r.stdout).group(1)) if "kB of memory" in r.stdout else 0
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1))
    check(0 < total_kb <= mem_kb, f"start.sh: memory {total_kb} kB")
    check(f"shared_buffers={total_kb // 4}kB" in out, "start.sh: shared_buffers is not 25%")
    check(f"effective_cache_size={total_kb * 3 // 4}kB" in out,
          "start.sh: effective_cache_size is not 75%")
    check("work_mem=256MB" in out, "start.sh: does not pass the compose settings on")

# --- docker/Dockerfile ----------------------------------------------------------------------------
stages = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
check(len(stages) == 2 and stages[0].startswith("debian:bookworm")
      and stages[1] == "debian:bookworm-slim", f"Dockerfile stages: {stages}")
user = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
check(user and user[-1].split(":")[0] not in ("0", "root"), "runtime runs as non-root")
for key in image_env:
    if key.startswith("SENTINEL_"):
        check(env_exists("run", key), f"Dockerfile: `run` reads no variable {key}")
expose = re.findall(r"^EXPOSE\s+(\d+)", dockerfile, re.M)
if "SENTINEL_METRICS_LISTEN" in image_env:
    check(expose == [str(port_of(image_env["SENTINEL_METRICS_LISTEN"]))],
          f"EXPOSE {expose} vs SENTINEL_METRICS_LISTEN {image_env['SENTINEL_METRICS_LISTEN']}")
hc = re.search(r"^HEALTHCHECK\b.*?CMD\s+(\[.*?\])", logical, re.M)
if check(hc is not None, "Dockerfile has no HEALTHCHECK CMD [...]"):
    probe = json.loads(hc.group(1))
    check(probe[0] == "sentinel-ingest" and probe[1] in known,
          f"HEALTHCHECK runs {probe}: not a sentinel-ingest sub-command")
    for arg in probe[2:]:
        if arg.startswith("--"):
            check(flag_exists(probe[1], arg.split("=")[0]), f"HEALTHCHECK: {probe[1]} has no {arg}")
    check(flag_exists("healthcheck", "--metrics-listen")
          and env_exists("healthcheck", "SENTINEL_METRICS_LISTEN"),
          "healthcheck reads SENTINEL_METRICS_LISTEN like run")
cmd = re.search(r"^CMD\s+(\[.*\])", logical, re.M)
check(cmd is not None and json.loads(cmd.group(1))[0] in known, "Dockerfile CMD is a sub-command")
runtime = logical.split(stages[-1], 1)[1] if stages else ""
install = re.search(r"apt-get install[^&]*", runtime)
runtime_packages = set(install.group(0).split()) if install else set()
needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", run(["readelf", "-d", BINARY]).stdout)
base = ("libc.so", "libm.so", "libstdc++.so", "libgcc_s.so")
for lib in needed:
    if lib.startswith(base):
        continue
    owner = run(["dpkg", "-S", lib]).stdout.split(":", 1)[0].split(",")[0].strip()
    check(owner in runtime_packages,
          f"Dockerfile runtime stage lacks {owner or '?'} (for {lib}) in its apt-get install")

# --- docker/prometheus, docker/grafana, docker/postgres-exporter (profile monitoring) ---------------
prom_dir = os.path.join(SRC, "docker", "prometheus")
rule_files = sorted(f for f in os.listdir(prom_dir) if f.endswith("alerts.yml"))
check({"alerts.yml", "database_alerts.yml"} <= set(rule_files), f"rule files: {rule_files}")
if shutil.which("promtool"):
    for f in rule_files:
        r = run(["promtool", "check", "rules", f], cwd=prom_dir)
        check(r.returncode == 0, f"promtool check rules {f}: " + r.stdout + r.stderr)
        test = f.replace(".yml", "_test.yml")
        if check(os.path.exists(os.path.join(prom_dir, test)), f"no unit tests {test} for {f}"):
            r = run(["promtool", "test", "rules", test], cwd=prom_dir)
            check(r.returncode == 0, f"promtool test rules {test}: " + r.stdout + r.stderr)
else:
    print("note: promtool not installed (Debian package prometheus); YAML structure check only")
names = set()
for f in rule_files:
    for rule in (rule for g in yaml.safe_load(open(os.path.join(prom_dir, f)))["groups"]
                 for rule in g["rules"]):
        names.add(rule.get("alert"))
        check(isinstance(rule.get("expr"), str) and rule["expr"].strip(), f"{rule.get('alert')}: no expr")
        check(str(rule.get("annotations", {}).get("runbook_url", "")).startswith("docs/runbook.md#"),
              f"{rule.get('alert')}: no runbook_url into docs/runbook.md")
for want in ("SentinelIngestConsumerLagGrowing", "SentinelIngestNotReady", "SentinelIngestRejectRateHigh",
             "SentinelIngestEndToEndLatencyHigh", "SentinelIngestPostgresUnreachable",
             "SentinelIngestStalled", "SentinelIngestKafkaBrokersDown", "PostgresHostCpuHigh",
             "PostgresHostCpuCritical", "PostgresFreeableMemoryLow", "PostgresConnectionsHigh",
             "PostgresDiskReadLatencyHigh", "PostgresDiskWriteLatencyHigh", "PostgresReplicaLagHigh",
             "PostgresWalDiskHigh"):
    check(want in names, f"no alert {want}")

prom = yaml.safe_load(open(os.path.join(prom_dir, "prometheus.yml")))
jobs = {sc["job_name"]: [t for c in sc["static_configs"] for t in c["targets"]]
        for sc in prom["scrape_configs"]}
check({"sentinel-ingest", "postgres", "postgres-node"} <= set(jobs),
      f"prometheus.yml jobs {sorted(jobs)}: the rules select sentinel-ingest, postgres, postgres-node")
for job, targets in jobs.items():
    for t in targets:
        host, port = t.rsplit(":", 1)
        check(host in services, f"prometheus.yml target {t} is not a compose service")
        if job == "sentinel-ingest":
            check(int(port) == port_of(image_env.get("SENTINEL_METRICS_LISTEN", ":9464")),
                  f"prometheus.yml target {t} is not the ingestors' metrics port")
exporter_ports = {"postgres": 9187, "postgres-node": 9100}
for job, port in exporter_ports.items():
    check(all(t.endswith(f":{port}") for t in jobs.get(job, [])), f"{job} targets: {jobs.get(job)}")

monitoring = {n for n, svc in services.items() if "monitoring" in (svc.get("profiles") or [])}
check({"prometheus", "grafana", "postgres-exporter", "node-exporter"} <= monitoring,
      f"profile monitoring: {sorted(monitoring)}")
mounted = {str(v).split(":")[1] for v in services["prometheus"].get("volumes", [])}
for f in prom.get("rule_files", []):
    check(f in mounted, f"prometheus.yml loads {f}, which compose does not mount")
    check(os.path.basename(f) in rule_files, f"prometheus.yml loads {f}, no such docker/prometheus file")
for f in rule_files:
    check("/etc/prometheus/" + f in prom.get("rule_files", []), f"prometheus.yml does not load {f}")
# postgres-exporter: the version whose names tests/docker checks, the custom queries mounted.
pgx = services.get("postgres-exporter", {})
check(str(pgx.get("image", "")).endswith(":v0.11.1"), "postgres-exporter: image v0.11.1 (Debian 12's)")
check(any(str(v).startswith(os.path.join(SRC, "docker", "postgres-exporter", "queries.yaml") + ":")
          or "docker/postgres-exporter/queries.yaml:" in str(v) for v in pgx.get("volumes", [])),
      "postgres-exporter: queries.yaml not mounted")
check(any("--extend.query-path=" in str(a) for a in pgx.get("command") or []),
      "postgres-exporter: no --extend.query-path")
check(str(services.get("node-exporter", {}).get("image", "")).endswith(":v1.5.0"),
      "node-exporter: image v1.5.0 (Debian 12's)")
# Grafana: provisioning (datasource uid = the dashboards'), dashboards at the provider's path.
graf_dir = os.path.join(SRC, "docker", "grafana")
graf_mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in services["grafana"].get("volumes", [])}
check(graf_mounts.get("/etc/grafana/provisioning", "").endswith("docker/grafana/provisioning"),
      "grafana: docker/grafana/provisioning not mounted at /etc/grafana/provisioning")
ds = yaml.safe_load(open(os.path.join(graf_dir, "provisioning", "datasources", "prometheus.yml")))
uids = {d["uid"] for d in ds["datasources"]}
check(any(d["url"] == "http://prometheus:9090" for d in ds["datasources"]),
      "grafana datasource does not point at the compose prometheus")
prov = yaml.safe_load(open(os.path.join(graf_dir, "provisioning", "dashboards", "sentinel-ingest.yml")))
for provider in prov["providers"]:
    path = provider["options"]["path"]
    check(graf_mounts.get(path, "").endswith("docker/grafana/dashboards"),
          f"grafana: dashboards path {path} is not docker/grafana/dashboards")
for f in os.listdir(os.path.join(graf_dir, "dashboards")):
    dash = json.load(open(os.path.join(graf_dir, "dashboards", f)))
    stack = list(dash.get("panels", []))
    while stack:
        p = stack.pop()
        stack += p.get("panels", [])
        for t in [p] + p.get("targets", []):
            if "datasource" in t:
                check(t["datasource"].get("uid") in uids,
                      f"{f}: panel {p.get('title')!r} uses datasource {t['datasource']}")

finish("deploy checks: all passed")
