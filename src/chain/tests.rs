use super::child::ChildStage;
use super::*;
use crate::filter::{Failure, Processed};
use std::time::Duration;

#[test]
fn chain_text_splits_into_stages_and_words_like_a_shell() {
    let spec = ChainSpec::parse(
        "sipsec-sign --store '/a b' --form aib|  my-filter \"x \\\"y\\\"\" z\\ w ''",
    )
    .unwrap();
    assert_eq!(
        spec.stages,
        [
            vec!["sipsec-sign", "--store", "/a b", "--form", "aib"],
            vec!["my-filter", "x \"y\"", "z w", ""],
        ]
    );
    assert_eq!(
        ChainSpec::parse("a '|' b").unwrap().stages,
        [vec!["a", "|", "b"]]
    );
    for bad in ["", "a |", "| a", "a || b", "a 'b", "a \"b", "a \\"] {
        assert!(ChainSpec::parse(bad).is_err(), "{bad:?}");
    }
}

fn message(n: u32) -> Message {
    Message::parse(format!(
        "MESSAGE sip:x@example.net SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK{n}\r\n\
         From: <sip:a@example.net>;tag=1\r\nTo: <sip:x@example.net>\r\nCall-ID: c{n}\r\n\
         CSeq: {n} MESSAGE\r\nContent-Length: 5\r\n\r\nhello"
    ))
    .unwrap()
}

/// Adds a header; refuses messages whose CSeq number is a multiple of `refuse_every`.
struct Tag {
    name: &'static str,
    refuse_every: u32,
}

impl Filter for Tag {
    fn name(&self) -> &'static str {
        self.name
    }

    fn default_fail_mode(&self) -> FailMode {
        FailMode::Open
    }

    fn process(&self, message: &Message, context: &MessageContext) -> Result<Processed, Failure> {
        let seq = message.cseq().map(|c| c.seq).unwrap_or(0);
        if seq.is_multiple_of(self.refuse_every) {
            return Err(Failure::new(format!("{} refuses {seq}", self.name)));
        }
        let mut m = message.clone();
        let who = context
            .attribution
            .as_ref()
            .map_or("nobody".to_string(), ToString::to_string);
        m.append_field("X-Seen-By", format!("{} for {who}", self.name).as_bytes())
            .unwrap();
        let mut verdict = Verdict::new();
        verdict.set("tagged", true);
        Ok(Processed::changed(m, verdict))
    }
}

fn own(name: &'static str, refuse_every: u32, fail_mode: FailMode) -> Stage {
    Stage::Own {
        filter: Box::new(Tag { name, refuse_every }),
        fail_mode,
    }
}

