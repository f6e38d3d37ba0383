//! The S/MIME format of SIP messages: building the wrapping forms (`build`) and the cleaned inner
//! copy of a message that goes inside them (`inner`); recognising the forms (`parse`); restoring
//! what an inner copy protected (`restore`); the certs-only body of a 493 (`certs_only`).

pub mod build;
pub mod certs_only;
pub mod inner;
pub mod parse;
pub mod restore;

/// The S/MIME signing forms: what `sipsec-sign --form` makes and what `sipsec-verify` recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// The body only, in multipart/signed (RFC 3261 §23.2).
    Body,
    /// A copy of the whole message as message/sip in multipart/signed (RFC 3261 §23.4).
    Sip,
    /// An Authenticated Identity Body (message/sipfrag) beside the body (RFC 3893).
    Aib,
    /// application/pkcs7-mime signed-data: the content travels inside the CMS (RFC 8591).
    Cms,
}

impl Form {
    pub fn name(self) -> &'static str {
        match self {
            Form::Body => "body",
            Form::Sip => "sip",
            Form::Aib => "aib",
            Form::Cms => "cms",
        }
    }
}
