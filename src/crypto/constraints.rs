//! Name constraints on the SIP URIs of a certificate, which OpenSSL cannot judge itself.
//!
//! OpenSSL (3.0 to 3.x) checks a URI constraint only against `scheme://host` URIs and answers
//! "unsupported name syntax" (error 53) for every `sip:` name, and it never holds a URI name
//! against a DNS constraint. So the store's issuing CA carries DNS subtrees (see
//! `store::x509`), and a certificate naming only `URI:sip:mallory@evil.example`, minted with a
//! stolen issuing key, would pass `openssl verify`. After OpenSSL has accepted a chain, this
//! module holds the host of every identity URI of the leaf (the schemes sipsec takes an
//! identity from: [`identity_uri_rest`]) against every CA of the chain that carries
//! nameConstraints, following RFC 5280 §4.2.1.10:
//! - a DNS subtree holds the name itself and every name below it (`example.com` holds
//!   `example.com` and `a.example.com`; an empty name holds every name);
//! - a URI subtree names one host (`example.com`), or with a leading dot every host below a
//!   domain but not the domain itself (`.example.com`);
//! - an iPAddress subtree (address and mask) holds the IP literals inside it;
//! - a host must lie in at least one permitted subtree of those three forms when the CA has
//!   any, and in no excluded one. Names compare case-insensitively, a trailing dot ignored.
//!
//! Other name forms (e-mail, directory names, DNS SANs) remain OpenSSL's to judge.

use super::der;
use crate::uri::{Host, Uri};
use openssl::x509::{X509Ref, X509};
use std::fmt;
use std::net::IpAddr;

/// The content octets of id-ce-nameConstraints (2.5.29.30).
const NAME_CONSTRAINTS_OID: [u8; 3] = [0x55, 0x1d, 0x1e];

/// One subtree that can bound the host of a URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subtree {
    /// dNSName: the name and every name below it (lower case, no trailing dot).
    Dns(String),
    /// uniformResourceIdentifier: a host, or with a leading dot every host below a domain.
    Uri(String),
    /// iPAddress: a network address and its mask, of equal length (4 or 16 octets).
    Ip { net: Vec<u8>, mask: Vec<u8> },
}

impl Subtree {
    fn contains(&self, host: &Host<'_>) -> bool {
        match (self, host) {
            (Subtree::Dns(base) | Subtree::Uri(base), Host::Name(name)) => {
                let name = normalise(name);
                if base.starts_with('.') {
                    // Hosts below the domain only: RFC 5280 for URIs, and how OpenSSL reads
                    // the same (non-standard) spelling of a DNS subtree.
                    return name.ends_with(base.as_str());
                }
                let below = || {
                    base.is_empty()
                        || name
                            .strip_suffix(base.as_str())
                            .is_some_and(|head| head.ends_with('.'))
                };
                name == *base || (matches!(self, Subtree::Dns(_)) && below())
            }
            (Subtree::Ip { net, mask }, Host::Ipv4(a)) => in_network(&a.octets(), net, mask),
            (Subtree::Ip { net, mask }, Host::Ipv6 { addr, .. }) => {
                in_network(&addr.octets(), net, mask)
            }
            // A domain name is never inside an address range, nor an address inside a domain.
            _ => false,
        }
    }
}

fn in_network(addr: &[u8], net: &[u8], mask: &[u8]) -> bool {
    addr.len() == net.len()
        && addr
            .iter()
            .zip(net)
            .zip(mask)
            .all(|((a, n), m)| a & m == n & m)
}

fn normalise(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl fmt::Display for Subtree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subtree::Dns(d) => write!(f, "DNS:{d}"),
            Subtree::Uri(u) => write!(f, "URI:{u}"),
            Subtree::Ip { net, mask } => {
                let text = |b: &[u8]| match <[u8; 4]>::try_from(b) {
                    Ok(v4) => IpAddr::from(v4).to_string(),
                    Err(_) => <[u8; 16]>::try_from(b)
                        .map_or_else(|_| "?".into(), |v6| IpAddr::from(v6).to_string()),
                };
                write!(f, "IP:{}/{}", text(net), text(mask))
            }
        }
    }
}

