//! Member authentication at the relay: SIP digest (RFC 3261 §22, RFC 7616, RFC 8760) and the
//! attribution of messages to the member who authenticated.
//!
//! Sans-IO like the routing core: [`Authenticator::check`] is given a request as it arrived,
//! where from, the members' secrets and the time, and says whether the request comes from an
//! authenticated member, needs no authentication, or is to be answered (a challenge, or a
//! refusal) and after how long.
//!
//! - [`digest`]: the algorithms and the credentials a client sends.
//! - [`nonce`]: stateless nonces (a keyed MAC over the issue time, bound to the UDP source).
//! - [`replay`]: the bounded table of nonce-counts seen per live nonce.
//! - [`throttle`]: repeated failures slowed, then refused, in bounded tables.
//! - [`credentials`]: the members' HA1 file, checked as a key and re-read on change.
//! - [`attribution`]: "from member X", for requests and for responses over a member's flow.
//! - [`audit`]: the log of signatures made as a group for a member.
//! - [`gate`]: what the relay core holds: all of the above, the members' flows, counters.
//!
//! Which requests are challenged: those whose From (for REGISTER, To) is in one of the relay's
//! own domains, except ACK and CANCEL, which cannot be challenged (RFC 3261 §22.1). The realm
//! is the domain's name. One challenge per algorithm, strongest first, all with the same nonce
//! (RFC 8760 §2.3); offering SHA-256 alone would shut out the many clients that only know MD5.
//!
//! What digest does not do: `qop=auth` covers the method and Request-URI, not the headers or
//! the body, so a man in the middle between a member and the relay could alter an
//! authenticated request before the relay signs it as the group. Members reach the relay over
//! TLS where that matters. And a challenge offers MD5 beside SHA-256 under one nonce, so an
//! attacker on the path can strip the SHA-256 challenge; a member whose clients all know
//! SHA-256 is kept from MD5 by leaving its MD5 line out of the credentials file.

pub mod attribution;
pub mod audit;
pub mod credentials;
pub mod digest;
pub mod gate;
pub mod nonce;
pub mod replay;
#[cfg(test)]
pub(crate) mod testing;
pub mod throttle;

use crate::header::{parse_auth_list, Auth};
use crate::message::Message;
use crate::relay::{Peer, Transport};
use crate::uri::{Aor, Host, Scheme, Uri};
use crate::HeaderKind;
use attribution::{Attribution, Basis};
use credentials::Members;
use digest::{Algorithm, CredentialsError, DigestCredentials};
use nonce::{NonceCheck, NonceKey};
use replay::{CountCheck, NonceCounts};
use std::net::SocketAddr;
use throttle::{Gate, Throttle, ThrottleConfig};

/// The authenticator's settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The domains whose members must authenticate (lower case); each is its own realm.
    pub domains: Vec<String>,
    /// The relay's own addresses: credentials whose `uri` names one of them (or one of the
    /// domains) are accepted whatever the Request-URI, as many clients (SIPp among them) put
    /// the address they send to there.
    pub own_addresses: Vec<SocketAddr>,
    /// The algorithms offered, preferred first.
    pub algorithms: Vec<Algorithm>,
    /// How long a nonce is good for, seconds.
    pub nonce_lifetime: u64,
    /// Live nonces whose counts are remembered.
    pub nonce_counts: usize,
    pub throttle: ThrottleConfig,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            domains: Vec::new(),
            own_addresses: Vec::new(),
            algorithms: Algorithm::ALL.to_vec(),
            nonce_lifetime: 300,
            nonce_counts: 1 << 16,
            throttle: ThrottleConfig::default(),
        }
    }
}

/// Why a request was not authenticated. Each is counted and logged apart; on the wire an
/// unknown user and a wrong password look the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No credentials for our realm: the first challenge.
    NoCredentials,
    /// More than one set of credentials for our realm.
    Ambiguous,
    /// Credentials for our realm that cannot be read.
    Malformed(CredentialsError),
    /// The nonce is not ours (another key or realm, altered, or made up).
    ForeignNonce,
    /// The nonce was handed to another address, or not for UDP.
    WrongSource,
    /// The digest was right but the nonce is too old: answered `stale=true`.
    Expired,
    /// The digest was right but this nonce-count was used before: answered `stale=true`.
    ReplayedCount,
    /// The `uri` of the credentials names neither the Request-URI nor the relay.
    UriMismatch,
    /// No member has this username in this realm.
    UnknownUser,
    /// An algorithm the relay does not offer.
    AlgorithmNotOffered,
    /// An algorithm the member has no secret for (its credentials leave it out).
    AlgorithmNotAllowed,
    /// The response does not verify: a wrong password.
    WrongPassword,
    /// The member authenticated, but the request claims to come from someone else (neither
    /// the member nor its group).
    NotTheMember,
    /// Too many failures from this source or for this user: refused for a while.
    Throttled,
}

