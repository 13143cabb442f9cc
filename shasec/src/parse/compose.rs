//! Docker Compose files, typed from the YAML tree: services with image, build, ports (every
//! syntax), volumes, privileges, hardening options, environment and health checks.

use super::yaml::{Node, NodeKind};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComposeFile {
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Service {
    pub name: String,
    pub line: u32,
    pub image: Option<String>,
    pub build: Option<Build>,
    pub ports: Vec<PortSpec>,
    /// The file replaces the ports of files before it (`ports: !reset` / `!override`).
    pub ports_replace: bool,
    pub volumes: Vec<VolumeSpec>,
    pub privileged: Option<(bool, u32)>,
    pub read_only: Option<bool>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub environment: Vec<EnvSetting>,
    pub healthcheck: bool,
    /// Line of the `image:` key (0 when absent).
    pub image_line: u32,
    /// `network_mode`, `pid`, `ipc`, `uts`, `userns_mode` values with their lines.
    pub namespaces: Vec<Scalar>,
    pub cap_add: Vec<Scalar>,
    /// `security_opt` entries with their lines.
    pub security_options: Vec<Scalar>,
    /// `env_file:` paths (short and long form) with their lines.
    pub env_files: Vec<Scalar>,
    /// `command:` words (either form), for options such as Traefik's `--api.insecure=true`.
    pub command: Vec<String>,
}

/// A scalar of a service with the key it sits under and its line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scalar {
    pub key: String,
    pub value: String,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub context: String,
    pub dockerfile: Option<String>,
}

/// A `ports` entry, still uninterpolated: short (`"127.0.0.1:8080:80/tcp"`) or long syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub line: u32,
    pub form: PortForm,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortForm {
    Short(String),
    Long {
        host_ip: Option<String>,
        published: Option<String>,
        target: String,
    },
}

/// A port mapping after interpolation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    pub host_ip: Option<String>,
    /// `None` or empty: Docker picks an ephemeral host port — still published.
    pub published: Option<String>,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    pub line: u32,
    pub source: Option<String>,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSetting {
    pub key: String,
    /// `None` when the variable is passed through from the host.
    pub value: Option<String>,
    pub line: u32,
}

/// A top-level `services` mapping whose entries look like services.
pub fn looks_like_compose(root: &Node) -> bool {
    root.get("services").is_some_and(|services| {
        services.is_mapping()
            && services.entries().iter().any(|(_, service)| {
                [
                    "image",
                    "build",
                    "ports",
                    "environment",
                    "volumes",
                    "command",
                ]
                .iter()
                .any(|key| service.get(key).is_some())
            })
    })
}

fn scalar(node: &Node) -> Option<String> {
    node.as_str().filter(|_| !node.is_null()).map(str::to_owned)
}

/// A scalar or each scalar of a sequence (or each `path` of long-form entries), with lines.
fn scalars(key: &str, node: &Node) -> Vec<Scalar> {
    let one = |item: &Node| {
        let value = scalar(item).or_else(|| item.get("path").and_then(scalar))?;
        Some(Scalar {
            key: key.to_owned(),
            value,
            line: item.line,
        })
    };
    match &node.kind {
        NodeKind::Sequence(items) => items.iter().filter_map(one).collect(),
        _ => one(node).into_iter().collect(),
    }
}

fn strings(node: &Node) -> Vec<String> {
    match &node.kind {
        NodeKind::Sequence(items) => items.iter().filter_map(scalar).collect(),
        NodeKind::Scalar { .. } => scalar(node).into_iter().collect(),
        NodeKind::Mapping(_) => Vec::new(),
    }
}

/// Reads services; an error names what is malformed (the file is then reported, not audited).
pub fn from_yaml(root: &Node) -> Result<ComposeFile, String> {
    let Some(services) = root.get("services") else {
        return Ok(ComposeFile::default());
    };
    if !services.is_mapping() {
        if services.is_null() {
            return Ok(ComposeFile::default());
        }
        return Err(format!(
            "line {}: `services` must be a mapping",
            services.line
        ));
    }
    let mut file = ComposeFile::default();
    for (key, body) in services.entries() {
        let Some(name) = key.as_str() else { continue };
        if !body.is_mapping() && !body.is_null() {
            return Err(format!(
                "line {}: service `{name}` must be a mapping",
                body.line
            ));
        }
        file.services.push(service(name, key.line, body));
    }
    Ok(file)
}