/// The subtrees of one CA's nameConstraints that can bound a URI host; subtrees of other name
/// forms are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameConstraints {
    pub permitted: Vec<Subtree>,
    pub excluded: Vec<Subtree>,
}

impl NameConstraints {
    /// Reads the extension's value (the DER of NameConstraints); `None` when it does not read.
    pub fn from_der(value: &[u8]) -> Option<NameConstraints> {
        let (outer, rest) = der::read(value, 0)?;
        if outer.tag != 0x30 || !rest.is_empty() {
            return None;
        }
        let mut nc = NameConstraints::default();
        for part in der::children(outer.content, 1)? {
            let list = match part.tag {
                0xa0 => &mut nc.permitted,
                0xa1 => &mut nc.excluded,
                _ => return None,
            };
            for subtree in der::children(part.content, 2)? {
                // GeneralSubtree ::= SEQUENCE { base GeneralName, minimum, maximum }: OpenSSL
                // has refused a chain whose minimum or maximum is set, so only the base counts.
                let (base, _) = der::read(subtree.content, 3).filter(|_| subtree.tag == 0x30)?;
                if let Some(s) = Self::subtree(base.tag, base.content) {
                    list.push(s?);
                }
            }
        }
        Some(nc)
    }

    /// A GeneralName as a subtree: `None` for a form that bounds no URI host, `Some(None)` for
    /// a malformed one.
    fn subtree(tag: u8, body: &[u8]) -> Option<Option<Subtree>> {
        let text = || {
            std::str::from_utf8(body)
                .ok()
                .filter(|t| t.is_ascii())
                .map(|t| t.strip_suffix('.').unwrap_or(t).to_ascii_lowercase())
        };
        match tag {
            0x82 => Some(text().map(Subtree::Dns)),
            0x86 => Some(text().map(Subtree::Uri)),
            0x87 => Some(match body.len() {
                8 | 32 => {
                    let (net, mask) = body.split_at(body.len() / 2);
                    Some(Subtree::Ip {
                        net: net.to_vec(),
                        mask: mask.to_vec(),
                    })
                }
                _ => None,
            }),
            _ => None,
        }
    }

    /// The nameConstraints of `cert`: `Ok(None)` when it has none, `Err` when the extension
    /// (or the certificate) does not read.
    pub fn of(cert: &X509Ref) -> Result<Option<NameConstraints>, NameViolation> {
        let der = cert.to_der().map_err(|_| NameViolation::Unreadable)?;
        match der::extension_value(&der, &NAME_CONSTRAINTS_OID) {
            Some(None) => Ok(None),
            Some(Some(value)) => NameConstraints::from_der(value)
                .map(Some)
                .ok_or(NameViolation::Unreadable),
            None => Err(NameViolation::Unreadable),
        }
    }