impl Refusal {
    /// A short name for logs and counters.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::NoCredentials => "no-credentials",
            Refusal::Ambiguous => "ambiguous-credentials",
            Refusal::Malformed(_) => "malformed-credentials",
            Refusal::ForeignNonce => "foreign-nonce",
            Refusal::WrongSource => "nonce-wrong-source",
            Refusal::Expired => "nonce-expired",
            Refusal::ReplayedCount => "nonce-count-replayed",
            Refusal::UriMismatch => "uri-mismatch",
            Refusal::UnknownUser => "unknown-user",
            Refusal::AlgorithmNotOffered => "algorithm-not-offered",
            Refusal::AlgorithmNotAllowed => "algorithm-not-allowed",
            Refusal::WrongPassword => "wrong-password",
            Refusal::NotTheMember => "not-the-member",
            Refusal::Throttled => "throttled",
        }
    }

    /// Whether it is a failed authentication (counted), rather than the first challenge.
    pub fn is_failure(self) -> bool {
        self != Refusal::NoCredentials
    }
}

/// The relay's answer to a request that did not authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub refusal: Refusal,
    /// 401 (REGISTER), 407 (other requests) or 403.
    pub code: u16,
    pub reason: &'static str,
    /// The header fields to add: the challenges.
    pub fields: Vec<(&'static str, String)>,
    /// Send the answer after this many seconds (repeated failures are slowed).
    pub delay: u64,
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not ours to authenticate: not from our domains, or an ACK or CANCEL.
    Exempt,
    /// From this member; our credentials have been checked (remove them with
    /// [`strip_own_credentials`] before forwarding).
    Authenticated(Attribution),
    Answer(Answer),
}

/// Whom a member may speak as besides itself: its group (the store's group map), so that an
/// agent may register the group's address and call from it.
pub trait Groups {
    fn group_of(&self, member: &Aor) -> Option<Aor>;
}

/// No groups: a member speaks only as itself.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoGroups;

impl Groups for NoGroups {
    fn group_of(&self, _: &Aor) -> Option<Aor> {
        None
    }
}

/// The store's group map: an agent speaks as the group its address belongs to.
impl Groups for crate::store::policy::Groups {
    fn group_of(&self, member: &Aor) -> Option<Aor> {
        crate::store::policy::Groups::group_of(self, member).cloned()
    }
}

/// The digest authenticator of a relay.
#[derive(Debug)]
pub struct Authenticator {
    config: AuthConfig,
    key: NonceKey,
    counts: NonceCounts,
    throttle: Throttle,
}

/// What the request claims and where it came from.
struct Request<'m> {
    msg: &'m Message,
    register: bool,
    realm: String,
    claimed: Aor,
    from: Peer,
    now: u64,
}

