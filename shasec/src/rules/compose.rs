//! Docker Compose: published datastores, exposed APIs, privileges and hardening.

use crate::finding::Severity;
use crate::rules::Rule;

pub static DATASTORE_PUBLISHED: Rule = Rule {
    id: "SHA010",
    name: "compose-datastore-published",
    severity: Severity::High,
    title: "Datastore port published on all interfaces",
    summary: "A service that is a datastore — recognised by its image (postgres, redis, valkey, \
              mysql, mariadb, mongo, minio, rabbitmq, memcached, elasticsearch, opensearch, \
              cassandra, couchdb, neo4j, clickhouse, influxdb, etcd, nats, kafka, zookeeper) or by \
              the container port it publishes (5432, 6379, 3306, 27017, 9000, 5672, 11211, 9200 …) — \
              is published on the host by a compose file a deployment reads (the base file or a \
              production overlay; development files such as `compose.override.yaml` or \
              `compose.dev.yaml` are exempt), in any `ports` syntax (short, long, ranges, host IP, \
              `${VAR:-default}`, a container port alone, which Docker publishes on a random port). Docker writes its own iptables rules, so a \
              published port is reachable from the network even behind ufw. A mapping bound to a \
              loopback address (127.0.0.1, ::1) is not reported.",
    remediation: "Do not publish datastore ports: services reach each other on the compose network. \
                  If the host needs access in development, bind to loopback \
                  (`127.0.0.1:5432:5432`) or move the mapping to a dev-only override file.",
    references: &["CWE-668", "OWASP A05:2021"],
};

pub static API_PUBLIC_IN_PROD: Rule = Rule {
    id: "SHA011",
    name: "compose-api-public-in-prod",
    severity: Severity::Medium,
    title: "Service published on all interfaces in a production overlay",
    summary: "A production compose file (`compose.prod.yaml`, `docker-compose.prod.yml`, \
              `docker-compose.production.yml` …) publishes a non-datastore service without a host IP \
              or on 0.0.0.0 / ::, so the application is reachable directly, around the reverse proxy \
              and its TLS, and around the host firewall. Datastores published there are reported by \
              SHA010 with high severity.",
    remediation: "Bind the port to loopback (`127.0.0.1:8080:8080`) and put a reverse proxy (Caddy, \
                  nginx, Traefik) in front, or publish only the proxy's 80/443.",
    references: &["CWE-668", "OWASP A05:2021"],
};

pub static PRIVILEGED: Rule = Rule {
    id: "SHA012",
    name: "compose-privileged",
    severity: Severity::High,
    title: "Container runs privileged",
    summary: "`privileged: true` gives the container every capability and access to host devices: a \
              compromise of the service is a compromise of the host.",
    remediation: "Remove `privileged: true`; grant only the capabilities the service needs with \
                  `cap_add`, after `cap_drop: [ALL]`.",
    references: &["CWE-250", "KICS: Privileged Containers Enabled"],
};

pub static DOCKER_SOCKET: Rule = Rule {
    id: "SHA013",
    name: "compose-docker-socket",
    severity: Severity::High,
    title: "Docker socket mounted into a container",
    summary: "A volume mounts the Docker daemon socket (`/var/run/docker.sock`, `/run/docker.sock`, \
              podman or containerd sockets) into a container, in short or long volume syntax. \
              Whoever controls that container controls the Docker daemon, and so the host.",
    remediation: "Remove the mount. Tools that need the Docker API should go through a filtering proxy \
                  (e.g. a docker-socket-proxy limited to read-only endpoints) or run on the host.",
    references: &["CWE-250", "KICS: Docker Socket Mounted In Container"],
};

