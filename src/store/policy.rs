//! The store's two small text files, parsed and rendered without I/O: `config` (on-demand
//! issuance, own domains, defaults) and `groups` (which members act under which group identity).
//!
//! Both are line formats: `#` starts a comment, blank lines are ignored.
//!
//! `config`:
//! ```text
//! on-demand = yes          # make missing certificates for own identities (default no)
//! domain = callcentre.example   # an own domain (repeatable)
//! key-type = rsa2048       # rsa2048 | rsa3072 | rsa4096 | p256 | p384
//! days = 365               # validity of certificates made on demand
//! ```
//!
//! `groups`: a group AOR followed by one or more member patterns (exact AORs or globs with `*`):
//! ```text
//! sip:support@callcentre.example  sip:agent-*@callcentre.example sip:lead@callcentre.example
//! ```

use super::x509::{parse_aor, KeyType};
use super::StoreError;
use crate::uri::Aor;
use std::path::Path;

/// The settings in `DIR/config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub on_demand: bool,
    pub domains: Vec<String>,
    pub key_type: KeyType,
    pub days: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            on_demand: false,
            domains: Vec::new(),
            key_type: KeyType::default(),
            days: 365,
        }
    }
}

fn bad(path: &Path, line: usize, reason: impl Into<String>) -> StoreError {
    StoreError::BadConfig {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

/// The meaningful lines of a file: comments and blanks dropped, with 1-based line numbers.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let l = l.split('#').next().unwrap_or("").trim();
        (!l.is_empty()).then_some((i + 1, l))
    })
}

impl StoreConfig {
    /// Parses `config`; `path` only labels errors.
    pub fn parse(text: &str, path: &Path) -> Result<StoreConfig, StoreError> {
        let mut c = StoreConfig::default();
        for (n, line) in lines(text) {
            let (k, v) = line
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| bad(path, n, "expected `key = value`"))?;
            match k {
                "on-demand" => {
                    c.on_demand = match v {
                        "yes" | "on" | "true" => true,
                        "no" | "off" | "false" => false,
                        _ => return Err(bad(path, n, "on-demand is yes or no")),
                    }
                }
                "domain" => {
                    let d = v.to_ascii_lowercase();
                    if d.is_empty() || d.contains(['@', ':', '/', ' ']) {
                        return Err(bad(path, n, format!("not a domain: {v:?}")));
                    }
                    if !c.domains.contains(&d) {
                        c.domains.push(d);
                    }
                }
                "key-type" => {
                    c.key_type = KeyType::from_name(v)
                        .ok_or_else(|| bad(path, n, format!("unknown key type {v:?}")))?
                }
                "days" => {
                    c.days = v
                        .parse()
                        .ok()
                        .filter(|d| *d > 0)
                        .ok_or_else(|| bad(path, n, "days is a positive number"))?
                }
                _ => return Err(bad(path, n, format!("unknown setting {k:?}"))),
            }
        }
        Ok(c)
    }

    pub fn render(&self) -> String {
        let mut s = format!(
            "# sipsec store settings\non-demand = {}\nkey-type = {}\ndays = {}\n",
            if self.on_demand { "yes" } else { "no" },
            self.key_type.name(),
            self.days
        );
        for d in &self.domains {
            s.push_str(&format!("domain = {d}\n"));
        }
        s
    }

    pub fn is_own_domain(&self, host: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(host))
    }
}

/// A member pattern: an AOR in `user@host` form whose user part may contain `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPattern {
    text: String,
}

