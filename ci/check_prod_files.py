#!/usr/bin/env python3
"""Structural checks of a generated project's container and deployment files.

Parses (never greps) compose.yaml, compose.override.yaml, compose.prod.yaml, the Dockerfile,
.dockerignore and, through `caddy adapt`, deploy/Caddyfile, and asserts the properties
issue 6 promises. Usage: check_prod_files.py PROJECT_DIR
"""
import json
import os
import re
import shlex
import subprocess
import sys

import yaml

DATASTORE_IMAGES = ("postgres", "redis", "valkey", "mysql", "mariadb", "mongo", "minio")
DATASTORE_PORTS = {5432, 6379, 3306, 27017, 9000, 9001}
HEADERS = (
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Content-Security-Policy",
)

problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def merge(base, overlay):
    """Compose's merge rules, as far as these checks need them: mappings merge key by key,
    sequences of ports / cap_* / security_opt / tmpfs / volumes are concatenated, scalars win."""
    merged = dict(base)
    for key, value in overlay.items():
        if key in merged and isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = merge(merged[key], value)
        elif key in merged and isinstance(merged[key], list) and isinstance(value, list):
            merged[key] = merged[key] + value
        else:
            merged[key] = value
    return merged


def host_ip(port):
    """Host address of a compose port mapping, short or long syntax ('' means all interfaces)."""
    if isinstance(port, dict):
        return str(port.get("host_ip", ""))
    # ${VAR:-default} holds colons of its own; it stands for one port number here.
    text = re.sub(r"\$\{[^}]*\}", "0", str(port))
    parts = text.split(":")
    if len(parts) >= 3:
        return ":".join(parts[:-2]).strip("[]")
    return ""


def is_datastore(name, service):
    image = str(service.get("image", ""))
    return any(marker in image for marker in DATASTORE_IMAGES) or name in ("postgres", "redis")


def check_base(base):
    services = base.get("services", {})
    for required in ("api", "postgres", "redis"):
        if required not in services:
            problem("compose.yaml", f"service {required} is missing")
    for name, service in services.items():
        if "healthcheck" not in service:
            problem("compose.yaml", f"service {name} has no healthcheck")
        if service.get("ports"):
            problem("compose.yaml", f"service {name} publishes ports in the base file ({service['ports']})")
        if "ALL" not in (service.get("cap_drop") or []):
            problem("compose.yaml", f"service {name} does not drop all capabilities")
        if "no-new-privileges:true" not in (service.get("security_opt") or []):
            problem("compose.yaml", f"service {name} lacks no-new-privileges")
        environment = service.get("environment") or {}
        for key, value in environment.items():
            if re.search(r"PASSWORD|SECRET", key) and not re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)):
                problem("compose.yaml", f"{name}.{key} is not a required ${{VAR:?…}} reference: {value!r}")
    api = services.get("api", {})
    depends = api.get("depends_on") or {}
    for store in ("postgres", "redis"):
        if (depends.get(store) or {}).get("condition") != "service_healthy":
            problem("compose.yaml", f"api does not wait for {store} to be healthy")


def check_override(override):
    for name, service in (override.get("services") or {}).items():
        for port in service.get("ports") or []:
            if host_ip(port) != "127.0.0.1":
                problem("compose.override.yaml", f"{name} publishes {port} beyond 127.0.0.1")


def check_prod(base, prod):
    services = base.get("services", {})
    overlay = prod.get("services", {})
    if "backup" not in overlay:
        problem("compose.prod.yaml", "no backup service")
    for name in sorted(set(services) | set(overlay)):
        service = merge(services.get(name, {}), overlay.get(name, {}))
        where = f"compose.prod.yaml ({name})"
        # A one-shot task the api waits for (migrate) must not be restarted after it succeeded.
        one_shot = (services.get("api", {}).get("depends_on") or {}).get(name, {}).get(
            "condition") == "service_completed_successfully"
        if one_shot:
            if service.get("restart") not in ("no", "on-failure"):
                problem(where, "a one-shot service must not restart after success (restart: \"no\")")
        elif service.get("restart") not in ("unless-stopped", "always", "on-failure"):
            problem(where, "no restart policy")
        if service.get("read_only") is not True:
            problem(where, "root filesystem is not read_only")
        if "ALL" not in (service.get("cap_drop") or []):
            problem(where, "cap_drop does not include ALL")
        if "no-new-privileges:true" not in (service.get("security_opt") or []):
            problem(where, "no-new-privileges is not set")
        limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        if not limits.get("memory") or not limits.get("cpus"):
            problem(where, "no memory and CPU limits")
        options = (service.get("logging") or {}).get("options") or {}
        if not options.get("max-size") or not options.get("max-file"):
            problem(where, "logs are not rotated (max-size, max-file)")
        if "healthcheck" not in service:
            problem(where, "no healthcheck")
        ports = service.get("ports") or []
        if name == "api":
            if (service.get("environment") or {}).get("ENVIRONMENT") != "prod":
                problem(where, "ENVIRONMENT is not prod")
            for port in ports:
                if host_ip(port) != "127.0.0.1":
                    problem(where, f"API published beyond 127.0.0.1: {port}")
        elif ports:
            problem(where, f"publishes {ports}")
    backup = overlay.get("backup", {})
    entrypoint = " ".join(backup.get("entrypoint") or [])
    if "backup.sh daemon" not in entrypoint:
        problem("compose.prod.yaml (backup)", f"does not run deploy/backup.sh daemon: {entrypoint!r}")


