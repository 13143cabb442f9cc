//! The client's IP address, for rate limits and logs.
//!
//! It is the socket peer. `Forwarded` / `X-Forwarded-For` are read only when the peer is one of
//! the `TRUSTED_PROXIES` ranges, and then from the right (the hop our proxy added) to the left,
//! stopping at the first address that is not a trusted proxy: entries a client wrote itself sit
//! further left and are never reached, so rotating the header cannot reset a limit.
//! The per-IP rate limiter (tower_governor) and the login throttle both call [`client_ip`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, header};
use forwarded_header_value::ForwardedHeaderValue;
use ipnet::IpNet;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

#[derive(Debug, thiserror::Error)]
#[error("`{range}` is not an IP address or CIDR range (e.g. 10.0.0.0/8, 172.18.0.2)")]
pub struct InvalidProxyRange {
    pub range: String,
}

/// The proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<Vec<IpNet>>);

impl TrustedProxies {
    /// Parses CIDR ranges; a bare address means just that host.
    pub fn parse(ranges: &[String]) -> Result<Self, InvalidProxyRange> {
        let parsed = ranges
            .iter()
            .map(|range| parse_range(range))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(Arc::new(parsed)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn ranges(&self) -> &[IpNet] {
        &self.0
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|range| range.contains(&ip))
    }
}

pub fn parse_range(range: &str) -> Result<IpNet, InvalidProxyRange> {
    let trimmed = range.trim();
    let invalid = || InvalidProxyRange {
        range: range.to_owned(),
    };
    if let Ok(net) = trimmed.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    trimmed
        .parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| invalid())
}

/// The client address of a request whose socket peer is `peer`.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    let Some(chain) = forwarded_chain(headers) else {
        return peer;
    };
    let mut client = peer;
    for hop in chain.into_iter().rev() {
        client = hop.to_canonical();
        if !trusted.contains(client) {
            return client;
        }
    }
    // Every hop is a proxy of ours: the left-most one is as close to the client as we know.
    client
}

/// Addresses of the forwarding chain, left (remotest) to right. `Forwarded` (RFC 7239) wins
/// over `X-Forwarded-For`. A chain that does not parse is ignored as a whole.
fn forwarded_chain(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let joined = |name| {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    if let Some(forwarded) = joined(header::FORWARDED.as_str()) {
        let parsed = ForwardedHeaderValue::from_forwarded(&forwarded).ok()?;
        return parsed
            .iter()
            .map(|stanza| stanza.forwarded_for_ip())
            .collect();
    }
    let forwarded_for = joined(X_FORWARDED_FOR)?;
    let parsed = ForwardedHeaderValue::from_x_forwarded_for(&forwarded_for).ok()?;
    parsed
        .iter()
        .map(|stanza| stanza.forwarded_for_ip())
        .collect()
}

/// The client address of `request`, from its connection info. Without connection info
/// (a router driven without a socket) every request shares the unspecified address, which
/// errs on the side of limiting.
pub fn client_ip<B>(request: &Request<B>, trusted: &TrustedProxies) -> IpAddr {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
    resolve(peer, request.headers(), trusted)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn trusted(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&ranges.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>())
            .expect("valid ranges")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid address")
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(
            resolve(ip("203.0.113.9"), &spoofed, &TrustedProxies::default()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_speak_for_others() {
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            resolve(ip("203.0.113.9"), &spoofed, &trusted(&["10.0.0.0/8"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() {
        // The client forged "1.2.3.4"; our proxy appended the real address.
        let forwarded = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.5")]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &forwarded, &trusted(&["10.0.0.0/8"])),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn the_forwarded_header_is_understood_and_preferred() {
        let forwarded = headers(&[
            ("forwarded", "for=1.2.3.4, for=\"[2001:db8::7]:4711\""),
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &forwarded, &trusted(&["10.0.0.2"])),
            ip("2001:db8::7")
        );
    }

    #[test]
    fn a_malformed_chain_falls_back_to_the_peer() {
        let garbage = headers(&[("x-forwarded-for", "not-an-ip, 1.2.3.4")]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &garbage, &trusted(&["10.0.0.0/8"])),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_ranges() {
        let forwarded = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(
            resolve(ip("::ffff:10.0.0.2"), &forwarded, &trusted(&["10.0.0.0/8"])),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn ranges_must_parse() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33".to_owned()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.internal".to_owned()]).is_err());
        assert!(TrustedProxies::parse(&["fd00::/8".to_owned(), "172.18.0.2".to_owned()]).is_ok());
    }
}
