//! The relay's filter chains on live traffic: what the network layer hands a chain, and what
//! it does with each outcome.
//!
//! A forwarded message whose [`Passage`] names a chain the relay runs is not sent at once: it
//! goes to that chain's thread ([`ChainWorker`]) and is sent when its outcome comes back, in
//! the order it went in. Every message has exactly one outcome: sent as the chain left it,
//! sent unchanged (a fail-open stage failed, or the chain had no room and fails open), or
//! withheld — a request then gets an answer (493 when it could not be decrypted here, 503
//! when the chain had no room, 403 otherwise), a response is dropped. Marks never leave the
//! relay over anything but TLS: on another transport a terminal could not tell the relay's
//! mark from one forged on the way.

use super::core::{Decision, Passage, Relay, Transmit};
use super::{Peer, Transport};
use crate::auth::audit::{AuditLog, AuditRecord};
use crate::chain::worker::ChainWorker;
use crate::chain::{Chain, ChainCounters, ChainOutcome, StageReport};
use crate::filter::control;
use crate::filter::mark::{mark_lines, strip_marks};
use crate::filter::{FailMode, MessageContext, Origin};
use crate::message::Message;
use crate::smime::certs_only;
use crate::uri::Aor;
use openssl::x509::X509;

/// The certificate a 493 carries for the terminal a request was meant for.
pub type CertificateOf = Box<dyn Fn(&Aor) -> Option<X509>>;

/// What the relay runs on live traffic.
pub struct LiveOptions {
    /// For messages from authenticated members.
    pub outbound: Option<Chain>,
    /// For messages towards the relay's terminals.
    pub inbound: Option<Chain>,
    /// Messages waiting for each chain at most.
    pub queue: usize,
    /// One line per signature made as a group.
    pub audit: Option<AuditLog>,
    pub certificate_of: Option<CertificateOf>,
}

/// A message on its way through a chain: where it goes once the chain is done, and what is
/// needed to answer for it if the chain withholds it.
pub struct Pending {
    pub transmit: Transmit,
    pub from: Peer,
    pub passage: Passage,
}

/// What the relay's chains have done, for the status line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounters {
    pub chains: ChainCounters,
    /// Messages withheld because a chain's queue was full.
    pub chain_busy: u64,
    /// Marks removed because the message left over UDP or TCP.
    pub marks_kept_off_plain_transports: u64,
    pub filter_restarts: u64,
}

/// A chain on its thread, with the fail mode that applies when it cannot take a message.
struct Running {
    worker: ChainWorker<Pending>,
    fail_mode: FailMode,
}

impl Running {
    fn start(
        chain: Chain,
        queue: usize,
        done: tokio::sync::mpsc::UnboundedSender<(Pending, ChainOutcome)>,
    ) -> Running {
        let fail_mode = chain.fail_mode();
        let worker = ChainWorker::start(chain, queue, move |pending, outcome| {
            // The event loop is gone only when the relay stops.
            let _ = done.send((pending, outcome));
        });
        Running { worker, fail_mode }
    }
}

/// The chains, running.
pub struct Live {
    outbound: Option<Running>,
    inbound: Option<Running>,
    audit: Option<AuditLog>,
    certificate_of: Option<CertificateOf>,
    counters: LiveCounters,
    seq: u64,
    in_flight: usize,
}

/// What to do with a message once its passage is settled.
pub enum Next {
    /// Sent by the chain's thread; its outcome comes back later.
    Queued,
    /// Send this now.
    Send(Decision),
}

impl Live {
    /// Starts the chains; their outcomes are sent to `done`.
    pub fn start(
        opts: LiveOptions,
        done: tokio::sync::mpsc::UnboundedSender<(Pending, ChainOutcome)>,
    ) -> Live {
        let start = |c: Option<Chain>| c.map(|c| Running::start(c, opts.queue, done.clone()));
        Live {
            outbound: start(opts.outbound),
            inbound: start(opts.inbound),
            audit: opts.audit,
            certificate_of: opts.certificate_of,
            counters: LiveCounters::default(),
            seq: 0,
            in_flight: 0,
        }
    }

    pub fn counters(&self) -> LiveCounters {
        let restarts = |r: &Option<Running>| r.as_ref().map_or(0, |r| r.worker.restarts());
        LiveCounters {
            filter_restarts: restarts(&self.outbound) + restarts(&self.inbound),
            ..self.counters
        }
    }

    /// Messages handed to a chain whose outcome has not come back yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether a message of this passage goes through a chain.
    pub fn runs(&self, passage: &Passage) -> bool {
        match passage {
            Passage::Outbound(_) => self.outbound.is_some(),
            Passage::Inbound => self.inbound.is_some(),
        }
    }

