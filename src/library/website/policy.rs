//! Which addresses the website import may fetch (B5): public `http(s)` hosts on the
//! default ports — never an address inside a private network, the machine itself, or a
//! name that only means something locally. In development `WEBSITE_IMPORT_ALLOW_HOSTS`
//! replaces that rule with a closed list of loopback `host:port`s (the tests' fixture
//! sites), so a local run or a test never reaches the internet either.
//!
//! The URL is parsed as browsers do (WHATWG, the `url` crate), so `http://2130706433/`,
//! `http://0x7f.1/` and `http://[::ffff:127.0.0.1]/` are seen as the loopback addresses
//! they are. A name that resolves to a private address cannot be seen here (the worker
//! does not resolve names); that is left to Cloudflare's edge (docs/PLATFORM.md).

use std::net::{Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// The longest URL accepted.
pub const MAX_URL_CHARS: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostPolicy {
    /// Empty: any public host on the default port. Otherwise only these (host, port).
    allowed: Vec<(String, u16)>,
}

/// Why a URL may not be fetched; `detail` is written for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unparseable,
    TooLong,
    NotHttp,
    Credentials,
    Port,
    PrivateAddress,
    LocalName,
    NotAllowed,
}

impl Refusal {
    pub fn detail(self) -> &'static str {
        match self {
            Refusal::Unparseable => "Enter the address of a web page, like https://example.com.",
            Refusal::TooLong => "That address is too long.",
            Refusal::NotHttp => "Only http and https addresses can be imported.",
            Refusal::Credentials => "Leave user names and passwords out of the address.",
            Refusal::Port => "Only addresses on the standard ports (80 and 443) can be imported.",
            Refusal::PrivateAddress => "That address is not on the public internet.",
            Refusal::LocalName => "That name is not a public web address.",
            Refusal::NotAllowed => "That host is not on this server's list of sites it may fetch.",
        }
    }
}

fn is_loopback_name(host: &str) -> bool {
    host == "localhost" || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback()) || host == "[::1]"
}

impl HostPolicy {
    /// Any public host (production).
    pub fn public() -> HostPolicy {
        HostPolicy::default()
    }

    pub fn is_closed_list(&self) -> bool {
        !self.allowed.is_empty()
    }

    /// `WEBSITE_IMPORT_ALLOW_HOSTS`: comma-separated loopback `host:port`s
    /// (`127.0.0.1:8123`, `localhost:9000`, `[::1]:80`). Anything else is refused.
    pub fn allow_list(raw: &str) -> Result<HostPolicy, String> {
        let mut allowed = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = || format!("expected loopback host:port entries like 127.0.0.1:8123, got {item:?}");
            let (host, port) = item.rsplit_once(':').ok_or_else(bad)?;
            let port = port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad)?;
            let host = host.to_ascii_lowercase();
            if !is_loopback_name(&host) {
                return Err(bad());
            }
            allowed.push((host, port));
        }
        if allowed.is_empty() {
            return Err("expected at least one host:port".into());
        }
        Ok(HostPolicy { allowed })
    }

    /// Parses what the user typed (a bare `example.com` means `https://example.com`) and
    /// checks it.
    pub fn parse(&self, raw: &str) -> Result<Url, Refusal> {
        let raw = raw.trim();
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(Refusal::TooLong);
        }
        if raw.is_empty() || raw.chars().any(char::is_control) {
            return Err(Refusal::Unparseable);
        }
        let with_scheme = if raw.contains("://") || raw.contains(':') && !raw.contains('.') { raw.to_owned() } else { format!("https://{raw}") };
        let url = Url::parse(&with_scheme).map_err(|_| Refusal::Unparseable)?;
        self.check(&url)?;
        Ok(url)
    }

    /// Where a redirect leads, checked like the first address.
    pub fn follow(&self, from: &Url, location: &str) -> Result<Url, Refusal> {
        if location.chars().count() > MAX_URL_CHARS {
            return Err(Refusal::TooLong);
        }
        let url = from.join(location.trim()).map_err(|_| Refusal::Unparseable)?;
        self.check(&url)?;
        Ok(url)
    }

    pub fn check(&self, url: &Url) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::NotHttp);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Credentials);
        }
        let host = url.host().ok_or(Refusal::Unparseable)?;
        if self.is_closed_list() {
            let name = url.host_str().unwrap_or("").to_ascii_lowercase();
            let port = url.port_or_known_default().unwrap_or(0);
            return if self.allowed.iter().any(|(h, p)| *h == name && *p == port) { Ok(()) } else { Err(Refusal::NotAllowed) };
        }
        if url.port().is_some() {
            // `url` drops a port that is the scheme's default, so any port here is another.
            return Err(Refusal::Port);
        }
        match host {
            Host::Ipv4(ip) => public_v4(ip).then_some(()).ok_or(Refusal::PrivateAddress),
            Host::Ipv6(ip) => public_v6(ip).then_some(()).ok_or(Refusal::PrivateAddress),
            Host::Domain(name) => public_name(name).then_some(()).ok_or(Refusal::LocalName),
        }
    }
}