    /// Judges one URI name of a certificate by its host.
    pub fn judge_host(&self, uri: &str, host: &Host<'_>) -> Result<(), NameViolation> {
        if let Some(s) = self.excluded.iter().find(|s| s.contains(host)) {
            return Err(NameViolation::Excluded {
                uri: uri.to_string(),
                subtree: s.to_string(),
            });
        }
        if self.permitted.is_empty() || self.permitted.iter().any(|s| s.contains(host)) {
            return Ok(());
        }
        Err(NameViolation::NotPermitted {
            uri: uri.to_string(),
            permitted: self
                .permitted
                .iter()
                .map(Subtree::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    fn is_empty(&self) -> bool {
        self.permitted.is_empty() && self.excluded.is_empty()
    }
}

/// Why a certificate's name lies outside a CA's name constraints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameViolation {
    #[error("{uri} is outside the permitted subtrees {permitted}")]
    NotPermitted { uri: String, permitted: String },
    #[error("{uri} lies in the excluded subtree {subtree}")]
    Excluded { uri: String, subtree: String },
    #[error("{uri} has no host to hold against the name constraints")]
    NoHost { uri: String },
    #[error("the nameConstraints extension cannot be read")]
    Unreadable,
}

/// The `user@host` part of a certificate URI that names a SIP identity (`sip:`, `sips:`, and
/// the `im:`/`pres:` forms certgen adds), scheme case-insensitive; `None` for other URIs.
pub fn identity_uri_rest(uri: &str) -> Option<&str> {
    let (scheme, rest) = uri.split_once(':')?;
    ["sip", "sips", "im", "pres"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s))
        .then_some(rest)
}

/// Holds the leaf's identity URIs (`chain[0]`) against the name constraints of every CA above
/// it in a chain OpenSSL built and accepted. `Err` names the depth of the CA whose constraints
/// the first offending name breaks.
pub fn check_chain(chain: &[X509]) -> Result<(), (u32, NameViolation)> {
    let Some((leaf, cas)) = chain.split_first() else {
        return Ok(());
    };
    let mut constrained = Vec::new();
    for (depth, ca) in (1u32..).zip(cas) {
        match NameConstraints::of(ca) {
            Ok(Some(nc)) if !nc.is_empty() => constrained.push((depth, nc)),
            Ok(_) => {}
            Err(v) => return Err((depth, v)),
        }
    }
    if constrained.is_empty() {
        return Ok(());
    }
    let Some(names) = leaf.subject_alt_names() else {
        return Ok(());
    };
    for uri in names.iter().filter_map(|n| n.uri()) {
        let Some(rest) = identity_uri_rest(uri) else {
            continue;
        };
        // Held as a sip URI: the im:/pres: forms share its `user@host` shape.
        let as_sip = format!("sip:{rest}");
        let Some(host) = Uri::parse_str(&as_sip).ok().and_then(|u| u.host()) else {
            let depth = constrained.first().map_or(1, |(d, _)| *d);
            return Err((
                depth,
                NameViolation::NoHost {
                    uri: uri.to_string(),
                },
            ));
        };
        for (depth, nc) in &constrained {
            nc.judge_host(uri, &host).map_err(|v| (*depth, v))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkit::{Ca, KeyKind};

    fn dns(d: &str) -> Subtree {
        Subtree::Dns(d.into())
    }

    fn uri(u: &str) -> Subtree {
        Subtree::Uri(u.into())
    }

    fn ip(net: &[u8], mask: &[u8]) -> Subtree {
        Subtree::Ip {
            net: net.to_vec(),
            mask: mask.to_vec(),
        }
    }

    fn permitting(permitted: Vec<Subtree>) -> NameConstraints {
        NameConstraints {
            permitted,
            excluded: Vec::new(),
        }
    }

    fn judge(nc: &NameConstraints, host: &str) -> Result<(), NameViolation> {
        let h = crate::uri::parse_host(host, 0).unwrap();
        nc.judge_host(&format!("sip:x@{host}"), &h)
    }

    fn accepts(nc: &NameConstraints, host: &str) -> bool {
        judge(nc, host).is_ok()
    }

    #[test]
    fn no_constraints_accept_every_host() {
        let nc = NameConstraints::default();
        for h in ["evil.example", "192.0.2.1", "[2001:db8::1]"] {
            assert!(accepts(&nc, h), "{h}");
        }
    }

    #[test]
    fn a_dns_subtree_holds_the_name_and_every_name_below_it() {
        let nc = permitting(vec![dns("example.com")]);
        for h in ["example.com", "a.example.com", "a.b.example.com"] {
            assert!(accepts(&nc, h), "{h}");
        }
        for h in ["badexample.com", "example.com.evil", "evil.example", "com"] {
            assert!(!accepts(&nc, h), "{h}");
        }
        assert_eq!(
            judge(&nc, "evil.example"),
            Err(NameViolation::NotPermitted {
                uri: "sip:x@evil.example".into(),
                permitted: "DNS:example.com".into()
            })
        );
        // An empty DNS name holds every name.
        assert!(accepts(&permitting(vec![dns("")]), "anything.example"));
    }

    #[test]
    fn a_leading_dot_means_strictly_below() {
        for nc in [
            permitting(vec![uri(".example.com")]),
            permitting(vec![dns(".example.com")]),
        ] {
            assert!(accepts(&nc, "a.example.com"));
            assert!(accepts(&nc, "a.b.example.com"));
            assert!(!accepts(&nc, "example.com"));
            assert!(!accepts(&nc, "badexample.com"));
        }
    }

    #[test]
    fn a_uri_subtree_without_a_dot_is_exactly_one_host() {
        let nc = permitting(vec![uri("example.com")]);
        assert!(accepts(&nc, "example.com"));
        assert!(!accepts(&nc, "a.example.com"));
    }

    #[test]
    fn hosts_compare_case_insensitively_and_without_a_trailing_dot() {
        let nc = permitting(vec![dns("example.com"), uri("sip.example.org")]);
        for h in [
            "A.Example.COM",
            "EXAMPLE.COM",
            "example.com.",
            "SIP.example.ORG.",
        ] {
            assert!(accepts(&nc, h), "{h}");
        }
    }

    #[test]
    fn excluded_subtrees_refuse_and_win_over_permitted_ones() {
        let nc = NameConstraints {
            permitted: Vec::new(),
            excluded: vec![dns("evil.example")],
        };
        assert_eq!(
            judge(&nc, "x.Evil.Example"),
            Err(NameViolation::Excluded {
                uri: "sip:x@x.Evil.Example".into(),
                subtree: "DNS:evil.example".into()
            })
        );
        assert!(!accepts(&nc, "evil.example"));
        assert!(accepts(&nc, "good.example"));

        let nc = NameConstraints {
            permitted: vec![dns("example.com")],
            excluded: vec![uri(".staff.example.com")],
        };
        assert!(!accepts(&nc, "a.staff.example.com"));
        assert!(accepts(&nc, "staff.example.com"));
        assert!(accepts(&nc, "a.example.com"));
    }

    #[test]
    fn ip_hosts_are_never_inside_domain_subtrees() {
        let domain = permitting(vec![dns("example.com"), uri(".example.com")]);
        assert!(!accepts(&domain, "192.0.2.1"));
        assert!(!accepts(&domain, "[2001:db8::1]"));
        let excluded_domain = NameConstraints {
            permitted: Vec::new(),
            excluded: vec![dns("example.com")],
        };
        assert!(accepts(&excluded_domain, "192.0.2.1"));

        let net = permitting(vec![
            ip(&[192, 0, 2, 0], &[255, 255, 255, 0]),
            ip(
                &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ),
        ]);
        assert!(accepts(&net, "192.0.2.7"));
        assert!(accepts(&net, "[2001:db8::7]"));
        assert!(!accepts(&net, "198.51.100.1"));
        assert!(!accepts(&net, "[2001:db9::7]"));
        assert!(!accepts(&net, "example.com"));
    }

    #[test]
    fn the_extension_is_read_from_a_certificate() {
        let root = Ca::new(KeyKind::P256);
        assert_eq!(NameConstraints::of(&root.cert), Ok(None));
        let inter = root.constrained_sub_ca(
            KeyKind::P256,
            "critical,permitted;DNS:Example.COM,permitted;URI:.example.com,\
             permitted;IP:192.0.2.0/255.255.255.0,permitted;email:example.com,\
             excluded;DNS:bad.example.com",
        );
        let nc = NameConstraints::of(&inter.cert).unwrap().unwrap();
        assert_eq!(
            nc,
            NameConstraints {
                // The e-mail subtree bounds no URI host and is OpenSSL's to judge.
                permitted: vec![
                    dns("example.com"),
                    uri(".example.com"),
                    ip(&[192, 0, 2, 0], &[255, 255, 255, 0])
                ],
                excluded: vec![dns("bad.example.com")],
            }
        );
    }

    #[test]
    fn unreadable_extensions_are_refused() {
        for der in [
            &[][..],
            &[0x30, 0x03, 0xa2, 0x01, 0x00], // an unknown field
            &[0x30, 0x05, 0xa0, 0x03, 0x30, 0x01, 0x82], // a truncated name
            &[0x30, 0x06, 0xa0, 0x04, 0x30, 0x02, 0x87, 0x00], // an address of no length
            &[0x30, 0x00, 0x00],             // trailing octets
        ] {
            assert_eq!(NameConstraints::from_der(der), None, "{der:02x?}");
        }
        assert_eq!(
            NameConstraints::from_der(&[0x30, 0x00]),
            Some(NameConstraints::default())
        );
    }

    #[test]
    fn only_identity_uris_are_held_against_the_constraints() {
        assert_eq!(identity_uri_rest("sip:a@b"), Some("a@b"));
        assert_eq!(identity_uri_rest("SIPS:a@b"), Some("a@b"));
        assert_eq!(identity_uri_rest("im:a@b"), Some("a@b"));
        assert_eq!(identity_uri_rest("pres:a@b"), Some("a@b"));
        assert_eq!(identity_uri_rest("https://evil.example/"), None);
        assert_eq!(identity_uri_rest("tel:+15551234"), None);
    }

    #[test]
    fn a_chain_is_judged_by_every_constrained_ca_above_the_leaf() {
        let root = Ca::new(KeyKind::P256);
        let inter = root.constrained_sub_ca(KeyKind::P256, "critical,permitted;DNS:example.com");
        let chain = |ca: &Ca, san: &str| {
            let (leaf, _) = ca.leaf(KeyKind::P256, san);
            vec![leaf, ca.cert.clone(), root.cert.clone()]
        };
        assert_eq!(check_chain(&chain(&inter, "sip:alice@example.com")), Ok(()));
        assert_eq!(
            check_chain(&chain(&inter, "sips:alice@a.example.com")),
            Ok(())
        );
        // Not an identity: left to OpenSSL.
        assert_eq!(check_chain(&chain(&inter, "https://evil.example/")), Ok(()));
        for evil in [
            "sip:mallory@evil.example",
            "im:mallory@evil.example",
            "sip:mallory@192.0.2.1",
        ] {
            let r = check_chain(&chain(&inter, evil));
            assert!(
                matches!(&r, Err((1, NameViolation::NotPermitted { uri, .. })) if uri == evil),
                "{evil}: {r:?}"
            );
        }
        let r = check_chain(&chain(&inter, "sip:alice@"));
        assert!(matches!(r, Err((1, NameViolation::NoHost { .. }))), "{r:?}");

        // A constraint two levels up binds too, and its depth is named.
        let below = inter.sub_ca(KeyKind::P256);
        let (leaf, _) = below.leaf(KeyKind::P256, "sip:mallory@evil.example");
        let long = vec![
            leaf,
            below.cert.clone(),
            inter.cert.clone(),
            root.cert.clone(),
        ];
        assert!(matches!(check_chain(&long), Err((2, _))));

        // Without constraints anywhere, every name is fine; a lone leaf has no CA.
        let free = chain(&root.sub_ca(KeyKind::P256), "sip:mallory@evil.example");
        assert_eq!(check_chain(&free), Ok(()));
        assert_eq!(check_chain(&free[..1]), Ok(()));
        assert_eq!(check_chain(&[]), Ok(()));
    }
}
