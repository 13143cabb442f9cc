//! Datastore ports on the API's host: concurrent TCP connects with a short timeout, then a
//! harmless hello (PostgreSQL's SSL request, Redis `PING`, Memcached `version`, HTTP `GET /`, the
//! AMQP header, an anonymous MQTT CONNECT, or the greeting MySQL and NATS send unasked) to name what actually listens. All open sockets make
//! one finding, located at `/` (no URL path was probed; the message names each socket), which
//! keeps the SARIF artifact URI (base URL + path) valid.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// How long a service gets to greet, or to answer one hello.
const ANSWER_TIMEOUT: Duration = Duration::from_millis(400);

fn service_name(port: u16) -> Option<&'static str> {
    DATASTORE_PORTS
        .iter()
        .find(|(known, _)| *known == port)
        .map(|(_, name)| *name)
}

/// Harmless first messages of the protocols datastores speak; none changes any state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hello {
    /// PostgreSQL's SSLRequest: the server answers one byte, `S` or `N`.
    PostgresSsl,
    /// Redis `PING`.
    RedisPing,
    /// Memcached `version`.
    MemcachedVersion,
    /// `GET /` over HTTP/1.0 (MinIO, Elasticsearch, CouchDB, RabbitMQ management, …).
    HttpGet,
    /// The AMQP 0-9-1 protocol header: RabbitMQ answers with `Connection.Start`.
    AmqpHeader,
    /// An MQTT 3.1.1 CONNECT without credentials: the CONNACK says whether anonymous clients are
    /// accepted (the probe closes the connection right after).
    MqttConnect,
}

impl Hello {
    fn bytes(self) -> &'static [u8] {
        match self {
            Hello::PostgresSsl => &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f],
            Hello::RedisPing => b"PING\r\n",
            Hello::MemcachedVersion => b"version\r\n",
            Hello::HttpGet => {
                b"GET / HTTP/1.0\r\nHost: localhost\r\nUser-Agent: shasec-probe\r\n\r\n"
            }
            Hello::AmqpHeader => b"AMQP\x00\x00\x09\x01",
            Hello::MqttConnect => &[
                0x10, 0x12, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x06,
                b's', b'h', b'a', b's', b'e', b'c',
            ],
        }
    }

    /// The hello to try first on a well-known port; the others follow.
    fn order(port: u16) -> Vec<Hello> {
        let first = match port {
            5432 | 26257 => Some(Hello::PostgresSsl),
            6379 | 6380 => Some(Hello::RedisPing),
            11211 => Some(Hello::MemcachedVersion),
            5672 => Some(Hello::AmqpHeader),
            1883 => Some(Hello::MqttConnect),
            9000 | 9001 | 9200 | 5984 | 8086 | 8123 | 15672 | 6333 => Some(Hello::HttpGet),
            _ => None,
        };
        let all = [
            Hello::RedisPing,
            Hello::PostgresSsl,
            Hello::HttpGet,
            Hello::MemcachedVersion,
            Hello::AmqpHeader,
            Hello::MqttConnect,
        ];
        first
            .into_iter()
            .chain(all.into_iter().filter(|hello| Some(*hello) != first))
            .collect()
    }

    fn recognise(self, answer: &[u8]) -> Option<String> {
        let text = String::from_utf8_lossy(answer);
        match self {
            Hello::PostgresSsl => match answer {
                [b'S'] => Some("PostgreSQL (answered the SSL request: TLS offered)".to_owned()),
                [b'N'] => Some("PostgreSQL (answered the SSL request: no TLS)".to_owned()),
                _ => None,
            },
            Hello::RedisPing if text.starts_with("+PONG") => {
                Some("Redis without a password (PING -> +PONG)".to_owned())
            }
            Hello::RedisPing if text.starts_with("-NOAUTH") => {
                Some("Redis, password required (PING -> NOAUTH)".to_owned())
            }
            Hello::RedisPing if text.starts_with("-DENIED") || text.starts_with("-ERR") => {
                Some(format!("Redis ({})", first_line(&text)))
            }
            Hello::MemcachedVersion => text
                .strip_prefix("VERSION ")
                .map(|version| format!("Memcached {}", first_line(version))),
            Hello::HttpGet if text.starts_with("HTTP/") => Some(http_service(&text)),
            Hello::AmqpHeader
                if answer.starts_with(b"AMQP")
                    || answer.len() > 11 && answer[0] == 1 && answer[7..11] == [0, 10, 0, 10] =>
            {
                Some("an AMQP broker (RabbitMQ protocol header answered)".to_owned())
            }
            Hello::MqttConnect if answer.len() >= 4 && answer[0] == 0x20 => Some(match answer[3] {
                0 => "an MQTT broker accepting anonymous clients (CONNACK 0)".to_owned(),
                code => format!("an MQTT broker (anonymous CONNECT refused, CONNACK {code})"),
            }),
            _ => None,
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(60)
        .collect()
}

/// Names an HTTP service from its headers and the start of its body.
fn http_service(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let known = [
        ("minio", "MinIO"),
        ("you know, for search", "Elasticsearch"),
        ("opensearch", "OpenSearch"),
        ("\"couchdb\"", "CouchDB"),
        ("rabbitmq", "RabbitMQ management"),
        ("x-influxdb", "InfluxDB"),
        ("x-clickhouse", "ClickHouse"),
        ("qdrant", "Qdrant"),
        ("grafana", "Grafana"),
        ("prometheus", "Prometheus"),
    ];
    let server = text
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("server")
                .then(|| first_line(value.trim()))
        });
    let named = known
        .iter()
        .find(|(marker, _)| lower.contains(marker))
        .map(|(_, name)| *name);
    match (named, server) {
        (Some(name), Some(server)) => format!("{name} over HTTP (Server: {server})"),
        (Some(name), None) => format!("{name} over HTTP"),
        (None, Some(server)) => format!("an HTTP server (Server: {server})"),
        (None, None) => "an HTTP server".to_owned(),
    }
}

