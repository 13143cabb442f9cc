//! The probed host: URL validation, name resolution and the loopback/private-only safety rule.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use url::Url;

use super::ProbeError;

/// Where attack traffic may go without `--allow-public`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Loopback,
    /// RFC 1918 and IPv6 unique-local addresses.
    Private,
    /// Link-local (169.254.0.0/16, fe80::/10) and the cloud metadata addresses outside it
    /// (fd00:ec2::254, 100.100.100.200): refused even with `--allow-public`, since a metadata
    /// service answers there with the host's cloud credentials.
    LinkLocal,
    /// Everything else.
    Public,
    /// 0.0.0.0 / `::` — a bind address, not a destination.
    Unspecified,
}

const PRIVATE_RANGES: [&str; 4] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

const LINK_LOCAL_RANGES: [&str; 2] = ["169.254.0.0/16", "fe80::/10"];

/// Metadata services outside the link-local ranges (AWS over IPv6, Alibaba Cloud).
const METADATA_ADDRESSES: [&str; 2] = ["fd00:ec2::254", "100.100.100.200"];

/// Which address classes a run may attack besides loopback and private ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allowed {
    pub public: bool,
    pub link_local: bool,
}

pub fn classify(address: IpAddr) -> AddressClass {
    // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) goes where its IPv4 address goes.
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    };
    if address.is_unspecified() {
        return AddressClass::Unspecified;
    }
    if address.is_loopback() {
        return AddressClass::Loopback;
    }
    let metadata = METADATA_ADDRESSES
        .iter()
        .filter_map(|text| text.parse::<IpAddr>().ok())
        .any(|known| known == address);
    let link_local = LINK_LOCAL_RANGES
        .iter()
        .filter_map(|range| range.parse::<IpNet>().ok())
        .any(|range| range.contains(&address));
    if metadata || link_local {
        return AddressClass::LinkLocal;
    }
    let private = PRIVATE_RANGES
        .iter()
        .filter_map(|range| range.parse::<IpNet>().ok())
        .any(|range| range.contains(&address));
    if private {
        AddressClass::Private
    } else {
        AddressClass::Public
    }
}

/// A validated, resolved target. Requests are pinned to `addresses`, so a DNS answer that changes
/// between the check and the attack (rebinding) cannot redirect the traffic.
#[derive(Debug, Clone)]
pub struct Target {
    pub base: Url,
    /// Host as written in the URL (no brackets around IPv6).
    pub host: String,
    pub port: u16,
    pub addresses: Vec<IpAddr>,
    pub https: bool,
}

impl Target {
    /// True when every address of the target is loopback (the ports probe lowers its severity).
    pub fn is_loopback(&self) -> bool {
        self.addresses
            .iter()
            .all(|address| classify(*address) == AddressClass::Loopback)
    }

    pub fn socket_addresses(&self) -> Vec<SocketAddr> {
        self.addresses
            .iter()
            .map(|address| SocketAddr::new(*address, self.port))
            .collect()
    }

    /// `host[:port]`, the authority CORS origins are built from.
    pub fn authority(&self) -> String {
        let host = self.base.host_str().unwrap_or(&self.host);
        match self.base.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }
}

/// Parses the base URL (http or https, with a host, no query or fragment).
pub fn parse_base_url(text: &str) -> Result<Url, ProbeError> {
    let invalid = |reason: &str| ProbeError::InvalidUrl {
        url: text.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(text.trim()).map_err(|error| invalid(&error.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "give the API's base URL without a query or fragment",
        ));
    }
    Ok(url)
}