fn service(name: &str, line: u32, body: &Node) -> Service {
    let mut service = Service {
        name: name.to_owned(),
        line,
        ..Service::default()
    };
    service.image = body.get("image").and_then(scalar);
    service.image_line = body.get_entry("image").map_or(0, |(key, _)| key.line);
    for key in ["network_mode", "pid", "ipc", "uts", "userns_mode"] {
        if let Some(value) = body.get(key) {
            service.namespaces.extend(scalars(key, value));
        }
    }
    if let Some(value) = body.get("cap_add") {
        service.cap_add = scalars("cap_add", value);
    }
    if let Some(value) = body.get("security_opt") {
        service.security_options = scalars("security_opt", value);
    }
    if let Some(value) = body.get("command") {
        service.command = strings(value)
            .iter()
            .flat_map(|text| {
                text.split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    if let Some(value) = body.get("env_file") {
        service.env_files = scalars("env_file", value);
    }
    service.build = body.get("build").and_then(|build| match &build.kind {
        NodeKind::Scalar { text, .. } => Some(Build {
            context: text.clone(),
            dockerfile: None,
        }),
        NodeKind::Mapping(_) => Some(Build {
            context: build
                .get("context")
                .and_then(scalar)
                .unwrap_or_else(|| ".".to_owned()),
            dockerfile: build.get("dockerfile").and_then(scalar),
        }),
        NodeKind::Sequence(_) => None,
    });
    if let Some(ports) = body.get("ports") {
        service.ports_replace = matches!(ports.tag.as_deref(), Some("!reset" | "!override"));
        service.ports = ports.items().iter().filter_map(port_spec).collect();
    }
    if let Some(volumes) = body.get("volumes") {
        service.volumes = volumes.items().iter().filter_map(volume_spec).collect();
    }
    if let Some((key, value)) = body.get_entry("privileged") {
        service.privileged = value.as_bool().map(|on| (on, key.line));
    }
    service.read_only = body.get("read_only").and_then(Node::as_bool);
    service.cap_drop = body.get("cap_drop").map(strings).unwrap_or_default();
    service.security_opt = body.get("security_opt").map(strings).unwrap_or_default();
    if let Some(environment) = body.get("environment") {
        service.environment = env_settings(environment);
    }
    service.healthcheck = body.get("healthcheck").is_some_and(|check| {
        check.is_mapping()
            && check.get("disable").and_then(Node::as_bool) != Some(true)
            && check.get("test").and_then(|test| {
                test.items()
                    .first()
                    .and_then(Node::as_str)
                    .or(test.as_str())
            }) != Some("NONE")
    });
    service
}

fn port_spec(node: &Node) -> Option<PortSpec> {
    let form = match &node.kind {
        NodeKind::Scalar { text, .. } => PortForm::Short(text.clone()),
        NodeKind::Mapping(_) => PortForm::Long {
            host_ip: node.get("host_ip").and_then(scalar),
            published: node.get("published").and_then(scalar),
            target: node.get("target").and_then(scalar)?,
        },
        NodeKind::Sequence(_) => return None,
    };
    Some(PortSpec {
        line: node.line,
        form,
    })
}

fn volume_spec(node: &Node) -> Option<VolumeSpec> {
    match &node.kind {
        NodeKind::Scalar { text, .. } => {
            let parts: Vec<&str> = text.split(':').collect();
            let (source, target) = match parts.as_slice() {
                [target] => (None, (*target).to_owned()),
                [source, target, ..] => (Some((*source).to_owned()), (*target).to_owned()),
                [] => return None,
            };
            Some(VolumeSpec {
                line: node.line,
                source,
                target,
            })
        }
        NodeKind::Mapping(_) => Some(VolumeSpec {
            line: node.line,
            source: node.get("source").and_then(scalar),
            target: node.get("target").and_then(scalar).unwrap_or_default(),
        }),
        NodeKind::Sequence(_) => None,
    }
}

fn env_settings(node: &Node) -> Vec<EnvSetting> {
    match &node.kind {
        NodeKind::Mapping(entries) => entries
            .iter()
            .filter_map(|(key, value)| {
                Some(EnvSetting {
                    key: key.as_str()?.to_owned(),
                    value: scalar(value).or_else(|| (!value.is_null()).then(String::new)),
                    line: key.line,
                })
            })
            .collect(),
        NodeKind::Sequence(items) => items
            .iter()
            .filter_map(|item| {
                let text = item.as_str()?;
                Some(match text.split_once('=') {
                    Some((key, value)) => EnvSetting {
                        key: key.trim().to_owned(),
                        value: Some(value.to_owned()),
                        line: item.line,
                    },
                    None => EnvSetting {
                        key: text.trim().to_owned(),
                        value: None,
                        line: item.line,
                    },
                })
            })
            .collect(),
        NodeKind::Scalar { .. } => Vec::new(),
    }
}

/// Compose interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`, `${VAR:+a}`, `${VAR+a}`,
/// `${VAR:?e}` (nested defaults too). `lookup` gives a variable's value when known; unknown
/// variables are unset, as compose treats them. Returns the text and the unset names.
pub fn interpolate(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> (String, Vec<String>) {
    let mut unset = Vec::new();
    let out = interpolate_into(text, lookup, &mut unset, 0);
    (out, unset)
}

fn interpolate_into(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
    depth: usize,
) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(position) = rest.find('$') {
        out.push_str(&rest[..position]);
        let after = &rest[position + 1..];
        if let Some(next) = after.strip_prefix('$') {
            out.push('$');
            rest = next;
        } else if let Some(braced) = after.strip_prefix('{') {
            // Find the matching brace, allowing nested `${…}` in defaults.
            let mut level = 1usize;
            let mut end = None;
            for (index, c) in braced.char_indices() {
                match c {
                    '{' => level += 1,
                    '}' => {
                        level -= 1;
                        if level == 0 {
                            end = Some(index);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let Some(end) = end else {
                out.push_str(&rest[position..]);
                return out;
            };
            let inner = &braced[..end];
            let name_end = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            let (name, operator) = inner.split_at(name_end);
            let value = lookup(name);
            let nested = |text: &str, unset: &mut Vec<String>| {
                if depth < 8 {
                    interpolate_into(text, lookup, unset, depth + 1)
                } else {
                    text.to_owned()
                }
            };
            let resolved = if let Some(default) = operator.strip_prefix(":-") {
                match value.filter(|v| !v.is_empty()) {
                    Some(v) => v,
                    None => nested(default, unset),
                }
            } else if let Some(default) = operator.strip_prefix('-') {
                value.unwrap_or_else(|| nested(default, unset))
            } else if let Some(alternative) = operator.strip_prefix(":+") {
                if value.is_some_and(|v| !v.is_empty()) {
                    nested(alternative, unset)
                } else {
                    String::new()
                }
            } else if let Some(alternative) = operator.strip_prefix('+') {
                if value.is_some() {
                    nested(alternative, unset)
                } else {
                    String::new()
                }
            } else {
                // `${VAR}`, `${VAR:?err}`, `${VAR?err}`: the value, or unset.
                value.unwrap_or_else(|| {
                    unset.push(name.to_owned());
                    String::new()
                })
            };
            out.push_str(&resolved);
            rest = &braced[end + 1..];
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if end == 0 {
                out.push('$');
            } else {
                let name = &after[..end];
                match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => unset.push(name.to_owned()),
                }
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Splits a short-syntax mapping (already interpolated): `[HOST_IP:][PUBLISHED:]TARGET[/PROTO]`,
/// with `[v6]` or bare IPv6 host addresses.
pub fn parse_short_port(text: &str) -> Option<PortMapping> {
    let text = text.trim();
    let text = text
        .split_once('/')
        .map_or(text, |(mapping, _protocol)| mapping);
    if text.is_empty() {
        return None;
    }
    if let Some(bracketed) = text.strip_prefix('[') {
        let (ip, rest) = bracketed.split_once(']')?;
        let rest = rest.strip_prefix(':')?;
        let (published, target) = rest.split_once(':')?;
        return Some(PortMapping {
            host_ip: Some(ip.to_owned()),
            published: Some(published.to_owned()),
            target: target.to_owned(),
        });
    }
    let parts: Vec<&str> = text.split(':').collect();
    let mapping = match parts.as_slice() {
        [target] => PortMapping {
            host_ip: None,
            published: None,
            target: (*target).to_owned(),
        },
        [published, target] => PortMapping {
            host_ip: None,
            published: Some((*published).to_owned()),
            target: (*target).to_owned(),
        },
        [ip, published, target] => PortMapping {
            host_ip: Some((*ip).to_owned()),
            published: Some((*published).to_owned()),
            target: (*target).to_owned(),
        },
        [ip @ .., published, target] => PortMapping {
            host_ip: Some(ip.join(":")),
            published: Some((*published).to_owned()),
            target: (*target).to_owned(),
        },
        [] => return None,
    };
    Some(mapping)
}

impl PortMapping {
    /// Bound to loopback only, so unreachable from the network.
    pub fn loopback_only(&self) -> bool {
        self.host_ip.as_deref().map(str::trim).is_some_and(|ip| {
            let ip = ip.trim_start_matches('[').trim_end_matches(']');
            ip.starts_with("127.") || ip == "::1" || ip.eq_ignore_ascii_case("localhost")
        })
    }

    /// Container ports, expanding a `5432-5433` range (capped: no real range is large).
    pub fn target_ports(&self) -> Vec<u16> {
        port_range(&self.target)
    }
}

pub fn port_range(text: &str) -> Vec<u16> {
    let text = text.trim();
    match text.split_once('-') {
        Some((start, end)) => match (start.trim().parse::<u16>(), end.trim().parse::<u16>()) {
            (Ok(start), Ok(end)) if start <= end => (start..=end).take(1024).collect(),
            _ => Vec::new(),
        },
        None => text.parse::<u16>().into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::yaml;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn short_ports_in_every_form() {
        let parse = |text: &str| parse_short_port(text).unwrap();
        assert_eq!(parse("5432").published, None);
        assert_eq!(parse("8080:80").published.as_deref(), Some("8080"));
        let with_ip = parse("127.0.0.1:5432:5432/tcp");
        assert!(with_ip.loopback_only());
        assert_eq!(with_ip.target, "5432");
        assert_eq!(parse("127.0.0.1::80").published.as_deref(), Some(""));
        assert!(parse("[::1]:6379:6379").loopback_only());
        assert!(parse("::1:6379:6379").loopback_only());
        assert!(!parse("0.0.0.0:6379:6379").loopback_only());
        assert_eq!(parse("9000-9001:9000-9001").target_ports(), [9000, 9001]);
    }

    #[test]
    fn interpolation_follows_compose() {
        let env = |name: &str| (name == "SET").then(|| "value".to_owned());
        assert_eq!(
            interpolate("${UNSET:-127.0.0.1}:5432:5432", &no_env).0,
            "127.0.0.1:5432:5432"
        );
        assert_eq!(interpolate("${SET:-x}", &env).0, "value");
        assert_eq!(interpolate("$$HOME", &no_env).0, "$HOME");
        let (text, unset) = interpolate("${BIND}:6379:6379", &no_env);
        assert_eq!(
            (text.as_str(), unset),
            (":6379:6379", vec!["BIND".to_owned()])
        );
        assert_eq!(interpolate("${A:-${B:-nested}}", &no_env).0, "nested");
        assert_eq!(interpolate("${SET:+alt}|${UNSET:+alt}", &env).0, "alt|");
    }

    #[test]
    fn services_in_long_form() {
        let docs = yaml::parse(
            "services:\n  db:\n    image: postgres:16\n    ports:\n      - target: 5432\n        published: \"5432\"\n        host_ip: 0.0.0.0\n    environment:\n      POSTGRES_PASSWORD: postgres\n      PASSTHROUGH:\n    volumes:\n      - type: bind\n        source: /var/run/docker.sock\n        target: /var/run/docker.sock\n    privileged: true\n",
        )
        .unwrap();
        let file = from_yaml(&docs[0]).unwrap();
        let db = &file.services[0];
        assert_eq!((db.name.as_str(), db.line), ("db", 2));
        assert!(matches!(&db.ports[0].form, PortForm::Long { target, .. } if target == "5432"));
        assert_eq!(db.ports[0].line, 5);
        assert_eq!(db.environment[0].value.as_deref(), Some("postgres"));
        assert_eq!(db.environment[1].value, None);
        assert_eq!(
            db.volumes[0].source.as_deref(),
            Some("/var/run/docker.sock")
        );
        assert_eq!(db.privileged, Some((true, 15)));
    }

    #[test]
    fn malformed_services_are_errors() {
        let docs = yaml::parse("services: [a, b]\n").unwrap();
        assert!(from_yaml(&docs[0]).is_err());
    }
}