pub static PROD_HARDENING_MISSING: Rule = Rule {
    id: "SHA014",
    name: "compose-prod-hardening-missing",
    severity: Severity::Low,
    title: "Production service without read_only, cap_drop or no-new-privileges",
    summary: "A service in a production compose file (an overlay such as `compose.prod.yaml`, together \
              with the base file it extends) does not set `read_only: true`, `cap_drop: [ALL]` or \
              `security_opt: [no-new-privileges:true]`. Each one limits what an attacker can do after \
              exploiting the service. One finding per service, naming what is missing.",
    remediation: "In the production overlay, set `read_only: true` (with `tmpfs` for scratch paths), \
                  `cap_drop: [ALL]` (adding back only what is needed) and \
                  `security_opt: [\"no-new-privileges:true\"]`.",
    references: &["CWE-250", "OWASP A05:2021"],
};

pub static ADMIN_UI_PUBLISHED: Rule = Rule {
    id: "SHA015",
    name: "compose-admin-ui-published",
    severity: Severity::High,
    title: "Monitoring or admin UI published on all interfaces",
    summary: "A service running a monitoring or administration UI that has no login of its own or \
              hands out database access (Prometheus, Alertmanager, Loki, Pushgateway, cAdvisor, Jaeger, \
              Flower, Adminer, pgAdmin, phpMyAdmin, mongo-express, Redis Commander, Kibana, Portainer, \
              Traefik's API with `--api.insecure`) publishes its port on every interface. Docker-published ports \
              bypass host firewalls such as ufw, so the UI is reachable from the network. Medium in \
              development files (`compose.override.yaml`, which plain `docker compose up` reads, and \
              files named for development); development files are exempt only when the project has \
              a production overlay.",
    remediation: "Publish on loopback (`127.0.0.1:9090:9090`) and reach it over an SSH tunnel, or put \
                  it behind an authenticating reverse proxy on an internal network without `ports:`.",
    references: &[
        "CWE-306",
        "CWE-668",
        "OWASP A05:2021",
        "compose-lint CL-0005",
    ],
};

pub static GRAFANA_ANONYMOUS_ADMIN: Rule = Rule {
    id: "SHA016",
    name: "compose-grafana-anonymous-admin",
    severity: Severity::High,
    title: "Grafana lets anonymous visitors in as Admin, or without a login",
    summary: "A Grafana service's environment enables anonymous access (`GF_AUTH_ANONYMOUS_ENABLED=true`) \
              with the `Admin` (or `Editor`) organisation role, or disables the login form while \
              anonymous access is on. Anyone who reaches the port can read every data source and, as \
              Admin, change them.",
    remediation: "Leave anonymous access off (or at the `Viewer` role on a network only trusted \
                  people reach) and keep the login form; set an admin password from a secret.",
    references: &["CWE-306", "CWE-1188"],
};

pub static IMAGE_UNPINNED: Rule = Rule {
    id: "SHA017",
    name: "compose-image-unpinned",
    severity: Severity::Medium,
    title: "Compose image without a tag, or with a mutable one",
    summary: "A service's `image` has no tag (so `latest`) or a mutable tag (`latest`, `stable`, \
              `edge`, `nightly`, `main`, `master`) and no digest: every pull can bring a different \
              image, including a compromised or breaking one, and two hosts can run different code. \
              Images the project builds itself (`build:`) and `${VAR}` images are not judged.",
    remediation: "Pin a version tag (`postgres:17.2-alpine`), or better a digest \
                  (`postgres:17.2-alpine@sha256:…`) updated by a dependency bot.",
    references: &["CWE-1357", "CWE-494", "compose-lint CL-0004"],
};

pub static HOST_NAMESPACE: Rule = Rule {
    id: "SHA018",
    name: "compose-host-namespace",
    severity: Severity::High,
    title: "Service shares a host namespace",
    summary: "A service sets `network_mode: host`, `pid: host`, `ipc: host`, `uts: host` or \
              `userns_mode: host`. With the host network every port it listens on is on the host's \
              interfaces (and the firewall rules for containers do not apply); with the host PID or \
              IPC namespace it can see, signal or read the memory of host processes.",
    remediation: "Remove the setting and publish only the ports needed (on 127.0.0.1 when local). \
                  Monitoring agents that truly need it (node-exporter) belong in a separate, \
                  documented file with the exception suppressed in `.shasec.toml`.",
    references: &[
        "CWE-250",
        "CWE-668",
        "compose-lint CL-0008",
        "compose-lint CL-0010",
    ],
};