/// Reads what arrives within [`ANSWER_TIMEOUT`] (at most 4 KiB).
async fn read_answer(stream: &mut TcpStream) -> Vec<u8> {
    let mut buffer = vec![0u8; 4096];
    match tokio::time::timeout(ANSWER_TIMEOUT, stream.read(&mut buffer)).await {
        Ok(Ok(count)) => {
            buffer.truncate(count);
            buffer
        }
        _ => Vec::new(),
    }
}

/// A greeting sent unasked (MySQL, NATS, …), named when it is known.
fn recognise_greeting(greeting: &[u8]) -> String {
    // MySQL/MariaDB handshake v10: 3-byte length, sequence 0, protocol 10, NUL-ended version.
    if greeting.len() > 6 && greeting[3] == 0 && greeting[4] == 10 {
        let version: String = greeting[5..]
            .iter()
            .take_while(|byte| **byte != 0)
            .map(|byte| char::from(*byte))
            .collect();
        return format!("MySQL/MariaDB {version} (handshake)");
    }
    let text = String::from_utf8_lossy(greeting);
    if text.starts_with("INFO {") {
        return "NATS (INFO greeting)".to_owned();
    }
    format!("a service greeting `{}`", first_line(&text))
}

/// What listens on `socket`, from its greeting or its answer to one of the hellos.
async fn identify(socket: SocketAddr, timeout: Duration) -> Option<String> {
    let mut stream = tokio::time::timeout(timeout, TcpStream::connect(socket))
        .await
        .ok()?
        .ok()?;
    let greeting = read_answer(&mut stream).await;
    if !greeting.is_empty() {
        return Some(recognise_greeting(&greeting));
    }
    drop(stream);
    for hello in Hello::order(socket.port()) {
        let Ok(Ok(mut stream)) = tokio::time::timeout(timeout, TcpStream::connect(socket)).await
        else {
            return None;
        };
        if stream.write_all(hello.bytes()).await.is_err() {
            continue;
        }
        let answer = read_answer(&mut stream).await;
        if let Some(name) = hello.recognise(&answer) {
            return Some(name);
        }
    }
    None
}

