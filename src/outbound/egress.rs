//! Egress policy: where a tenant may point the server. Loopback, private, link-local, shared,
//! multicast and cloud-metadata addresses are refused unless the operator allowed them.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Default)]
pub(crate) struct EgressPolicy {
    allow: Vec<IpNet>,
}

impl EgressPolicy {
    pub(super) fn new(allow: Vec<IpNet>) -> Self {
        Self { allow }
    }

    /// Whether the operator listed this address in `CONNECTOR_HUB_EGRESS_ALLOW`.
    pub(crate) fn explicitly_allowed(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allow.iter().any(|net| net.contains(&ip))
    }

    pub(super) fn allows(&self, ip: IpAddr) -> bool {
        self.explicitly_allowed(ip) || is_public(canonical(ip))
    }
}

/// IPv4 addresses hidden inside IPv6 forms (mapped, compatible, NAT64) are judged as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    // ::a.b.c.d (deprecated IPv4-compatible; not :: or ::1) and the NAT64 prefix 64:ff9b::/96.
    let compatible = s[..6].iter().all(|&x| x == 0) && (s[6] != 0 || s[7] > 1);
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0);
    if compatible || nat64 {
        return Some(tail);
    }
    // 6to4 (2002::/16) carries its IPv4 address in bits 16-47.
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    // NAT64 for local use (64:ff9b:1::/48, RFC 8215) may carry the IPv4 address in any of the
    // RFC 6052 layouts; the /96 one (the last 32 bits) is the one translators use, and any
    // address in the range is judged by it — and never counts as public on its own.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return Some(tail);
    }
    None
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || (a == 198 && (18..20).contains(&b)) // benchmarking
                || a >= 240) // reserved
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local, incl. AWS fd00:ec2::254
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn internal_addresses_are_blocked_by_default() {
        let p = EgressPolicy::default();
        for blocked in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101:1::1",
            "64:ff9b:1::a00:1",
            "64:ff9b:1::7f00:1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
        ] {
            assert!(!p.allows(ip(blocked)), "{blocked} must be blocked");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::6810:84e5",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
        ] {
            assert!(p.allows(ip(public)), "{public} is public");
        }
    }

    #[test]
    fn the_operator_can_allow_a_network() {
        let p = EgressPolicy::new(vec![
            "127.0.0.0/8".parse().expect("net"),
            "::1/128".parse().expect("net"),
        ]);
        assert!(p.allows(ip("127.0.0.1")));
        assert!(
            p.allows(ip("::ffff:127.0.0.1")),
            "mapped form follows the v4 rule"
        );
        assert!(p.allows(ip("::1")));
        assert!(!p.allows(ip("10.0.0.1")));
        assert!(p.explicitly_allowed(ip("127.0.0.1")));
        assert!(!p.explicitly_allowed(ip("8.8.8.8")));
    }
}