pub static ISOLATION_WEAKENED: Rule = Rule {
    id: "SHA019",
    name: "compose-isolation-weakened",
    severity: Severity::High,
    title: "Service adds capabilities or turns off seccomp/AppArmor",
    summary: "A service adds Linux capabilities with `cap_add` or sets `security_opt` \
              `seccomp:unconfined`, `apparmor:unconfined` or `systempaths=unconfined`. High for \
              capabilities that reach the host (`ALL`, `SYS_ADMIN`, `SYS_PTRACE`, `SYS_MODULE`, \
              `NET_ADMIN`, `DAC_READ_SEARCH`, `SYS_RAWIO`, `BPF`, `PERFMON`) and for unconfined \
              profiles; medium for other added capabilities, which are not reported when the \
              service also sets `cap_drop: [ALL]` (dropping everything and adding back the few a \
              process needs is the hardened pattern).",
    remediation: "Drop the capability (most services need none: `cap_drop: [ALL]`), or add only the \
                  narrow one a process needs (`NET_BIND_SERVICE`); keep the default seccomp and \
                  AppArmor profiles or ship a tailored one.",
    references: &[
        "CWE-250",
        "CWE-269",
        "compose-lint CL-0009",
        "compose-lint CL-0011",
        "compose-lint CL-0027",
    ],
};

// ---------------------------------------------------------------------------------------------
// Checks

use crate::audit::{ComposeDocument, Parsed, Project};
use crate::finding::{Finding, Location};
use crate::parse::compose::{self as parse, PortForm, PortMapping, PortSpec, Service};

/// Datastore images, matched against the image's last path component (`bitnami/postgresql`).
const DATASTORE_IMAGES: &[&str] = &[
    "postgres",
    "postgis",
    "timescaledb",
    "redis",
    "valkey",
    "keydb",
    "dragonfly",
    "mysql",
    "mariadb",
    "percona",
    "mongo",
    "minio",
    "rabbitmq",
    "memcached",
    "elasticsearch",
    "opensearch",
    "cassandra",
    "scylla",
    "couchdb",
    "couchbase",
    "neo4j",
    "clickhouse",
    "influxdb",
    "etcd",
    "nats",
    "kafka",
    "zookeeper",
    "mssql",
    "oracle",
    "cockroach",
    "surrealdb",
    "arangodb",
    "questdb",
    "meilisearch",
    "typesense",
    "qdrant",
    "weaviate",
    "solr",
];

/// Well-known datastore container ports and what listens there.
const DATASTORE_PORTS: &[(u16, &str)] = &[
    (5432, "PostgreSQL"),
    (6379, "Redis"),
    (6380, "Redis"),
    (3306, "MySQL/MariaDB"),
    (33060, "MySQL X"),
    (27017, "MongoDB"),
    (27018, "MongoDB"),
    (9000, "MinIO"),
    (9001, "MinIO console"),
    (5672, "RabbitMQ"),
    (15672, "RabbitMQ management"),
    (11211, "Memcached"),
    (9200, "Elasticsearch"),
    (9300, "Elasticsearch transport"),
    (8086, "InfluxDB"),
    (2379, "etcd"),
    (9042, "Cassandra"),
    (5984, "CouchDB"),
    (7687, "Neo4j"),
    (7474, "Neo4j"),
    (8123, "ClickHouse"),
    (4222, "NATS"),
    (9092, "Kafka"),
    (2181, "ZooKeeper"),
    (1433, "SQL Server"),
    (1521, "Oracle"),
    (26257, "CockroachDB"),
    (7700, "Meilisearch"),
    (6333, "Qdrant"),
];