def check_monitoring(project, monitoring):
    """compose.monitoring.yaml (monitoring toggle): the same hardening as production, UIs on
    loopback only, Grafana without anonymous access and with file secrets, and Prometheus
    scraping the port the overlay gives the api's metrics listener."""
    where = "compose.monitoring.yaml"
    services = monitoring.get("services") or {}
    for required in ("api", "prometheus", "grafana"):
        if required not in services:
            problem(where, f"service {required} is missing")
    for name, service in services.items():
        if name == "api":
            continue
        for key, wanted in (("read_only", True), ("restart", "unless-stopped")):
            if service.get(key) != wanted:
                problem(f"{where} ({name})", f"{key} is not {wanted!r}")
        if "ALL" not in (service.get("cap_drop") or []):
            problem(f"{where} ({name})", "cap_drop does not include ALL")
        if "no-new-privileges:true" not in (service.get("security_opt") or []):
            problem(f"{where} ({name})", "no-new-privileges is not set")
        if "healthcheck" not in service:
            problem(f"{where} ({name})", "no healthcheck")
        user = str(service.get("user", "")).split(":")[0]
        if not user.isdigit() or user == "0":
            problem(f"{where} ({name})", f"must run as a numeric non-root user, got {service.get('user')!r}")
        limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        if not limits.get("memory") or not limits.get("cpus"):
            problem(f"{where} ({name})", "no memory and CPU limits")
        for port in service.get("ports") or []:
            if host_ip(port) != "127.0.0.1":
                problem(f"{where} ({name})", f"published beyond 127.0.0.1: {port}")
        if ":" not in str(service.get("image", "")) or str(service.get("image")).endswith(":latest"):
            problem(f"{where} ({name})", f"image not pinned to a tag: {service.get('image')}")
    api_environment = (services.get("api") or {}).get("environment") or {}
    if services.get("api", {}).get("ports"):
        problem(f"{where} (api)", "publishes a port: the metrics listener stays on the compose network")
    metrics_address = str(api_environment.get("METRICS_ADDRESS", ""))
    if not re.fullmatch(r"\$\{METRICS_TOKEN:\?[^}]+\}", str(api_environment.get("METRICS_TOKEN", ""))):
        problem(f"{where} (api)", "METRICS_TOKEN is not a required ${METRICS_TOKEN:?…} reference")
    grafana = services.get("grafana") or {}
    environment = grafana.get("environment") or {}
    if str(environment.get("GF_AUTH_ANONYMOUS_ENABLED", "")).lower() != "false":
        problem(f"{where} (grafana)", "anonymous access is not explicitly off")
    if str(environment.get("GF_USERS_ALLOW_SIGN_UP", "")).lower() != "false":
        problem(f"{where} (grafana)", "sign-up is not off")
    for key in ("GF_SECURITY_ADMIN_PASSWORD", "GF_SECURITY_SECRET_KEY"):
        if key in environment or not str(environment.get(f"{key}__FILE", "")).startswith("/run/secrets/"):
            problem(f"{where} (grafana)", f"{key} must come from a secret file ({key}__FILE=/run/secrets/…)")
    declared = monitoring.get("secrets") or {}
    for secret, variable in (("metrics_token", "METRICS_TOKEN"), ("grafana_admin_password", "GRAFANA_ADMIN_PASSWORD"),
                             ("grafana_secret_key", "GRAFANA_SECRET_KEY")):
        if (declared.get(secret) or {}).get("environment") != variable:
            problem(where, f"secret {secret} is not taken from {variable}")
    # Prometheus must scrape the port the overlay gives the metrics listener, with the token file.
    scrape = load(os.path.join(project, "monitoring", "prometheus", "prometheus.yml"))
    jobs = {job.get("job_name"): job for job in scrape.get("scrape_configs") or []}
    api_job = jobs.get("api") or {}
    targets = [t for config in api_job.get("static_configs") or [] for t in config.get("targets") or []]
    port = metrics_address.rsplit(":", 1)[-1]
    if targets != [f"api:{port}"]:
        problem("monitoring/prometheus/prometheus.yml", f"scrapes {targets}, the api's metrics listener is {metrics_address!r}")
    credentials = ((api_job.get("authorization") or {}).get("credentials_file")) or ""
    mounted = [s if isinstance(s, str) else s.get("target") or s.get("source") for s in services.get("prometheus", {}).get("secrets") or []]
    if credentials != "/run/secrets/metrics_token" or "metrics_token" not in mounted:
        problem("monitoring/prometheus/prometheus.yml", "the api job does not use the metrics_token secret file")
    # The provisioned datasource is the one the dashboard names.
    datasources = load(os.path.join(project, "monitoring", "grafana", "provisioning", "datasources", "prometheus.yaml"))
    uids = {d.get("uid") for d in datasources.get("datasources") or []}
    dashboards_dir = os.path.join(project, "monitoring", "grafana", "dashboards")
    for file_name in sorted(os.listdir(dashboards_dir)):
        with open(os.path.join(dashboards_dir, file_name), encoding="utf-8") as handle:
            dashboard = json.load(handle)
        for panel in dashboard.get("panels") or []:
            uid = (panel.get("datasource") or {}).get("uid")
            if uid not in uids:
                problem(f"monitoring/grafana/dashboards/{file_name}", f"panel {panel.get('title')!r} uses datasource {uid!r}, provisioned: {sorted(uids)}")