impl Authenticator {
    pub fn new(config: AuthConfig, key: NonceKey) -> Authenticator {
        Authenticator {
            counts: NonceCounts::new(config.nonce_counts),
            throttle: Throttle::new(config.throttle),
            config,
            key,
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Checks a request as it arrived (before any rewriting of its Request-URI). The request
    /// must claim (in From, for REGISTER in To) the member that authenticated, or its group.
    pub fn check(
        &mut self,
        msg: &Message,
        from: Peer,
        members: &Members,
        groups: &dyn Groups,
        now: u64,
    ) -> Outcome {
        let method = msg.method().unwrap_or_default();
        if method == b"ACK" || method == b"CANCEL" {
            return Outcome::Exempt;
        }
        let register = method == b"REGISTER";
        let claimed = if register { msg.to() } else { msg.from() };
        let Some(claimed) = claimed.ok().and_then(|a| a.uri().aor()) else {
            return Outcome::Exempt;
        };
        let Some(realm) = self
            .config
            .domains
            .iter()
            .find(|d| d.eq_ignore_ascii_case(claimed.host()))
            .cloned()
        else {
            return Outcome::Exempt;
        };
        let req = Request {
            msg,
            register,
            realm,
            claimed,
            from,
            now,
        };
        match self.authenticate(&req, members, groups) {
            Ok(attribution) => Outcome::Authenticated(attribution),
            Err((refusal, user)) => Outcome::Answer(self.answer(&req, refusal, user.as_deref())),
        }
    }

    /// Ok with the member, or the refusal and the user it concerns (for the throttle).
    fn authenticate(
        &mut self,
        req: &Request<'_>,
        members: &Members,
        groups: &dyn Groups,
    ) -> Result<Attribution, (Refusal, Option<String>)> {
        let kind = if req.register {
            HeaderKind::Authorization
        } else {
            HeaderKind::ProxyAuthorization
        };
        let mut ours = Vec::new();
        let mut parsed = Vec::new();
        for value in req.msg.values(kind) {
            parsed.clear();
            // A value that does not parse is no credentials of ours: it is left alone.
            if parse_auth_list(value, &mut parsed).is_ok() {
                ours.extend(
                    parsed
                        .iter()
                        .copied()
                        .filter(|a| is_for_realm(a, &req.realm)),
                );
            }
        }
        let auth = match ours[..] {
            [] => return Err((Refusal::NoCredentials, None)),
            [one] => one,
            _ => return Err((Refusal::Ambiguous, None)),
        };
        let creds = DigestCredentials::read(&auth).map_err(|e| (Refusal::Malformed(e), None))?;
        let username = std::str::from_utf8(&creds.username)
            .map_err(|_| (Refusal::UnknownUser, None))?
            .to_string();
        let user_key = format!("{username}@{}", req.realm);
        if let Gate::Closed { .. } =
            self.throttle
                .gate(req.from.addr.ip(), Some(&user_key), req.now)
        {
            return Err((Refusal::Throttled, Some(user_key)));
        }
        let nonce_id = match self.key.check(
            &creds.nonce,
            &req.realm,
            req.from.addr.ip(),
            req.from.transport == Transport::Udp,
            req.now,
            self.config.nonce_lifetime,
        ) {
            NonceCheck::Fresh(id) => Some(id),
            NonceCheck::Expired(_) => None,
            NonceCheck::Foreign | NonceCheck::Malformed => {
                return Err((Refusal::ForeignNonce, None))
            }
            NonceCheck::WrongSource => return Err((Refusal::WrongSource, None)),
        };
        // From here on the nonce is one this relay handed to this source: failures count.
        let Some(secrets) = members.get(&username, &req.realm) else {
            return Err((Refusal::UnknownUser, None));
        };
        if !self.config.algorithms.contains(&creds.algorithm) {
            return Err((Refusal::AlgorithmNotOffered, None));
        }
        let Some(ha1) = secrets.ha1.get(&creds.algorithm) else {
            return Err((Refusal::AlgorithmNotAllowed, None));
        };
        if !self.uri_matches(&creds.uri, req.msg) {
            return Err((Refusal::UriMismatch, None));
        }
        let method = req.msg.method().unwrap_or_default();
        if !creds.verifies(ha1, method) {
            return Err((Refusal::WrongPassword, Some(user_key)));
        }
        let Some(nonce_id) = nonce_id else {
            return Err((Refusal::Expired, None));
        };
        let oldest_live = req.now.saturating_sub(self.config.nonce_lifetime);
        if self.counts.check(nonce_id, creds.nc, oldest_live) == CountCheck::Replayed {
            return Err((Refusal::ReplayedCount, None));
        }
        if secrets.aor != req.claimed
            && groups.group_of(&secrets.aor).as_ref() != Some(&req.claimed)
        {
            return Err((Refusal::NotTheMember, None));
        }
        self.throttle
            .succeeded(req.from.addr.ip(), &user_key, req.now);
        Ok(Attribution {
            member: secrets.aor.clone(),
            basis: Basis::Digest(creds.algorithm),
        })
    }

    fn answer(&mut self, req: &Request<'_>, refusal: Refusal, user: Option<&str>) -> Answer {
        let source = req.from.addr.ip();
        let counted = matches!(refusal, Refusal::WrongPassword | Refusal::UnknownUser);
        if counted {
            self.throttle.failed(source, user, req.now);
        }
        let gate = self.throttle.gate(source, user, req.now);
        let forbidden = |refusal| Answer {
            refusal,
            code: 403,
            reason: "Forbidden",
            fields: Vec::new(),
            delay: 0,
        };
        match (refusal, gate) {
            (Refusal::NotTheMember, _) => return forbidden(refusal),
            (_, Gate::Closed { .. }) => return forbidden(Refusal::Throttled),
            _ => {}
        }
        let stale = matches!(refusal, Refusal::Expired | Refusal::ReplayedCount);
        let bind = (req.from.transport == Transport::Udp).then_some(source);
        let nonce = self.key.issue(&req.realm, req.now, bind);
        let name = if req.register {
            "WWW-Authenticate"
        } else {
            "Proxy-Authenticate"
        };
        let fields = self
            .config
            .algorithms
            .iter()
            .map(|a| {
                let mut v = format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={a}, qop=\"auth\"",
                    req.realm
                );
                if stale {
                    v.push_str(", stale=true");
                }
                (name, v)
            })
            .collect();
        let (code, reason) = if req.register {
            (401, "Unauthorized")
        } else {
            (407, "Proxy Authentication Required")
        };
        Answer {
            refusal,
            code,
            reason,
            fields,
            delay: match gate {
                Gate::Slow(secs) => secs,
                _ => 0,
            },
        }
    }
}

fn is_for_realm(auth: &Auth<'_>, realm: &str) -> bool {
    DigestCredentials::realm_of(auth).is_some_and(|r| *r == *realm.as_bytes())
}

impl Authenticator {
    /// The credentials' `uri` must name the Request-URI (the same text, or an equivalent URI,
    /// RFC 3261 §19.1.4), or the relay itself: its address or one of its domains without a
    /// user part. RFC 8760 §2.6 leaves a UAS free to accept a `uri` that differs from the
    /// Request-URI; binding it to the request keeps an attacker on the path from sending
    /// the request elsewhere, which only the first form does.
    fn uri_matches(&self, uri: &[u8], msg: &Message) -> bool {
        let Some(ruri) = msg.request_uri() else {
            return false;
        };
        if uri == ruri {
            return true;
        }
        let Ok(given) = Uri::parse(uri) else {
            return false;
        };
        if let Some(Ok(ruri)) = msg.request_uri_parsed() {
            if given.equivalent(&ruri) {
                return true;
            }
        }
        if given.user().is_some() || !matches!(given.scheme(), Scheme::Sip | Scheme::Sips) {
            return false;
        }
        let default_port = if given.scheme() == Scheme::Sips {
            5061
        } else {
            5060
        };
        let port = given.port().unwrap_or(default_port);
        match given.host() {
            Some(Host::Name(name)) => {
                given.port().is_none()
                    && self
                        .config
                        .domains
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(name.trim_end_matches('.')))
            }
            Some(Host::Ipv4(a)) => self.is_own_address(SocketAddr::new(a.into(), port)),
            Some(Host::Ipv6 { addr, .. }) => {
                self.is_own_address(SocketAddr::new(addr.into(), port))
            }
            None => false,
        }
    }

