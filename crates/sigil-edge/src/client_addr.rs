//! Which address a request comes from (docs/protocol.md §10): the socket peer, or, when
//! the peer is a configured trusted proxy, the right-most address of
//! `X-Forwarded-For` that is not itself a trusted proxy.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `::1/128`;
/// a bare address is a single host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    address: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// True when `ip` is inside this network. An IPv4-mapped IPv6 address
    /// counts as its IPv4 address.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| "not an IP address or CIDR network".to_owned())?;
        let address = canonical(address);
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("prefix length must be 0..={max}"))?,
        };
        Ok(Self { address, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// The unit in which clients are counted by rate limits and quotas: an
/// IPv4 address, or the /64 network of an IPv6 address (one subscriber's
/// allocation, whose 2^64 addresses one host can cycle through freely).
/// An IPv4-mapped IPv6 address counts as its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key `ip` is counted under.
    #[must_use]
    pub fn of(ip: IpAddr) -> Self {
        match canonical(ip) {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !u128::from(u64::MAX);
                Self(IpAddr::V6(bits.into()))
            }
            v4 @ IpAddr::V4(_) => Self(v4),
        }
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rest = prefix % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xFFu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

/// The client address of a request whose socket peer is `peer`.
#[must_use]
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    // Walk from the right: each hop was appended by the proxy before it.
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = canonical(ip);
        if !is_trusted(client) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn networks_parse_and_match() {
        let cases = [
            ("10.0.0.0/8", "10.1.2.3", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("192.168.1.128/25", "192.168.1.200", true),
            ("192.168.1.128/25", "192.168.1.100", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "::ffff:127.0.0.1", true),
            ("::1", "::1", true),
            ("fd00::/8", "fd12::1", true),
            ("0.0.0.0/0", "8.8.8.8", true),
            ("10.0.0.0/8", "::1", false),
        ];
        for (net, ip, expected) in cases {
            let net: IpNet = net.parse().unwrap();
            assert_eq!(net.contains(ip.parse().unwrap()), expected, "{net} {ip}");
        }
        for bad in ["10.0.0.0/33", "::/129", "x", "10.0.0.0/", "1.2.3.4/-1"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        let key = |ip: &str| ClientKey::of(ip.parse().unwrap());
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
        assert_ne!(key("127.0.0.1"), key("127.0.0.2"));
        assert_eq!(key("::ffff:127.0.0.1"), key("127.0.0.1"));
        assert_eq!(key("127.0.0.1").to_string(), "127.0.0.1");
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.7, 10.0.0.2".parse().unwrap());
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let untrusted: IpAddr = "198.51.100.1".parse().unwrap();
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_addr(peer, &headers, &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_addr(untrusted, &headers, &trusted), untrusted);
        assert_eq!(client_addr(peer, &headers, &[]), peer);
        // A spoofed left-most entry does not win over the real client.
        headers.insert("x-forwarded-for", "1.1.1.1, 203.0.113.9".parse().unwrap());
        assert_eq!(
            client_addr(peer, &headers, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // Garbage stops the walk at the last good hop.
        headers.insert("x-forwarded-for", "nonsense".parse().unwrap());
        assert_eq!(client_addr(peer, &headers, &trusted), peer);
    }
}