/// A name that can only mean something on a local network is refused, as is a single
/// label (`intranet`), which resolvers complete with local search domains.
fn public_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    const LOCAL_SUFFIXES: [&str; 8] = ["localhost", "local", "internal", "intranet", "lan", "home", "corp", "home.arpa"];
    !name.is_empty()
        && name.contains('.')
        && !LOCAL_SUFFIXES.iter().any(|s| name == *s || name.ends_with(&format!(".{s}")))
        && !name.ends_with(".arpa")
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

/// Globally routable unicast IPv4 only.
pub fn public_v4(ip: Ipv4Addr) -> bool {
    const BLOCKED: [([u8; 4], u32); 15] = [
        ([0, 0, 0, 0], 8),       // "this network"
        ([10, 0, 0, 0], 8),      // private
        ([100, 64, 0, 0], 10),   // carrier-grade NAT
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link-local (cloud metadata lives here)
        ([172, 16, 0, 0], 12),   // private
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // documentation
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast
        ([192, 168, 0, 0], 16),  // private
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // documentation
        ([203, 0, 113, 0], 24),  // documentation
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved and broadcast
    ];
    !BLOCKED.iter().any(|(net, bits)| in_v4(ip, *net, *bits))
}

/// Global unicast IPv6 (2000::/3) minus documentation, Teredo and 6to4 that wraps a
/// non-public IPv4; mapped and translated IPv4 (`::ffff:…`, `64:ff9b::…`) are judged by
/// the IPv4 inside.
pub fn public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return public_v4(v4);
    }
    let s = ip.segments();
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    if s[0] & 0xe000 != 0x2000 {
        return false; // loopback, unspecified, ULA fc00::/7, link-local fe80::/10, multicast…
    }
    if s[0] == 0x2001 && (s[1] == 0x0db8 || s[1] == 0) {
        return false; // documentation, Teredo
    }
    if s[0] == 0x2002 {
        return public_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(raw: &str) -> Result<String, Refusal> {
        HostPolicy::public().parse(raw).map(|u| u.to_string())
    }

    #[test]
    fn public_https_and_http_addresses_are_accepted_and_bare_names_get_https() {
        assert_eq!(public("https://example.com/about").unwrap(), "https://example.com/about");
        assert_eq!(public("http://example.com").unwrap(), "http://example.com/");
        assert_eq!(public("example.com").unwrap(), "https://example.com/");
        assert_eq!(public("https://example.com:443/").unwrap(), "https://example.com/");
        assert_eq!(public("http://93.184.215.14/").unwrap(), "http://93.184.215.14/");
        assert_eq!(public("https://[2606:4700::1111]/").unwrap(), "https://[2606:4700::1111]/");
    }

    #[test]
    fn private_loopback_link_local_and_cgnat_addresses_are_refused_in_any_spelling() {
        for raw in [
            "http://127.0.0.1/", "http://127.1/", "http://2130706433/", "http://0x7f.0.0.1/", "http://0177.0.0.1/",
            "http://10.1.2.3/", "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/", "http://0.0.0.0/", "http://[::1]/", "http://[::]/", "http://[fd00::1]/", "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/", "http://[64:ff9b::a00:1]/", "http://[2002:c0a8:0101::1]/",
            "http://224.0.0.1/", "http://255.255.255.255/",
        ] {
            assert_eq!(public(raw), Err(Refusal::PrivateAddress), "{raw}");
        }
    }

    #[test]
    fn local_names_other_schemes_credentials_and_other_ports_are_refused() {
        for raw in ["http://localhost/", "http://LOCALHOST./", "http://printer.local/", "http://db.internal/", "http://intranet/", "http://app.localhost/"] {
            assert_eq!(public(raw), Err(Refusal::LocalName), "{raw}");
        }
        for raw in ["ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "javascript:alert(1)", "data:text/html,hi"] {
            assert!(matches!(public(raw), Err(Refusal::NotHttp | Refusal::Unparseable)), "{raw}");
        }
        assert_eq!(public("https://user:pw@example.com/"), Err(Refusal::Credentials));
        assert_eq!(public("https://user@example.com/"), Err(Refusal::Credentials));
        assert_eq!(public("https://example.com:8443/"), Err(Refusal::Port));
        assert_eq!(public("http://example.com:443/"), Err(Refusal::Port));
        assert_eq!(public(""), Err(Refusal::Unparseable));
        assert_eq!(public(&format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS))), Err(Refusal::TooLong));
    }

    #[test]
    fn an_allow_list_is_a_closed_list_of_loopback_host_ports() {
        let policy = HostPolicy::allow_list("127.0.0.1:8123, localhost:9000").unwrap();
        assert!(policy.parse("http://127.0.0.1:8123/site/").is_ok());
        assert!(policy.parse("http://localhost:9000/").is_ok());
        assert_eq!(policy.parse("http://127.0.0.1:8124/"), Err(Refusal::NotAllowed));
        assert_eq!(policy.parse("https://example.com/"), Err(Refusal::NotAllowed), "not the internet either");
        assert_eq!(policy.parse("http://u:p@127.0.0.1:8123/"), Err(Refusal::Credentials));
        for bad in ["", "example.com:80", "10.0.0.1:80", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999"] {
            assert!(HostPolicy::allow_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirects_are_resolved_against_the_page_and_checked_again() {
        let policy = HostPolicy::allow_list("127.0.0.1:8123").unwrap();
        let from = policy.parse("http://127.0.0.1:8123/a/b").unwrap();
        assert_eq!(policy.follow(&from, "/c").unwrap().as_str(), "http://127.0.0.1:8123/c");
        assert_eq!(policy.follow(&from, "http://127.0.0.1:8999/secret"), Err(Refusal::NotAllowed));
        let from = public("https://example.com/").unwrap();
        let from = Url::parse(&from).unwrap();
        assert_eq!(HostPolicy::public().follow(&from, "http://169.254.169.254/"), Err(Refusal::PrivateAddress));
        assert!(HostPolicy::public().follow(&from, "https://www.example.org/").is_ok());
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{bytes, config, tricky_text};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(config())]

            /// Whatever is typed, an accepted URL is http(s), without credentials, on a
            /// default port, and its host is a public name or a public address.
            #[test]
            fn an_accepted_url_is_always_public(raw in prop_oneof![
                tricky_text(60),
                bytes(60).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
                "(https?|ftp)://[a-z0-9.:@\\[\\]%-]{0,30}(/[a-z]{0,5})?",
                (any::<[u8; 4]>(), proptest::option::of(any::<u16>())).prop_map(|(ip, port)| format!("http://{}{}/", Ipv4Addr::from(ip), port.map_or(String::new(), |p| format!(":{p}")))),
                any::<[u16; 8]>().prop_map(|s| format!("https://[{}]/", Ipv6Addr::from(s))),
            ]) {
                if let Ok(url) = HostPolicy::public().parse(&raw) {
                    prop_assert!(matches!(url.scheme(), "http" | "https"));
                    prop_assert!(url.username().is_empty() && url.password().is_none());
                    prop_assert_eq!(url.port(), None);
                    match url.host().unwrap() {
                        Host::Ipv4(ip) => prop_assert!(!ip.is_private() && !ip.is_loopback() && !ip.is_link_local() && !ip.is_unspecified() && !ip.is_broadcast(), "{}", ip),
                        Host::Ipv6(ip) => prop_assert!(!ip.is_loopback() && !ip.is_unspecified() && (ip.segments()[0] & 0xfe00) != 0xfc00 && (ip.segments()[0] & 0xffc0) != 0xfe80, "{}", ip),
                        Host::Domain(d) => prop_assert!(d.contains('.') && !d.trim_end_matches('.').ends_with("localhost"), "{}", d),
                    }
                }
            }

            /// With an allow list, nothing outside it is ever accepted, whatever the redirect says.
            #[test]
            fn a_closed_list_never_lets_another_host_through(location in prop_oneof![tricky_text(40), "(https?:)?//[a-z0-9.:]{0,20}/?[a-z]{0,4}"]) {
                let policy = HostPolicy::allow_list("127.0.0.1:8123").unwrap();
                let from = policy.parse("http://127.0.0.1:8123/").unwrap();
                if let Ok(url) = policy.follow(&from, &location) {
                    prop_assert_eq!(url.host_str(), Some("127.0.0.1"));
                    prop_assert_eq!(url.port_or_known_default(), Some(8123));
                }
            }
        }
    }
}