const SOCKET_NAMES: &[&str] = &[
    "docker.sock",
    "podman.sock",
    "containerd.sock",
    "crio.sock",
    "dockershim.sock",
];

fn datastore_image(image: &str) -> Option<&'static str> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let name = last.split(':').next().unwrap_or(last).to_ascii_lowercase();
    DATASTORE_IMAGES
        .iter()
        .copied()
        .find(|known| name.contains(known))
}

fn datastore_port(port: u16) -> Option<&'static str> {
    DATASTORE_PORTS
        .iter()
        .find(|(known, _)| *known == port)
        .map(|(_, name)| *name)
}

fn describe(spec: &PortSpec) -> String {
    match &spec.form {
        PortForm::Short(text) => format!("`{text}`"),
        PortForm::Long {
            host_ip,
            published,
            target,
        } => format!(
            "target {target}, published {}, host_ip {}",
            published.as_deref().unwrap_or("(ephemeral)"),
            host_ip.as_deref().unwrap_or("(all interfaces)")
        ),
    }
}

/// Interpolates a port entry with the project's `.env` and splits it.
fn resolve(project: &Project, spec: &PortSpec) -> Option<(PortMapping, Vec<String>)> {
    let lookup = |name: &str| project.dotenv.get(name).cloned();
    match &spec.form {
        PortForm::Short(text) => {
            let (text, unset) = parse::interpolate(text, &lookup);
            parse::parse_short_port(&text).map(|mapping| (mapping, unset))
        }
        PortForm::Long {
            host_ip,
            published,
            target,
        } => {
            let mut unset = Vec::new();
            let mut expand = |text: &Option<String>| {
                text.as_ref().map(|text| {
                    let (value, missing) = parse::interpolate(text, &lookup);
                    unset.extend(missing);
                    value
                })
            };
            let host_ip = expand(host_ip).filter(|ip| !ip.is_empty());
            let published = expand(published);
            let target = expand(&Some(target.clone())).unwrap_or_default();
            Some((
                PortMapping {
                    host_ip,
                    published,
                    target,
                },
                unset,
            ))
        }
    }
}