impl MemberPattern {
    /// Accepts `sip:agent-*@host`, `agent-*@host` or an exact AOR. The host is compared without
    /// case, like the AOR's.
    pub fn parse(text: &str) -> Result<MemberPattern, StoreError> {
        let refuse = |reason: &str| StoreError::BadUri {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let rest = text
            .strip_prefix("sips:")
            .or_else(|| text.strip_prefix("sip:"))
            .unwrap_or(text);
        let (user, host) = rest
            .rsplit_once('@')
            .ok_or_else(|| refuse("a member pattern is user@host"))?;
        if host.contains('*') {
            return Err(refuse("`*` is allowed in the user part only"));
        }
        // The host must be a valid AOR host; the user part is a glob, checked by parsing a
        // pattern-free stand-in.
        let probe = parse_aor(&format!("{}@{host}", user.replace('*', "x")))?;
        Ok(MemberPattern {
            text: format!("{user}@{}", probe.host()),
        })
    }

    pub fn is_exact(&self) -> bool {
        !self.text.contains('*')
    }

    pub fn matches(&self, aor: &Aor) -> bool {
        glob(self.text.as_bytes(), aor.to_string().as_bytes())
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `*` matches any run of bytes (iterative, with one backtrack point: linear in practice).
fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() && pat[p] == b'*' {
            star = Some((p, i));
            p += 1;
        } else if p < pat.len() && pat[p] == s[i] {
            p += 1;
            i += 1;
        } else if let Some((sp, si)) = star {
            p = sp + 1;
            i = si + 1;
            star = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    pat[p.min(pat.len())..].iter().all(|&c| c == b'*')
}

/// The group map: an ordered list of (group, member pattern).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Groups {
    entries: Vec<(Aor, MemberPattern)>,
}

impl Groups {
    pub fn parse(text: &str, path: &Path) -> Result<Groups, StoreError> {
        let mut g = Groups::default();
        for (n, line) in lines(text) {
            let mut words = line.split_whitespace();
            let group = words.next().unwrap_or("");
            let group = parse_aor(group).map_err(|e| bad(path, n, e.to_string()))?;
            let mut any = false;
            for w in words {
                let m = MemberPattern::parse(w).map_err(|e| bad(path, n, e.to_string()))?;
                g.entries.push((group.clone(), m));
                any = true;
            }
            if !any {
                return Err(bad(path, n, "a group line needs at least one member"));
            }
        }
        Ok(g)
    }

    pub fn render(&self) -> String {
        let mut s = String::from("# group-aor  member-pattern...\n");
        for (g, m) in &self.entries {
            s.push_str(&format!("sip:{g}  sip:{}\n", m.as_str()));
        }
        s
    }

    pub fn add(&mut self, group: Aor, member: MemberPattern) {
        if !self
            .entries
            .iter()
            .any(|(g, m)| *g == group && *m == member)
        {
            self.entries.push((group, member));
        }
    }

    /// The group `member` acts under: an exact entry wins over a pattern; among patterns, the
    /// first in the file wins.
    pub fn group_of(&self, member: &Aor) -> Option<&Aor> {
        let hit = |exact: bool| {
            self.entries
                .iter()
                .find(|(_, m)| m.is_exact() == exact && m.matches(member))
                .map(|(g, _)| g)
        };
        hit(true).or_else(|| hit(false))
    }

    pub fn is_group(&self, aor: &Aor) -> bool {
        self.entries.iter().any(|(g, _)| g == aor)
    }

    pub fn entries(&self) -> &[(Aor, MemberPattern)] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aor(s: &str) -> Aor {
        parse_aor(s).expect("aor")
    }

    #[test]
    fn members_map_to_groups_exact_before_pattern() {
        let text = "# call centre\n\
            sip:support@callcentre.example sip:agent-*@CallCentre.example\n\
            sip:boss@callcentre.example sip:agent-7@callcentre.example\n";
        let g = Groups::parse(text, Path::new("groups")).expect("parse");
        let support = aor("support@callcentre.example");
        assert_eq!(
            g.group_of(&aor("sip:agent-1@callcentre.example")),
            Some(&support)
        );
        assert_eq!(
            g.group_of(&aor("sip:agent-7@callcentre.example")),
            Some(&aor("boss@callcentre.example"))
        );
        assert_eq!(g.group_of(&aor("sip:agent-1@other.example")), None);
        assert_eq!(g.group_of(&aor("sip:agentx@callcentre.example")), None);
        let again = Groups::parse(&g.render(), Path::new("groups")).expect("reparse");
        assert_eq!(again, g);
    }

    #[test]
    fn glob_matches_like_a_shell_star() {
        assert!(glob(b"a*c", b"abbbc"));
        assert!(glob(b"*", b""));
        assert!(glob(b"a*b*c", b"axxbyyc"));
        assert!(!glob(b"a*c", b"abcd"));
        assert!(!glob(b"abc", b"ab"));
    }

    #[test]
    fn bad_group_lines_are_refused_with_their_line() {
        let e = Groups::parse("\nsip:g@x.example\n", Path::new("groups"));
        assert!(
            matches!(e, Err(StoreError::BadConfig { line: 2, .. })),
            "{e:?}"
        );
        let e = Groups::parse("sip:g@x.example sip:a@*.example\n", Path::new("groups"));
        assert!(
            matches!(e, Err(StoreError::BadConfig { line: 1, .. })),
            "{e:?}"
        );
    }

    #[test]
    fn config_round_trips_and_refuses_unknown_settings() {
        let c = StoreConfig::parse(
            "on-demand = yes\ndomain = CallCentre.example\nkey-type = p256\ndays = 30\n",
            Path::new("config"),
        )
        .expect("parse");
        assert!(c.on_demand && c.is_own_domain("callcentre.example"));
        assert_eq!(c.key_type, KeyType::P256);
        assert_eq!(
            StoreConfig::parse(&c.render(), Path::new("c")).expect("again"),
            c
        );
        assert!(StoreConfig::parse("colour = red\n", Path::new("c")).is_err());
        assert!(StoreConfig::parse("days = 0\n", Path::new("c")).is_err());
    }
}
