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

pub fn check(project: &Project, parsed: &Parsed<'_>, findings: &mut Vec<Finding>) {
    for document in &parsed.compose {
        let path = &document.file.path;
        for service in &document.compose.services {
            check_privileges(path, service, findings);
            if !is_dev_compose(path) {
                check_published_ports(project, document, service, findings);
            }
        }
    }
    check_prod_overlays(project, parsed, findings);
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
    for spec in &service.ports {
        let Some((mapping, unset)) = resolve(project, spec) else {
            continue;
        };
        if mapping.loopback_only() {
            continue;
        }
        let port_store = mapping.target_ports().into_iter().find_map(datastore_port);
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
