//! What the store keeps about a peer besides its certificate, in `learned/<aor>.peer`, one
//! `key: value` a line: the content ciphers its signatures advertise (`capabilities`, learned by
//! sipsec-verify --learn-certs) and what an administrator pins for it (`cipher`,
//! `rsa-padding`, set with sipsec-certgen peer), for peers that cannot do RSA-OAEP or AES-GCM.

use super::*;
use crate::crypto::capabilities::cipher_by_name;
use crate::crypto::{ContentCipher, RsaPadding};

/// A peer's settings; every field may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerSettings {
    /// The ciphers its last trusted signature advertised, in its order.
    pub capabilities: Option<Vec<ContentCipher>>,
    /// The cipher to encrypt to it with, whatever it advertises.
    pub cipher: Option<ContentCipher>,
    pub rsa_padding: Option<RsaPadding>,
}

impl PeerSettings {
    /// Reads the file's text; lines it does not know are skipped (a newer sipsec may add some).
    pub fn parse(text: &str) -> PeerSettings {
        let mut s = PeerSettings::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "capabilities" => {
                    s.capabilities = Some(
                        value
                            .split_whitespace()
                            .filter_map(cipher_by_name)
                            .collect(),
                    )
                }
                "cipher" => s.cipher = cipher_by_name(value),
                "rsa-padding" => {
                    s.rsa_padding = [RsaPadding::Oaep, RsaPadding::Pkcs1v15]
                        .into_iter()
                        .find(|p| p.name() == value)
                }
                _ => {}
            }
        }
        s
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(c) = &self.capabilities {
            let names: Vec<String> = c.iter().map(|c| c.name().into_owned()).collect();
            out.push_str(&format!("capabilities: {}\n", names.join(" ")));
        }
        if let Some(c) = &self.cipher {
            out.push_str(&format!("cipher: {}\n", c.name()));
        }
        if let Some(p) = self.rsa_padding {
            out.push_str(&format!("rsa-padding: {}\n", p.name()));
        }
        out
    }
}

impl Store {
    fn peer_path(&self, aor: &Aor) -> PathBuf {
        self.root
            .join("learned")
            .join(format!("{}.peer", aor_dir_name(aor)))
    }

    /// What the store keeps about `aor` (nothing when it keeps nothing).
    pub fn peer_settings(&self, aor: &Aor) -> PeerSettings {
        fs::read_to_string(self.peer_path(aor))
            .map(|t| PeerSettings::parse(&t))
            .unwrap_or_default()
    }

    /// Changes what the store keeps about `aor`, under the store's lock.
    pub fn update_peer_settings(
        &self,
        aor: &Aor,
        change: impl FnOnce(&mut PeerSettings),
    ) -> Result<(), StoreError> {
        let _l = self.lock(true)?;
        let mut settings = self.peer_settings(aor);
        let before = settings.clone();
        change(&mut settings);
        if settings == before {
            return Ok(());
        }
        fsio::write_atomic(
            &self.peer_path(aor),
            settings.render().as_bytes(),
            PUBLIC_MODE,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_back_as_written_and_unknown_lines_are_skipped() {
        let s = PeerSettings {
            capabilities: Some(vec![ContentCipher::Aes256Gcm, ContentCipher::Aes128Cbc]),
            cipher: Some(ContentCipher::Aes128Cbc),
            rsa_padding: Some(RsaPadding::Pkcs1v15),
        };
        let text = s.render();
        assert_eq!(
            text,
            "capabilities: aes-256-gcm aes-128-cbc\ncipher: aes-128-cbc\nrsa-padding: pkcs1\n"
        );
        assert_eq!(PeerSettings::parse(&text), s);
        let odd = PeerSettings::parse("future: x\ncipher: rc2-40\nrsa-padding: oaep\n");
        assert_eq!(odd.cipher, None);
        assert_eq!(odd.rsa_padding, Some(RsaPadding::Oaep));
        assert_eq!(PeerSettings::parse(""), PeerSettings::default());
    }
}