    /// Hands a forwarded message to its chain. A message the chain has no room for follows
    /// the chain's fail mode at once.
    pub fn submit(&mut self, relay: &Relay, pending: Pending) -> Next {
        let message = match Message::parse(pending.transmit.bytes.clone()) {
            Ok(m) => m,
            // The relay made these bytes from a parsed message: they parse.
            Err(e) => return Next::Send(Decision::drop(format!("unparsable forward: {e}"))),
        };
        self.seq += 1;
        let context = MessageContext {
            index: self.seq,
            origin: Origin {
                src: Some(pending.from.addr),
                ..Origin::default()
            },
            attribution: match &pending.passage {
                Passage::Outbound(a) => Some(a.member.clone()),
                Passage::Inbound => None,
            },
            marks: Vec::new(),
        };
        let running = match pending.passage {
            Passage::Outbound(_) => &self.outbound,
            Passage::Inbound => &self.inbound,
        };
        let Some(running) = running else {
            return Next::Send(self.unchanged(relay, pending));
        };
        let fail_mode = running.fail_mode;
        match running.worker.submit(message, context, pending) {
            Ok(()) => {
                self.in_flight += 1;
                Next::Queued
            }
            Err(busy) => {
                self.counters.chain_busy += 1;
                let pending = busy.tag;
                Next::Send(match fail_mode {
                    FailMode::Open => self.unchanged(relay, pending),
                    FailMode::Closed => self.withhold(
                        relay,
                        &pending,
                        (503, "Service Unavailable"),
                        &[("Retry-After", "1".to_string())],
                        "the filter chain is full",
                    ),
                })
            }
        }
    }

    /// What becomes of a message once its chain is done with it.
    pub fn finish(&mut self, relay: &Relay, pending: Pending, outcome: ChainOutcome) -> Decision {
        self.in_flight -= 1;
        self.counters.chains.tally(&outcome);
        match outcome {
            ChainOutcome::Pass { message, reports } => {
                if let Passage::Outbound(a) = &pending.passage {
                    self.audit(a, &pending, &message, &reports);
                }
                self.send(relay, pending, message)
            }
            ChainOutcome::Withheld {
                stage,
                reason,
                reports,
            } => {
                // Whatever the cause (not for a key this side holds, or one that does not open
                // it), one answer: the sender learns nothing more than "not decipherable here".
                let undecipherable = reports.last().is_some_and(|r| {
                    let field = |k: &str| r.verdict.fields.get(k);
                    r.stage == "decrypt"
                        && field("encrypted").and_then(|v| v.as_bool()) == Some(true)
                        && matches!(
                            field("result").and_then(|v| v.as_str()),
                            Some("not opened" | "refused")
                        )
                });
                let why = format!("withheld by {stage}: {reason}");
                if undecipherable {
                    self.undecipherable(relay, &pending, &why)
                } else {
                    self.withhold(relay, &pending, (403, "Forbidden"), &[], &why)
                }
            }
        }
    }

    fn audit(
        &mut self,
        attribution: &crate::auth::attribution::Attribution,
        pending: &Pending,
        message: &Message,
        reports: &[StageReport],
    ) {
        let Some(log) = self.audit.as_mut() else {
            return;
        };
        for signed_as in reports.iter().filter_map(StageReport::signed_as) {
            let record = AuditRecord::new(
                crate::clock::now_unix(),
                attribution,
                &signed_as,
                pending.from,
                message,
            );
            if let Err(e) = log.record(&record) {
                eprintln!("sipsec-relay: audit log: {e}");
            }
        }
    }

    /// The message as the relay would have sent it without a chain; from the network, its
    /// marks and any control header are removed all the same.
    fn unchanged(&mut self, relay: &Relay, pending: Pending) -> Decision {
        let mut message = match Message::parse(pending.transmit.bytes.clone()) {
            Ok(m) => m,
            Err(e) => return Decision::drop(format!("unparsable forward: {e}")),
        };
        strip_marks(&mut message);
        control::take(&mut message, None);
        self.send(relay, pending, message)
    }

    fn send(&mut self, relay: &Relay, pending: Pending, mut message: Message) -> Decision {
        let mut transmit = pending.transmit;
        relay.fit_transport(&mut transmit, &mut message);
        if transmit.to.transport != Transport::Tls && !mark_lines(&message).is_empty() {
            strip_marks(&mut message);
            self.counters.marks_kept_off_plain_transports += 1;
        }
        transmit.bytes = message.into_bytes();
        Decision::forwarded(transmit)
    }

    /// A request is answered; a response is dropped.
    fn withhold(
        &self,
        relay: &Relay,
        pending: &Pending,
        (code, reason): (u16, &str),
        extra: &[(&str, String)],
        why: &str,
    ) -> Decision {
        match Message::parse(pending.transmit.bytes.clone()) {
            Ok(m) if m.is_request() => {
                relay.answer_withheld(&m, pending.from, code, reason, extra, why)
            }
            _ => Decision::drop(why.to_string()),
        }
    }

    /// 493 with the terminal's certificate, when this side has it (RFC 3261 §23.2).
    fn undecipherable(&self, relay: &Relay, pending: &Pending, why: &str) -> Decision {
        let mut d = self.withhold(relay, pending, (493, "Undecipherable"), &[], why);
        let to = Message::parse(pending.transmit.bytes.clone())
            .ok()
            .and_then(|m| m.to().ok().and_then(|t| t.uri().aor()));
        let cert = to
            .as_ref()
            .and_then(|aor| self.certificate_of.as_ref().and_then(|f| f(aor)));
        if let (Some(t), Some(cert)) = (d.transmits.first_mut(), cert) {
            let attached = Message::parse(t.bytes.clone())
                .map_err(|e| e.to_string())
                .and_then(|mut response| {
                    certs_only::attach_certificate(&mut response, Some(&cert))?;
                    Ok(response)
                });
            match attached {
                Ok(response) => t.bytes = response.into_bytes(),
                Err(e) => eprintln!("sipsec-relay: a 493 without the certificate: {e}"),
            }
        }
        d
    }
}