/// Resolves the host and applies the safety rule to every address it resolves to.
pub async fn resolve(base: Url, allowed: Allowed) -> Result<Target, ProbeError> {
    let host = match base.host() {
        Some(url::Host::Ipv6(address)) => address.to_string(),
        Some(url::Host::Ipv4(address)) => address.to_string(),
        Some(url::Host::Domain(name)) => name.to_owned(),
        None => {
            return Err(ProbeError::InvalidUrl {
                url: base.to_string(),
                reason: "the URL has no host".to_owned(),
            });
        }
    };
    let port = base.port_or_known_default().unwrap_or(80);
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(address) => vec![address],
        Err(_) => {
            let resolved = tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|source| ProbeError::Resolve {
                    host: host.clone(),
                    source,
                })?;
            let mut addresses: Vec<IpAddr> = resolved.map(|socket| socket.ip()).collect();
            addresses.sort();
            addresses.dedup();
            addresses
        }
    };
    if addresses.is_empty() {
        return Err(ProbeError::Resolve {
            host,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
        });
    }
    for address in &addresses {
        match classify(*address) {
            AddressClass::Loopback | AddressClass::Private => {}
            AddressClass::Unspecified => {
                return Err(ProbeError::InvalidUrl {
                    url: base.to_string(),
                    reason: format!(
                        "{address} is a bind address, not a destination; use 127.0.0.1 or the host's address"
                    ),
                });
            }
            AddressClass::LinkLocal if allowed.link_local => {}
            AddressClass::LinkLocal => {
                return Err(ProbeError::LinkLocalTarget {
                    host: host.clone(),
                    address: *address,
                });
            }
            AddressClass::Public if allowed.public => {}
            AddressClass::Public => {
                return Err(ProbeError::PublicTarget {
                    host: host.clone(),
                    address: *address,
                });
            }
        }
    }
    Ok(Target {
        https: base.scheme() == "https",
        base,
        host,
        port,
        addresses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> AddressClass {
        classify(text.parse().unwrap_or(IpAddr::from([203, 0, 113, 1])))
    }

    #[test]
    fn loopback_and_private_ranges_are_allowed_targets() {
        assert_eq!(class("127.0.0.2"), AddressClass::Loopback);
        assert_eq!(class("::1"), AddressClass::Loopback);
        assert_eq!(class("::ffff:127.0.0.1"), AddressClass::Loopback);
        assert_eq!(class("10.1.2.3"), AddressClass::Private);
        assert_eq!(class("172.31.255.1"), AddressClass::Private);
        assert_eq!(class("192.168.0.10"), AddressClass::Private);
        assert_eq!(class("fd00::1"), AddressClass::Private);
        assert_eq!(class("::ffff:192.168.1.1"), AddressClass::Private);
    }

    #[test]
    fn public_link_local_and_unspecified_addresses_are_refused() {
        assert_eq!(class("8.8.8.8"), AddressClass::Public);
        assert_eq!(class("172.32.0.1"), AddressClass::Public);
        assert_eq!(class("169.254.169.254"), AddressClass::LinkLocal);
        assert_eq!(class("fe80::1"), AddressClass::LinkLocal);
        assert_eq!(class("fd00:ec2::254"), AddressClass::LinkLocal);
        assert_eq!(class("fd00:ec2::253"), AddressClass::Private);
        assert_eq!(class("2001:db8::1"), AddressClass::Public);
        assert_eq!(class("0.0.0.0"), AddressClass::Unspecified);
    }

    #[test]
    fn base_url_must_be_http_with_a_host() {
        assert!(parse_base_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_base_url("https://[::1]:8443/").is_ok());
        assert!(parse_base_url("ftp://127.0.0.1").is_err());
        assert!(parse_base_url("127.0.0.1:8080").is_err());
        assert!(parse_base_url("not a url").is_err());
        assert!(parse_base_url("http://127.0.0.1/?q=1").is_err());
    }

    #[tokio::test]
    async fn public_addresses_need_allow_public() {
        let public = parse_base_url("http://93.184.215.14/").ok();
        let Some(public) = public else {
            panic!("URL should parse");
        };
        let refused = resolve(public.clone(), Allowed::default()).await;
        assert!(matches!(refused, Err(ProbeError::PublicTarget { .. })));
        // Resolution only: nothing is sent, so this stays offline.
        let public_allowed = Allowed {
            public: true,
            link_local: false,
        };
        assert!(resolve(public, public_allowed).await.is_ok());
        let local = parse_base_url("http://localhost:1/").ok();
        let Some(local) = local else {
            panic!("URL should parse");
        };
        let resolved = resolve(local, Allowed::default()).await;
        assert!(resolved.is_ok_and(|target| target.is_loopback()));
    }

    #[tokio::test]
    async fn link_local_and_metadata_addresses_need_their_own_flag() {
        let Ok(metadata) = parse_base_url("http://169.254.169.254/") else {
            panic!("URL should parse");
        };
        let public_allowed = Allowed {
            public: true,
            link_local: false,
        };
        let refused = resolve(metadata.clone(), public_allowed).await;
        assert!(matches!(refused, Err(ProbeError::LinkLocalTarget { .. })));
        let Ok(v6) = parse_base_url("http://[fe80::1]:8080/") else {
            panic!("URL should parse");
        };
        assert!(matches!(
            resolve(v6.clone(), public_allowed).await,
            Err(ProbeError::LinkLocalTarget { .. })
        ));
        // Resolution only: nothing is sent.
        let link_local_allowed = Allowed {
            public: false,
            link_local: true,
        };
        assert!(resolve(metadata, link_local_allowed).await.is_ok());
        assert!(resolve(v6, link_local_allowed).await.is_ok());
    }
}