fn unset_note(unset: &[String]) -> String {
    if unset.is_empty() {
        String::new()
    } else {
        format!(
            " (assuming {} unset, as compose does when the environment lacks it)",
            unset
                .iter()
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn is_dev_compose(path: &str) -> bool {
    crate::audit::project::file_role(path) != crate::audit::FileRole::Deployed
}

/// `compose.override.yaml`: plain `docker compose up` reads it with the base file.
fn is_override(path: &str) -> bool {
    let file_name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    file_name.contains("override")
}

pub fn check(project: &Project, parsed: &Parsed<'_>, findings: &mut Vec<Finding>) {
    let has_prod = parsed.compose.iter().any(|document| document.prod);
    for document in &parsed.compose {
        let path = &document.file.path;
        // A development file is exempt only where a production overlay says what deploys.
        let dev = is_dev_compose(path);
        let exempt = dev && has_prod && !is_override(path);
        let lowered = (dev || is_override(path)).then_some(Severity::Medium);
        let directory = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        for service in &document.compose.services {
            check_privileges(path, service, findings);
            check_isolation(project, path, service, findings);
            if !exempt {
                let before = findings.len();
                check_published_ports(project, document, service, findings);
                // An overlay's service takes its image from the file it extends.
                let image = service.image.clone().or_else(|| {
                    parsed
                        .compose
                        .iter()
                        .filter(|other| {
                            other.file.path.rsplit_once('/').map_or("", |(dir, _)| dir) == directory
                        })
                        .flat_map(|other| other.compose.services.iter())
                        .find(|other| other.name == service.name && other.image.is_some())
                        .and_then(|other| other.image.clone())
                });
                check_admin_ui(project, path, service, image.as_deref(), findings);
                if let Some(severity) = lowered {
                    for finding in &mut findings[before..] {
                        if finding.severity > severity {
                            finding.severity = severity;
                            finding.message.push_str(" (development file)");
                        }
                    }
                }
            }
        }
    }
    check_prod_overlays(project, parsed, findings);
}

/// Images of UIs with no login of their own, or that hand out database access.
const ADMIN_UI_IMAGES: &[(&str, &str)] = &[
    ("prometheus", "Prometheus"),
    ("alertmanager", "Alertmanager"),
    ("pushgateway", "Pushgateway"),
    ("loki", "Loki"),
    ("cadvisor", "cAdvisor"),
    ("jaeger", "Jaeger"),
    ("flower", "Flower"),
    ("adminer", "Adminer"),
    ("pgadmin", "pgAdmin"),
    ("phpmyadmin", "phpMyAdmin"),
    ("mongo-express", "mongo-express"),
    ("redis-commander", "Redis Commander"),
    ("redisinsight", "RedisInsight"),
    ("kibana", "Kibana"),
    ("portainer", "Portainer"),
];

/// The image's repository name (`prom/prometheus:v2` → `prometheus`).
fn image_name(image: &str) -> String {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split(':').next().unwrap_or(last).to_ascii_lowercase()
}

fn environment_value(project: &Project, service: &Service, key: &str) -> Option<String> {
    service
        .environment
        .iter()
        .rev()
        .find(|setting| setting.key == key)
        .and_then(|setting| setting.value.as_deref())
        .map(|raw| parse::interpolate(raw, &|name| project.dotenv.get(name).cloned()).0)
}

fn check_admin_ui(
    project: &Project,
    path: &str,
    service: &Service,
    image: Option<&str>,
    findings: &mut Vec<Finding>,
) {
    let Some(image) = image else {
        return;
    };
    let name = image_name(image);
    let command_is_flower = service.name.to_ascii_lowercase().contains("flower");
    let ui = ADMIN_UI_IMAGES
        .iter()
        .find(|(known, _)| name.contains(known))
        .map(|(_, ui)| *ui)
        .or(command_is_flower.then_some("Flower"));
    let grafana_open = name.contains("grafana") && grafana_anonymous_admin(project, service);
    // Traefik's dashboard and API without authentication.
    let traefik_insecure = name.contains("traefik")
        && service.command.iter().any(|word| {
            word.eq_ignore_ascii_case("--api.insecure=true") || word == "--api.insecure"
        });
    let ui = match (ui, grafana_open, traefik_insecure) {
        (Some(ui), _, _) => ui,
        (None, true, _) => "Grafana (anonymous Admin)",
        (None, false, true) => "Traefik API with `--api.insecure`",
        (None, false, false) => return,
    };
    for spec in &service.ports {
        let Some((mapping, unset)) = resolve(project, spec) else {
            continue;
        };
        // Traefik's API listens on its `traefik` entrypoint (8080); its other ports are the proxy.
        if mapping.loopback_only() || traefik_insecure && !mapping.target_ports().contains(&8080) {
            continue;
        }
        findings.push(Finding::new(
            &ADMIN_UI_PUBLISHED,
            Location::line(path, spec.line),
            format!(
                "service `{}` ({ui}) publishes {} on all interfaces{}",
                service.name,
                describe(spec),
                unset_note(&unset)
            ),
        ));
    }
}

fn grafana_anonymous_admin(project: &Project, service: &Service) -> bool {
    let is_true = |key: &str| {
        environment_value(project, service, key).is_some_and(|value| {
            matches!(
                value.trim().to_ascii_lowercase().as_str(),
                "true" | "1" | "yes"
            )
        })
    };
    let anonymous = is_true("GF_AUTH_ANONYMOUS_ENABLED");
    let role = environment_value(project, service, "GF_AUTH_ANONYMOUS_ORG_ROLE")
        .map(|role| role.trim().to_ascii_lowercase());
    anonymous
        && (matches!(role.as_deref(), Some("admin" | "editor"))
            || is_true("GF_AUTH_DISABLE_LOGIN_FORM"))
}

/// Docker Hub's official images most often named in compose files (pulled without a namespace).
pub(crate) const OFFICIAL_IMAGES: &[&str] = &[
    "adminer",
    "alpine",
    "amazoncorretto",
    "busybox",
    "caddy",
    "cassandra",
    "centos",
    "clickhouse",
    "composer",
    "consul",
    "couchbase",
    "couchdb",
    "debian",
    "docker",
    "drupal",
    "eclipse-temurin",
    "elasticsearch",
    "fedora",
    "ghost",
    "golang",
    "gradle",
    "haproxy",
    "httpd",
    "influxdb",
    "joomla",
    "kibana",
    "logstash",
    "mariadb",
    "maven",
    "memcached",
    "mongo",
    "mongo-express",
    "mysql",
    "nats",
    "neo4j",
    "nextcloud",
    "nginx",
    "node",
    "openjdk",
    "percona",
    "php",
    "phpmyadmin",
    "postgres",
    "python",
    "rabbitmq",
    "redis",
    "redmine",
    "registry",
    "rust",
    "solr",
    "sonarqube",
    "tomcat",
    "traefik",
    "ubuntu",
    "vault",
    "wordpress",
    "zookeeper",
];

const MUTABLE_TAGS: &[&str] = &["latest", "stable", "edge", "nightly", "main", "master"];
const HOST_CAPABILITIES: &[&str] = &[
    "ALL",
    "SYS_ADMIN",
    "SYS_PTRACE",
    "SYS_MODULE",
    "NET_ADMIN",
    "DAC_READ_SEARCH",
    "SYS_RAWIO",
    "BPF",
    "PERFMON",
];

fn check_isolation(project: &Project, path: &str, service: &Service, findings: &mut Vec<Finding>) {
    if let Some(image) = service.image.as_deref()
        && !image.contains('$')
        && service.build.is_none()
        && !image.contains('@')
    {
        let last = image.rsplit('/').next().unwrap_or(image);
        let tag = last
            .split_once(':')
            .map(|(_, tag)| tag.to_ascii_lowercase());
        let repository = last.split(':').next().unwrap_or(last).to_ascii_lowercase();
        // A bare name that is no Docker official image cannot be pulled: the project builds it.
        let local_build = !image.contains('/') && !OFFICIAL_IMAGES.contains(&repository.as_str());
        let problem = match tag.as_deref() {
            _ if local_build => None,
            None => Some("has no tag (so `latest`)".to_owned()),
            Some(tag) if MUTABLE_TAGS.contains(&tag) => {
                Some(format!("uses the mutable tag `{tag}`"))
            }
            Some(_) => None,
        };
        if let Some(problem) = problem {
            findings.push(Finding::new(
                &IMAGE_UNPINNED,
                Location::line(path, service.image_line.max(service.line)),
                format!("service `{}` image `{image}` {problem}", service.name),
            ));
        }
    }
    if grafana_anonymous_admin(project, service) {
        findings.push(Finding::new(
            &GRAFANA_ANONYMOUS_ADMIN,
            Location::line(path, service.line),
            format!(
                "service `{}` lets anonymous visitors in as Admin/Editor or without a login form",
                service.name
            ),
        ));
    }
    for namespace in &service.namespaces {
        if namespace.value.trim().eq_ignore_ascii_case("host") {
            findings.push(Finding::new(
                &HOST_NAMESPACE,
                Location::line(path, namespace.line),
                format!("service `{}` sets `{}: host`", service.name, namespace.key),
            ));
        }
    }
    // `cap_drop: [ALL]` then the few a process needs is the hardened pattern: only
    // host-reaching capabilities are reported then.
    let drops_all = service
        .cap_drop
        .iter()
        .any(|c| c.eq_ignore_ascii_case("all"));
    for capability in &service.cap_add {
        let name = capability.value.trim().to_ascii_uppercase();
        let name = name.strip_prefix("CAP_").unwrap_or(&name).to_owned();
        if drops_all && !HOST_CAPABILITIES.contains(&name.as_str()) {
            continue;
        }
        let mut finding = Finding::new(
            &ISOLATION_WEAKENED,
            Location::line(path, capability.line),
            format!("service `{}` adds the capability `{name}`", service.name),
        );
        if !HOST_CAPABILITIES.contains(&name.as_str()) {
            finding = finding.with_severity(Severity::Medium);
        }
        findings.push(finding);
    }
    for option in &service.security_options {
        let compact = option.value.replace(' ', "").to_ascii_lowercase();
        if [
            "seccomp:unconfined",
            "seccomp=unconfined",
            "apparmor:unconfined",
            "apparmor=unconfined",
            "systempaths=unconfined",
        ]
        .contains(&compact.as_str())
        {
            findings.push(Finding::new(
                &ISOLATION_WEAKENED,
                Location::line(path, option.line),
                format!(
                    "service `{}` sets `security_opt: {}`",
                    service.name,
                    option.value.trim()
                ),
            ));
        }
    }
}

fn check_privileges(path: &str, service: &Service, findings: &mut Vec<Finding>) {
    if let Some((true, line)) = service.privileged {
        findings.push(Finding::new(
            &PRIVILEGED,
            Location::line(path, line),
            format!("service `{}` sets `privileged: true`", service.name),
        ));
    }
    for volume in &service.volumes {
        let mounts_socket = |text: &str| {
            SOCKET_NAMES
                .iter()
                .any(|socket| text.trim_end_matches('/').ends_with(socket))
        };
        let source_is_socket = volume.source.as_deref().is_some_and(mounts_socket);
        if source_is_socket || mounts_socket(&volume.target) {
            let shown = volume.source.as_deref().unwrap_or(&volume.target);
            findings.push(Finding::new(
                &DOCKER_SOCKET,
                Location::line(path, volume.line),
                format!("service `{}` mounts `{shown}`", service.name),
            ));
        }
    }
}

fn check_published_ports(
    project: &Project,
    document: &ComposeDocument<'_>,
    service: &Service,
    findings: &mut Vec<Finding>,
) {
    let path = &document.file.path;
    let image_store = service.image.as_deref().and_then(datastore_image);
    // A known admin UI's port is its UI (SHA015), whatever datastore usually listens there.
    let admin_ui = service.image.as_deref().is_some_and(|image| {
        let name = image_name(image);
        ADMIN_UI_IMAGES
            .iter()
            .any(|(known, _)| name.contains(known))
    });
    for spec in &service.ports {
        let Some((mapping, unset)) = resolve(project, spec) else {
            continue;
        };
        if mapping.loopback_only() {
            continue;
        }
        let port_store = if admin_ui {
            None
        } else {
            mapping.target_ports().into_iter().find_map(datastore_port)
        };
        let what = match (image_store, port_store) {
            (Some(image), _) => format!("`{image}` image"),
            (None, Some(port)) => format!("{port} port"),
            (None, None) => {
                if document.prod {
                    let message = format!(
                        "service `{}` publishes {} on all interfaces{}",
                        service.name,
                        describe(spec),
                        unset_note(&unset)
                    );
                    findings.push(Finding::new(
                        &API_PUBLIC_IN_PROD,
                        Location::line(path, spec.line),
                        message,
                    ));
                }
                continue;
            }
        };
        let message = format!(
            "service `{}` ({what}) publishes {} on all interfaces{}",
            service.name,
            describe(spec),
            unset_note(&unset)
        );
        findings.push(Finding::new(
            &DATASTORE_PUBLISHED,
            Location::line(path, spec.line),
            message,
        ));
    }
}

/// Production services: a prod overlay's services, merged with the base file's definition of
/// the same service (compose merges them at deploy time).
fn check_prod_overlays(project: &Project, parsed: &Parsed<'_>, findings: &mut Vec<Finding>) {
    let bases: Vec<&ComposeDocument<'_>> = parsed
        .compose
        .iter()
        .filter(|d| !d.prod && !is_dev_compose(&d.file.path))
        .collect();
    for overlay in parsed.compose.iter().filter(|d| d.prod) {
        let directory = overlay
            .file
            .path
            .rsplit_once('/')
            .map_or("", |(dir, _)| dir);
        let base_services: Vec<&Service> = bases
            .iter()
            .filter(|base| base.file.path.rsplit_once('/').map_or("", |(dir, _)| dir) == directory)
            .flat_map(|base| base.compose.services.iter())
            .collect();
        for service in &overlay.compose.services {
            let same_in_base: Vec<&Service> = base_services
                .iter()
                .copied()
                .filter(|s| s.name == service.name)
                .collect();
            // Ports the base file publishes for this service still apply unless the overlay resets them.
            if !service.ports_replace {
                for base in &same_in_base {
                    for spec in &base.ports {
                        let Some((mapping, unset)) = resolve(project, spec) else {
                            continue;
                        };
                        let image = service.image.as_deref().or(base.image.as_deref());
                        let is_store = image.and_then(datastore_image).is_some()
                            || mapping
                                .target_ports()
                                .into_iter()
                                .any(|p| datastore_port(p).is_some());
                        if !mapping.loopback_only() && !is_store {
                            let message = format!(
                                "service `{}` keeps {} from the base file on all interfaces in production{}",
                                service.name,
                                describe(spec),
                                unset_note(&unset)
                            );
                            findings.push(Finding::new(
                                &API_PUBLIC_IN_PROD,
                                Location::line(&overlay.file.path, service.line),
                                message,
                            ));
                        }
                    }
                }
            }
            let all: Vec<&Service> = std::iter::once(service)
                .chain(same_in_base.iter().copied())
                .collect();
            let read_only = all.iter().find_map(|s| s.read_only) == Some(true);
            let cap_drop = all
                .iter()
                .any(|s| s.cap_drop.iter().any(|c| c.eq_ignore_ascii_case("all")));
            let no_new_privileges = all.iter().any(|s| {
                s.security_opt.iter().any(|o| {
                    let o = o.replace(' ', "").to_ascii_lowercase();
                    o == "no-new-privileges"
                        || o == "no-new-privileges:true"
                        || o == "no-new-privileges=true"
                })
            });
            let missing: Vec<&str> = [
                (!read_only).then_some("read_only: true"),
                (!cap_drop).then_some("cap_drop: [ALL]"),
                (!no_new_privileges).then_some("security_opt: no-new-privileges:true"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !missing.is_empty() {
                let message = format!(
                    "production service `{}` lacks {}",
                    service.name,
                    missing.join(", ")
                );
                findings.push(Finding::new(
                    &PROD_HARDENING_MISSING,
                    Location::line(&overlay.file.path, service.line),
                    message,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datastores_are_recognised_by_image_and_port() {
        assert_eq!(datastore_image("postgres:16-alpine"), Some("postgres"));
        assert_eq!(
            datastore_image("docker.io/bitnami/postgresql:16"),
            Some("postgres")
        );
        assert_eq!(
            datastore_image("redis/redis-stack@sha256:abc"),
            Some("redis")
        );
        assert_eq!(datastore_image("ghcr.io/acme/api:1.0"), None);
        assert_eq!(datastore_port(6379), Some("Redis"));
        assert_eq!(datastore_port(8080), None);
    }
}
