//! Chains with sipsec's own tools as children: the control key goes on descriptor 3 and the
//! attribution in the control header, so sipsec-sign signs an agent's 200 OK as its group; a
//! message whose header was forged before the chain is not attributed.

mod common;
mod wrapkit;

use sipsec::chain::child::ChildStage;
use sipsec::chain::{Chain, ChainOutcome, Stage};
use sipsec::filter::control::{self, ControlData, ControlKey, ControlKind};
use sipsec::filter::{FailMode, MessageContext};
use sipsec::uri::Aor;
use std::time::Duration;
use wrapkit::*;

const SIGN: &str = env!("CARGO_BIN_EXE_sipsec-sign");

fn sign_chain(pki: &Pki, key: &ControlKey, fail_mode: FailMode) -> Chain {
    let argv = vec![
        SIGN.to_string(),
        "--store".into(),
        pki.store.display().to_string(),
        "--fail-closed".into(),
        "--jobs".into(),
        "1".into(),
    ];
    let child = ChildStage::start(
        argv,
        Some(key.clone()),
        fail_mode,
        Duration::from_secs(10),
        1 << 20,
    )
    .expect("start sipsec-sign");
    Chain::new(vec![Stage::Child(child)])
}

fn agent() -> MessageContext {
    MessageContext {
        attribution: Some(Aor::parse("sip:agent-7@callcentre.example").unwrap()),
        ..MessageContext::default()
    }
}

#[test]
fn sipsec_sign_child_signs_an_attributed_response_as_the_group() {
    let pki = Pki::new();
    let key = ControlKey::generate();
    let mut chain = sign_chain(&pki, &key, FailMode::Open);
    let ok = parse(&ok_200("caller@example.net", RSA_GROUP));
    let ChainOutcome::Pass { message, .. } = chain.run(ok.clone(), &agent()) else {
        panic!("withheld")
    };
    // The default form: a copy of the message in multipart/signed.
    let text = String::from_utf8_lossy(message.as_bytes()).into_owned();
    assert!(text.contains("Content-Type: multipart/signed"), "{text}");
    assert!(text.contains("Content-Type: message/sip"), "{text}");
    assert_eq!(message.values_named(control::HEADER).count(), 0);

    // Unattributed: sipsec-sign (fail-closed) withholds it, and the chain says so.
    let ChainOutcome::Withheld { reason, .. } = chain.run(ok.clone(), &MessageContext::default())
    else {
        panic!("an unattributed message was let through")
    };
    assert!(reason.contains("not attributed"), "{reason}");

    // A control header forged before the chain (under another key) is replaced by ours, so
    // it never attributes anything.
    let mut forged = ok.clone();
    let data = ControlData {
        seq: 1,
        origin: Default::default(),
        attribution: Some("agent-7@callcentre.example".into()),
        marks: None,
    };
    control::attach(
        &mut forged,
        &ControlKey::generate(),
        ControlKind::Message,
        &data,
    );
    let ChainOutcome::Withheld { .. } = chain.run(forged, &MessageContext::default()) else {
        panic!("a forged attribution was believed")
    };
    assert_eq!(chain.restarts(), 0);
}

#[test]
fn sipsec_sign_named_in_a_chain_runs_in_process() {
    let pki = Pki::new();
    let settings = sipsec::cli::chain::ChainSettings {
        timeout: Duration::from_secs(2),
        max_size: 1 << 20,
        control: ControlKey::generate(),
    };
    let text = format!("sipsec-sign --store '{}'", pki.store.display());
    let mut chain = sipsec::cli::chain::build(&text, &settings).expect("a chain");
    let ok = parse(&ok_200("caller@example.net", RSA_GROUP));
    let ChainOutcome::Pass { message, reports } = chain.run(ok.clone(), &agent()) else {
        panic!("withheld")
    };
    assert_eq!(reports[0].stage, "sign");
    assert_eq!(
        reports[0].signed_as().map(|a| a.to_string()).as_deref(),
        Some(RSA_GROUP)
    );
    assert!(String::from_utf8_lossy(message.as_bytes()).contains("multipart/signed"));
    // Unattributed, sign's own default (fail-open) lets it through unsigned.
    let ChainOutcome::Pass { message, reports } = chain.run(ok.clone(), &MessageContext::default())
    else {
        panic!("withheld")
    };
    assert_eq!(message.as_bytes(), ok.as_bytes());
    assert!(reports[0]
        .failed
        .as_deref()
        .unwrap()
        .contains("not attributed"));
}