/// One line per open socket: what answered there, or which service the port usually belongs to.
fn describe(socket: SocketAddr, identified: Option<&str>) -> String {
    match (identified, service_name(socket.port())) {
        (Some(name), _) => format!("{socket} {name}"),
        (None, Some(usual)) => format!("{socket} (usually {usual}; it did not identify itself)"),
        (None, None) => format!("{socket} (an unidentified service)"),
    }
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
                let identified = if open {
                    identify(socket, timeout).await
                } else {
                    None
                };
                (socket, open, identified)
            });
        }
    }
    let mut open: Vec<(SocketAddr, Option<String>)> = Vec::new();
    while let Some(joined) = connects.join_next().await {
        if let Ok((socket, true, identified)) = joined {
            open.push((socket, identified));
        }
    }
    if open.is_empty() {
        return;
    }
    open.sort();
    let loopback = context.target.is_loopback();
    let listed: Vec<String> = open
        .iter()
        .map(|(socket, identified)| describe(*socket, identified.as_deref()))
        .collect();
    // One finding for the host, however many services listen: a developer machine with six
    // local datastores reads as one item, each socket named in it.
    let message = if loopback {
        format!(
            "{} datastore port(s) accept connections on the probed host, probed through loopback \
             (a service bound to loopback only looks the same as an exposed one: check each bind \
             address, and that it belongs to this deployment): {}",
            open.len(),
            listed.join("; ")
        )
    } else {
        format!(
            "{} datastore port(s) accept connections from the probe's network: {}",
            open.len(),
            listed.join("; ")
        )
    };
    let finding = Finding::new(&DATASTORE_PORT_REACHABLE, Location::file("/"), message);
    context.add(if loopback {
        finding.with_severity(Severity::Medium)
    } else {
        finding
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_name_the_service() {
        assert!(
            Hello::PostgresSsl
                .recognise(b"N")
                .is_some_and(|name| name.starts_with("PostgreSQL"))
        );
        assert!(Hello::PostgresSsl.recognise(b"HTTP/1.1 400").is_none());
        assert!(
            Hello::RedisPing
                .recognise(b"+PONG\r\n")
                .is_some_and(|name| name.contains("without a password"))
        );
        assert!(
            Hello::RedisPing
                .recognise(b"-NOAUTH Authentication required.\r\n")
                .is_some_and(|name| name.contains("password required"))
        );
        assert_eq!(
            Hello::MemcachedVersion
                .recognise(b"VERSION 1.6.21\r\n")
                .as_deref(),
            Some("Memcached 1.6.21")
        );
        let minio = "HTTP/1.1 403 Forbidden\r\nServer: MinIO\r\n\r\n<Error>";
        assert_eq!(
            Hello::HttpGet.recognise(minio.as_bytes()).as_deref(),
            Some("MinIO over HTTP (Server: MinIO)")
        );
        assert!(
            Hello::MqttConnect
                .recognise(&[0x20, 0x02, 0x00, 0x00])
                .is_some_and(|name| name.contains("anonymous clients"))
        );
        assert!(
            Hello::AmqpHeader
                .recognise(b"AMQP\x00\x00\x09\x01")
                .is_some_and(|name| name.contains("AMQP"))
        );
        let mysql = [
            0x4a, 0, 0, 0, 10, b'8', b'.', b'0', b'.', b'3', b'6', 0, 1, 2,
        ];
        assert_eq!(
            recognise_greeting(&mysql),
            "MySQL/MariaDB 8.0.36 (handshake)"
        );
    }

    #[test]
    fn hellos_start_with_the_ports_own_protocol() {
        assert_eq!(Hello::order(5432)[0], Hello::PostgresSsl);
        assert_eq!(Hello::order(6379)[0], Hello::RedisPing);
        assert_eq!(Hello::order(40000).len(), 6);
        assert_eq!(Hello::order(5672)[0], Hello::AmqpHeader);
        assert_eq!(
            describe(
                "127.0.0.1:27017"
                    .parse()
                    .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 27017))),
                None
            ),
            "127.0.0.1:27017 (usually MongoDB; it did not identify itself)"
        );
    }
}
