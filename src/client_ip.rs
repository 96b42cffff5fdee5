//! The client's address (DESIGN §10): the socket peer, or, when the peer is a trusted proxy
//! (`TOKEND_TRUSTED_PROXIES`), the first untrusted address of the forwarding header
//! (`TOKEND_CLIENT_IP_HEADER`, by default `x-forwarded-for`) read from the right. Rate limits,
//! usage tracking and audit events all use it.

use std::net::IpAddr;

use ipnet::IpNet;

/// Where the client's address comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIpSettings {
    /// Proxies whose forwarding header is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The forwarding header they set (lowercase).
    pub header: String,
}

impl ClientIpSettings {
    /// The client behind `peer`, given the forwarding header's value (`forwarded`). A header
    /// from an untrusted peer is ignored (anyone can write one); from a trusted one, the
    /// rightmost address that is not itself a trusted proxy is the client (addresses further
    /// left were written by the client and prove nothing). An unreadable entry stops the walk
    /// at the last trusted hop.
    #[must_use]
    pub fn resolve(&self, peer: Option<IpAddr>, forwarded: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut client = peer;
        for entry in forwarded.unwrap_or_default().rsplit(',') {
            let Some(hop) = parse_hop(entry.trim()) else {
                break;
            };
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        Some(client)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|network| network.contains(&address))
    }
}

/// One entry of a forwarding header: an address, possibly with a port (`203.0.113.9:5000`,
/// `[2001:db8::1]:443`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    if let Ok(address) = entry.parse() {
        return Some(address);
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(trusted: &[&str]) -> ClientIpSettings {
        ClientIpSettings {
            trusted_proxies: trusted.iter().filter_map(|n| n.parse().ok()).collect(),
            header: "x-forwarded-for".into(),
        }
    }

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let none = settings(&[]);
        assert_eq!(
            none.resolve(ip("198.51.100.7"), Some("203.0.113.9")),
            ip("198.51.100.7")
        );
        assert_eq!(none.resolve(None, Some("203.0.113.9")), None);
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let proxies = settings(&["10.0.0.0/8", "127.0.0.1/32"]);
        assert_eq!(
            proxies.resolve(ip("127.0.0.1"), Some("6.6.6.6, 203.0.113.9, 10.1.2.3")),
            ip("203.0.113.9"),
            "a spoofed leftmost entry is not believed"
        );
        assert_eq!(
            proxies.resolve(ip("10.0.0.1"), Some("[2001:db8::1]:443")),
            ip("2001:db8::1")
        );
        assert_eq!(
            proxies.resolve(ip("10.0.0.1"), Some("203.0.113.9:5000")),
            ip("203.0.113.9")
        );
        assert_eq!(proxies.resolve(ip("10.0.0.1"), None), ip("10.0.0.1"));
        assert_eq!(
            proxies.resolve(ip("10.0.0.1"), Some("garbage, 10.0.0.2")),
            ip("10.0.0.2"),
            "an unreadable entry stops the walk at the last trusted hop"
        );
    }
}
