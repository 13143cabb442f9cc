//! Datastore ports on the API's host: concurrent TCP connects with a short timeout. A connect only
//! proves something listens; the finding says which service usually lives there. Findings are
//! located at `/` (no URL path was probed; the message names the socket), which keeps the SARIF
//! artifact URI (base URL + path) valid.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::Context;
use super::rules::DATASTORE_PORT_REACHABLE;
use crate::finding::{Finding, Location, Severity};

/// Ports of datastores and brokers that must not be reachable from where an API is reachable.
pub const DATASTORE_PORTS: &[(u16, &str)] = &[
    (5432, "PostgreSQL"),
    (6379, "Redis"),
    (6380, "Redis (TLS/replica)"),
    (3306, "MySQL/MariaDB"),
    (27017, "MongoDB"),
    (9000, "MinIO API"),
    (9001, "MinIO console"),
    (5672, "RabbitMQ (AMQP)"),
    (15672, "RabbitMQ management"),
    (11211, "Memcached"),
    (9200, "Elasticsearch/OpenSearch"),
    (9300, "Elasticsearch transport"),
    (5984, "CouchDB"),
    (8086, "InfluxDB"),
    (7687, "Neo4j (Bolt)"),
    (9042, "Cassandra"),
    (2379, "etcd"),
    (1433, "SQL Server"),
    (1521, "Oracle"),
    (26257, "CockroachDB"),
    (8123, "ClickHouse (HTTP)"),
    (9092, "Kafka"),
    (4222, "NATS"),
    (1883, "MQTT"),
    (6333, "Qdrant"),
];

/// Connect timeout per port: a local or LAN host answers in milliseconds.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(700);

fn service_name(port: u16) -> &'static str {
    DATASTORE_PORTS
        .iter()
        .find(|(known, _)| *known == port)
        .map_or("unknown service", |(_, name)| name)
}

pub async fn probe(context: &mut Context) {
    let ports: Vec<u16> = if context.plan.args.ports.is_empty() {
        DATASTORE_PORTS.iter().map(|(port, _)| *port).collect()
    } else {
        context.plan.args.ports.clone()
    };
    let timeout = CONNECT_TIMEOUT.min(context.plan.args.timeout);
    let mut connects = JoinSet::new();
    for address in &context.target.addresses {
        for port in &ports {
            let socket = SocketAddr::new(*address, *port);
            connects.spawn(async move {
                let open = matches!(
                    tokio::time::timeout(timeout, TcpStream::connect(socket)).await,
                    Ok(Ok(_))
                );
                (socket, open)
            });
        }
    }
    let mut open: Vec<SocketAddr> = Vec::new();
    while let Some(joined) = connects.join_next().await {
        if let Ok((socket, true)) = joined {
            open.push(socket);
        }
    }
    open.sort();
    let loopback = context.target.is_loopback();
    for socket in open {
        let service = service_name(socket.port());
        let message = if loopback {
            format!(
                "TCP {socket} ({service}) accepts connections on the probed host; probed through \
                 loopback, so a service bound to loopback only looks the same as an exposed one — \
                 check its bind address (and that it belongs to this deployment)"
            )
        } else {
            format!("TCP {socket} ({service}) accepts connections from the probe's network")
        };
        let finding = Finding::new(&DATASTORE_PORT_REACHABLE, Location::file("/"), message);
        context.add(if loopback {
            finding.with_severity(Severity::Medium)
        } else {
            finding
        });
    }
}