fn seen_by(m: &Message) -> Vec<String> {
    m.values_named("X-Seen-By")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[test]
fn in_process_stages_see_the_attribution_and_follow_their_fail_mode() {
    let mut chain = Chain::new(vec![
        own("first", 2, FailMode::Open),
        own("second", 3, FailMode::Closed),
    ]);
    let context = MessageContext {
        attribution: Some(crate::uri::Aor::parse("sip:agent-7@callcentre.example").unwrap()),
        ..MessageContext::default()
    };
    let mut outcomes = Vec::new();
    for n in 1..=6 {
        outcomes.push(match chain.run(message(n), &context) {
            ChainOutcome::Pass { message, reports } => {
                format!("{n} pass {:?} {}", seen_by(&message), reports.len())
            }
            ChainOutcome::Withheld { stage, reason, .. } => {
                format!("{n} withheld {stage}: {reason}")
            }
        });
    }
    assert_eq!(
        outcomes,
        [
            "1 pass [\"first for agent-7@callcentre.example\", \"second for agent-7@callcentre.example\"] 2",
            "2 pass [\"second for agent-7@callcentre.example\"] 2",
            "3 withheld second: second refuses 3",
            "4 pass [\"second for agent-7@callcentre.example\"] 2",
            "5 pass [\"first for agent-7@callcentre.example\", \"second for agent-7@callcentre.example\"] 2",
            "6 withheld second: second refuses 6",
        ]
    );
}

/// Why message `n` did not come through `stage`.
fn failure(stage: &mut ChildStage, n: u32) -> String {
    let e = stage
        .process(&message(n), &MessageContext::default())
        .unwrap_err();
    e.reason().to_string()
}

fn child(argv: &[&str], fail_mode: FailMode, timeout_ms: u64) -> ChildStage {
    ChildStage::start(
        argv.iter().map(ToString::to_string).collect(),
        None,
        fail_mode,
        Duration::from_millis(timeout_ms),
        65536,
    )
    .unwrap()
}

#[test]
fn child_stage_passes_each_message_through_in_order() {
    let mut chain = Chain::new(vec![
        Stage::Child(child(&["cat"], FailMode::Closed, 5000)),
        own("after", 1000, FailMode::Closed),
    ]);
    for n in 1..=50 {
        let ChainOutcome::Pass { message: m, .. } =
            chain.run(message(n), &MessageContext::default())
        else {
            panic!("message {n} withheld")
        };
        assert_eq!(m.cseq().unwrap().seq, n);
        assert_eq!(seen_by(&m), ["after for nobody"]);
    }
    assert_eq!(chain.restarts(), 0);
}

#[test]
fn child_that_dies_fails_the_message_in_flight_then_is_restarted() {
    let mut stage = child(&["sh", "-c", "exit 3"], FailMode::Open, 2000);
    let e = failure(&mut stage, 1);
    assert!(e.contains("exited") || e.contains("not reading"), "{e}");
    // At most one start a second.
    assert!(failure(&mut stage, 2).contains("restarting"));
    std::thread::sleep(Duration::from_millis(1100));
    assert!(failure(&mut stage, 3).contains("exited"));
    assert_eq!(stage.restarts(), 1);

    // Fail-open: the chain passes the message on unchanged, once.
    let mut chain = Chain::new(vec![Stage::Child(child(
        &["sh", "-c", "exit 3"],
        FailMode::Open,
        2000,
    ))]);
    let ChainOutcome::Pass {
        message: m,
        reports,
    } = chain.run(message(4), &MessageContext::default())
    else {
        panic!("withheld")
    };
    assert_eq!(m.as_bytes(), message(4).as_bytes());
    assert!(reports[0].failed.is_some());
}

#[test]
fn child_that_hangs_is_killed_after_the_bounded_wait() {
    let mut chain = Chain::new(vec![Stage::Child(child(
        &["sleep", "30"],
        FailMode::Closed,
        200,
    ))]);
    let started = std::time::Instant::now();
    let ChainOutcome::Withheld { reason, .. } = chain.run(message(1), &MessageContext::default())
    else {
        panic!("passed")
    };
    assert!(reason.contains("no answer within 200 ms"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn child_that_answers_with_another_message_or_garbage_is_refused() {
    // Answers every message with the first one it was given.
    let mut stage = child(
        &["sh", "-c", "head -c 1000000 >/dev/null & printf 'SIP/2.0 200 OK\\r\\nCall-ID: other\\r\\nCSeq: 1 MESSAGE\\r\\nContent-Length: 0\\r\\n\\r\\n'; wait"],
        FailMode::Closed,
        2000,
    );
    assert!(failure(&mut stage, 1).contains("another message"));
    let mut garbage = child(
        &["sh", "-c", "echo not SIP at all; sleep 5"],
        FailMode::Closed,
        2000,
    );
    assert!(failure(&mut garbage, 1).contains("not SIP"));
}

#[test]
fn a_signing_stage_says_whom_it_signed_as() {
    let mut verdict = Verdict::new();
    verdict
        .set("signed", true)
        .set("signed_as", "support@callcentre.example");
    let report = StageReport {
        stage: "sign".into(),
        verdict: verdict.clone(),
        failed: None,
    };
    assert_eq!(
        report.signed_as().unwrap().to_string(),
        "support@callcentre.example"
    );
    verdict.set("signed", false);
    let unsigned = StageReport { verdict, ..report };
    assert!(unsigned.signed_as().is_none());
}

/// Adds a mark; `judge` stands for sipsec-verify.
struct Marker {
    name: &'static str,
    mark: &'static str,
    judge: bool,
}

impl Filter for Marker {
    fn name(&self) -> &'static str {
        self.name
    }

    fn judges_marks(&self) -> bool {
        self.judge
    }

    fn default_fail_mode(&self) -> FailMode {
        FailMode::Closed
    }

    fn process(&self, message: &Message, _: &MessageContext) -> Result<Processed, Failure> {
        let mut m = message.clone();
        m.append_field("Subject", self.mark.as_bytes()).unwrap();
        Ok(Processed::changed(m, Verdict::new()))
    }
}

fn marker(name: &'static str, mark: &'static str) -> Stage {
    Stage::Own {
        filter: Box::new(Marker {
            name,
            mark,
            judge: name == "verify",
        }),
        fail_mode: FailMode::Closed,
    }
}

fn subjects(m: &Message) -> Vec<String> {
    m.values(crate::HeaderKind::Subject)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[test]
fn inbound_marks_from_the_network_are_removed_and_only_the_verifiers_stay() {
    let forged = {
        let mut m = message(1);
        m.append_field("Subject", b"validated <sip:boss@bank.example>")
            .unwrap();
        m.append_field("Sipsec-Verdict", b"integrity=pass").unwrap();
        m
    };
    // No verifier in the chain: the forged marks are gone, nothing else is added.
    let mut plain = Chain::new(vec![own("tag", 1000, FailMode::Open)]);
    let ChainOutcome::Pass {
        message: out,
        reports,
    } = plain.run(forged.clone(), &MessageContext::default())
    else {
        panic!("withheld")
    };
    assert!(subjects(&out).is_empty());
    assert_eq!(out.values_named("Sipsec-Verdict").count(), 0);
    assert_eq!(reports[0].verdict.warnings.len(), 2);
    // The verifier's mark stays.
    let mut verified = Chain::new(vec![marker(
        "verify",
        "validated <sip:support@callcentre.example>",
    )]);
    let ChainOutcome::Pass { message: out, .. } =
        verified.run(forged.clone(), &MessageContext::default())
    else {
        panic!("withheld")
    };
    assert_eq!(
        subjects(&out),
        ["validated <sip:support@callcentre.example>"]
    );
    // A stage after the verifier that adds a mark: withheld.
    let mut sneaky = Chain::new(vec![
        marker("verify", "validated <sip:support@callcentre.example>"),
        marker("other", "validated <sip:boss@bank.example>"),
    ]);
    let ChainOutcome::Withheld { reason, .. } = sneaky.run(forged, &MessageContext::default())
    else {
        panic!("a mark the verifier did not make went through")
    };
    assert!(reason.contains("boss@bank.example"), "{reason}");
}

#[test]
fn counters_follow_what_the_stages_said() {
    let report = |stage: &str, key: &str, failed: bool| {
        let mut verdict = Verdict::new();
        verdict.set(key, true);
        StageReport {
            stage: stage.into(),
            verdict,
            failed: failed.then(|| "broke".to_string()),
        }
    };
    let mut c = ChainCounters::default();
    c.tally(&ChainOutcome::Pass {
        message: message(1),
        reports: vec![
            report("sign", "signed", false),
            report("encrypt", "encrypted", true),
        ],
    });
    c.tally(&ChainOutcome::Pass {
        message: message(2),
        reports: vec![
            report("decrypt", "encrypted", false),
            report("verify", "marked", false),
        ],
    });
    c.tally(&ChainOutcome::Withheld {
        stage: "encrypt".into(),
        reason: "no certificate".into(),
        reports: vec![report("encrypt", "encrypted", true)],
    });
    assert_eq!(
        c,
        ChainCounters {
            signed: 1,
            encrypted: 0,
            verified: 1,
            decrypted: 1,
            refused: 1,
            passed_on_failure: 1,
        }
    );
}
