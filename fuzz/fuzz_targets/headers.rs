//! Every typed header view on arbitrary values. The first byte picks the header a value is put
//! under in a small request; the whole input is also tried as a message of its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipsec::header::{parse_address_list, parse_auth_list, parse_via_list, Address, Auth, Via};
use sipsec::Message;

const NAMES: &[&str] = &[
    "From", "To", "Call-ID", "CSeq", "Via", "Contact", "Route", "Record-Route", "Max-Forwards",
    "Expires", "Content-Type", "Content-Disposition", "Date", "Subject", "Authorization",
    "Proxy-Authorization", "WWW-Authenticate", "Proxy-Authenticate", "v", "f", "t", "m", "i",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, value)) = data.split_first() else {
        return;
    };
    if let Ok(m) = Message::parse(data.to_vec()) {
        views(&m);
    }
    let name = NAMES[pick as usize % NAMES.len()];
    let mut bytes = format!("OPTIONS sip:a@b SIP/2.0\r\n{name}: ").into_bytes();
    bytes.extend_from_slice(value);
    bytes.extend_from_slice(b"\r\n\r\n");
    if let Ok(m) = Message::parse(bytes) {
        views(&m);
    }
    // The list parsers directly, on the raw value.
    let mut vias: Vec<Via<'_>> = Vec::new();
    let _ = parse_via_list(value, &mut vias);
    let mut addresses: Vec<Address<'_>> = Vec::new();
    let _ = parse_address_list(value, &mut addresses);
    let mut auths: Vec<Auth<'_>> = Vec::new();
    let _ = parse_auth_list(value, &mut auths);
});

fn views(m: &Message) {
    for a in [m.from(), m.to()].into_iter().flatten() {
        address(&a);
    }
    let _ = m.call_id();
    let _ = m.cseq();
    if let Ok(vias) = m.vias() {
        for v in vias {
            let _ = (v.protocol(), v.version(), v.transport(), v.host(), v.port());
            let _ = (v.branch(), v.received(), v.rport());
            for p in v.params().iter() {
                let _ = p.unquoted();
            }
        }
    }
    if let Ok(c) = m.contacts() {
        c.addresses().iter().for_each(address);
    }
    for list in [m.routes(), m.record_routes()].into_iter().flatten() {
        list.iter().for_each(address);
    }
    let _ = (m.max_forwards(), m.expires(), m.date(), m.subject());
    if let Ok(Some(t)) = m.content_type() {
        let _ = (t.boundary(), t.is("multipart", "signed"));
    }
    if let Ok(Some(d)) = m.content_disposition() {
        let _ = (d.handling(), d.is_optional());
    }
    for list in [
        m.authorizations(),
        m.proxy_authorizations(),
        m.www_authenticates(),
        m.proxy_authenticates(),
    ]
    .into_iter()
    .flatten()
    {
        for a in list {
            let _ = (a.is_scheme("Digest"), a.param("realm"), a.param("nonce"));
        }
    }
    let _ = m.request_uri_parsed();
    let _ = m.validate();
}

fn address(a: &Address<'_>) {
    let _ = (a.display_raw(), a.display_name(), a.is_bracketed(), a.tag());
    assert!(a.uri().equivalent(a.uri()));
    for p in a.params().iter() {
        let _ = p.unquoted();
    }
}