def dockerfile_instructions(path):
    """(instruction, arguments) pairs with line continuations joined and comments dropped."""
    logical, current = [], ""
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            line = raw.rstrip("\n")
            if not current and line.lstrip().startswith("#"):
                continue
            if line.endswith("\\"):
                current += line[:-1] + " "
                continue
            current += line
            if current.strip():
                instruction, _, arguments = current.strip().partition(" ")
                logical.append((instruction.upper(), arguments.strip()))
            current = ""
    return logical


def check_dockerfile(project):
    instructions = dockerfile_instructions(os.path.join(project, "Dockerfile"))
    stages = [i for i, (name, _) in enumerate(instructions) if name == "FROM"]
    if len(stages) < 3:
        problem("Dockerfile", "not a multi-stage build with a dependency-caching stage")
    if not any(name == "RUN" and "cargo chef cook" in args for name, args in instructions):
        problem("Dockerfile", "dependencies are not cached with cargo-chef")
    final = instructions[stages[-1]:] if stages else []
    users = [args for name, args in final if name == "USER"]
    if not users:
        problem("Dockerfile", "final stage has no USER")
    else:
        user = users[-1].split(":")[0]
        if not user.isdigit() or user == "0":
            problem("Dockerfile", f"final USER must be a numeric non-root id, got {users[-1]!r}")
    healthchecks = [args for name, args in final if name == "HEALTHCHECK"]
    if not healthchecks or not re.search(r'"health"\s*\]', healthchecks[-1]):
        problem("Dockerfile", "no HEALTHCHECK running the app's own health subcommand")
    labels = " ".join(args for name, args in final if name == "LABEL")
    arg_names = {args.split("=")[0] for name, args in final if name == "ARG"}
    for label, arg in (("source", "SOURCE_URL"), ("revision", "REVISION"), ("created", "CREATED")):
        if f"org.opencontainers.image.{label}=\"${{{arg}}}\"" not in labels or arg not in arg_names:
            problem("Dockerfile", f"OCI label {label} is not taken from build arg {arg}")
    base = final[0][1].split()[0] if final else ""
    if ":" not in base or base.endswith(":latest"):
        problem("Dockerfile", f"final base image is not pinned to a tag: {base}")


def check_dockerignore(project):
    with open(os.path.join(project, ".dockerignore"), encoding="utf-8") as handle:
        patterns = {line.strip() for line in handle if line.strip() and not line.startswith("#")}
    for required in (".env", ".env.*", "target", ".git"):
        if required not in patterns:
            problem(".dockerignore", f"does not exclude {required}")


def check_caddyfile(project):
    path = os.path.join(project, "deploy", "Caddyfile")
    environment = dict(os.environ, DOMAIN="api.example.org", ACME_EMAIL="ops@example.org")
    result = subprocess.run(
        ["caddy", "adapt", "--adapter", "caddyfile", "--config", path],
        capture_output=True, text=True, env=environment, check=False,
    )
    if result.returncode != 0:
        problem("deploy/Caddyfile", f"caddy adapt failed: {result.stderr.strip()}")
        return
    config = json.loads(result.stdout)
    found, upstreams = set(), set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("handler") == "headers":
                found.update(((node.get("response") or {}).get("set") or {}).keys())
            if node.get("handler") == "reverse_proxy":
                upstreams.update(u.get("dial", "") for u in node.get("upstreams") or [])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    for header in HEADERS:
        if header not in found:
            problem("deploy/Caddyfile", f"does not set {header}")
    if not upstreams or any(not u.startswith("127.0.0.1:") for u in upstreams):
        problem("deploy/Caddyfile", f"must proxy to the loopback-only API, proxies to {sorted(upstreams)}")


def main():
    project = sys.argv[1]
    base = load(os.path.join(project, "compose.yaml"))
    check_base(base)
    check_override(load(os.path.join(project, "compose.override.yaml")))
    if os.path.exists(os.path.join(project, "compose.prod.yaml")):
        check_prod(base, load(os.path.join(project, "compose.prod.yaml")))
        check_caddyfile(project)
    if os.path.exists(os.path.join(project, "compose.monitoring.yaml")):
        check_monitoring(project, load(os.path.join(project, "compose.monitoring.yaml")))
    check_dockerfile(project)
    check_dockerignore(project)
    for line in problems:
        print(f"check_prod_files: {line}", file=sys.stderr)
    if not problems:
        print(f"check_prod_files: {project}: compose, Dockerfile, .dockerignore and proxy config hold")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