    fn is_own_address(&self, addr: SocketAddr) -> bool {
        self.config.own_addresses.iter().any(|own| {
            own.port() == addr.port() && (own.ip() == addr.ip() || own.ip().is_unspecified())
        })
    }
}

/// Removes the Proxy-Authorization credentials for the relay's realms before a request goes
/// on; credentials for other realms (a proxy further on) stay. Returns how many were removed.
pub fn strip_own_credentials(msg: &mut Message, realms: &[String]) -> usize {
    let mut removed = 0;
    let indices: Vec<usize> = msg.indices_of(HeaderKind::ProxyAuthorization).collect();
    // From the last, so earlier indices stay valid.
    for index in indices.into_iter().rev() {
        let value = msg.field_value(&msg.fields()[index]).to_vec();
        let mut parsed = Vec::new();
        if parse_auth_list(&value, &mut parsed).is_err() {
            continue;
        }
        let ours = |a: &Auth<'_>| realms.iter().any(|r| is_for_realm(a, r));
        let n = parsed.iter().filter(|a| ours(a)).count();
        if n == 0 {
            continue;
        }
        removed += n;
        let kept: Vec<Vec<u8>> = parsed
            .iter()
            .filter(|a| !ours(a))
            .map(|a| [a.scheme, b" ", a.params().as_bytes()].concat())
            .collect();
        if kept.is_empty() {
            msg.remove_field(index);
        } else {
            let _ = msg.set_field_value(index, &kept.join(&b", "[..]));
        }
    }
    removed
}

#[cfg(test)]
mod tests;
