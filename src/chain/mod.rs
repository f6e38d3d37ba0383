//! Filter chains on live traffic: `CMD | CMD …`, each message through every stage in turn.
//!
//! A stage is either one of sipsec's own tools, run in process (no fork, no pipe: the relay
//! hands it the message and the context, attribution included), or any other command, run as a
//! long-lived child speaking the framed stream on stdin and stdout ([`child`]). Each message
//! yields exactly one outcome: the message as the chain left it, or a refusal naming the stage
//! and the reason. A stage that fails follows its fail mode: open passes the message on as it
//! was before that stage (with a warning), closed withholds it.

pub mod child;
pub mod worker;

use crate::filter::control::{self, ControlCheck};
use crate::filter::mark::{foreign_mark, mark_lines, strip_marks};
use crate::filter::{FailMode, Filter, MessageContext, Verdict};
use crate::message::Message;
use crate::uri::Aor;

/// A chain as written: stages, each a program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpec {
    pub stages: Vec<Vec<String>>,
}

impl ChainSpec {
    /// Splits `CMD ARG … | CMD ARG …` into stages and words, with the shell's quoting
    /// (`'…'`, `"…"` with `\"` and `\\`, and `\` outside quotes); nothing is expanded and no
    /// shell runs.
    pub fn parse(text: &str) -> Result<ChainSpec, String> {
        let mut stages = vec![Vec::new()];
        let mut word: Option<String> = None;
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '|' => {
                    if let Some(w) = word.take() {
                        stages.last_mut().expect("one stage").push(w);
                    }
                    stages.push(Vec::new());
                }
                c if c.is_whitespace() => {
                    if let Some(w) = word.take() {
                        stages.last_mut().expect("one stage").push(w);
                    }
                }
                '\'' => {
                    let w = word.get_or_insert_with(String::new);
                    loop {
                        match chars.next() {
                            Some('\'') => break,
                            Some(c) => w.push(c),
                            None => return Err("unterminated ' quote".into()),
                        }
                    }
                }
                '"' => {
                    let w = word.get_or_insert_with(String::new);
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(c @ ('"' | '\\')) => w.push(c),
                                Some(c) => {
                                    w.push('\\');
                                    w.push(c);
                                }
                                None => return Err("unterminated \" quote".into()),
                            },
                            Some(c) => w.push(c),
                            None => return Err("unterminated \" quote".into()),
                        }
                    }
                }
                '\\' => match chars.next() {
                    Some(c) => word.get_or_insert_with(String::new).push(c),
                    None => return Err("a \\ at the end".into()),
                },
                c => word.get_or_insert_with(String::new).push(c),
            }
        }
        if let Some(w) = word.take() {
            stages.last_mut().expect("one stage").push(w);
        }
        if stages.iter().any(Vec::is_empty) {
            return Err("an empty stage (two | in a row, or one at an end)".into());
        }
        Ok(ChainSpec { stages })
    }
}

/// One stage of a chain.
pub enum Stage {
    /// One of sipsec's tools, in process, with its fail mode.
    Own {
        filter: Box<dyn Filter + Send>,
        fail_mode: FailMode,
    },
    /// Any other command, as a long-lived child.
    Child(child::ChildStage),
}

impl Stage {
    fn name(&self) -> String {
        match self {
            Stage::Own { filter, .. } => filter.name().to_string(),
            Stage::Child(c) => c.name().to_string(),
        }
    }

    /// Whether the stage is sipsec's verifier, which judges the marks it is given and makes
    /// the only ones a message may carry (`Subject: validated`, `Sipsec-Verdict`).
    fn judges_marks(&self) -> bool {
        match self {
            Stage::Own { filter, .. } => filter.judges_marks(),
            Stage::Child(c) => std::path::Path::new(c.name())
                .file_name()
                .is_some_and(|n| n == "sipsec-verify"),
        }
    }
}

/// What one stage said about a message.
#[derive(Debug, Clone, PartialEq)]
pub struct StageReport {
    pub stage: String,
    pub verdict: Verdict,
    /// Why the stage failed, when it did and the message went on (fail-open).
    pub failed: Option<String>,
}

impl StageReport {
    /// The identity a signing stage signed as, when it signed (sipsec-sign's verdict says
    /// `signed` and `signed_as`).
    pub fn signed_as(&self) -> Option<Aor> {
        let signed = self.verdict.fields.get("signed")?.as_bool()?;
        let aor = self.verdict.fields.get("signed_as")?.as_str()?;
        signed.then(|| Aor::parse(aor).ok()).flatten()
    }
}

/// What the chains did, for the relay's status (SIGUSR1, the status file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChainCounters {
    pub signed: u64,
    pub encrypted: u64,
    /// Verified and marked.
    pub verified: u64,
    pub decrypted: u64,
    /// Withheld by a stage.
    pub refused: u64,
    /// Stages that failed and let the message through unchanged (fail-open).
    pub passed_on_failure: u64,
}

impl ChainCounters {
    /// Counts what one message's outcome says each stage did.
    pub fn tally(&mut self, outcome: &ChainOutcome) {
        let reports = match outcome {
            ChainOutcome::Pass { reports, .. } => reports,
            ChainOutcome::Withheld { reports, .. } => {
                self.refused += 1;
                reports
            }
        };
        for r in reports {
            if r.failed.is_some() {
                if matches!(outcome, ChainOutcome::Pass { .. }) {
                    self.passed_on_failure += 1;
                }
                continue;
            }
            let yes = |key: &str| r.verdict.fields.get(key).and_then(|v| v.as_bool()) == Some(true);
            match r.stage.as_str() {
                "sign" if yes("signed") => self.signed += 1,
                "encrypt" if yes("encrypted") => self.encrypted += 1,
                "verify" if yes("marked") => self.verified += 1,
                "decrypt" if yes("encrypted") => self.decrypted += 1,
                _ => {}
            }
        }
    }
}

/// What became of a message.
#[derive(Debug, Clone)]
pub enum ChainOutcome {
    /// The message to send on, and what each stage said.
    Pass {
        message: Message,
        reports: Vec<StageReport>,
    },
    /// Withheld by a stage that failed closed.
    Withheld {
        stage: String,
        reason: String,
        reports: Vec<StageReport>,
    },
}

/// A chain ready to run.
pub struct Chain {
    stages: Vec<Stage>,
}

impl Chain {
    pub fn new(stages: Vec<Stage>) -> Chain {
        Chain { stages }
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// What applies when the chain cannot take a message at all: closed if any stage fails
    /// closed.
    pub fn fail_mode(&self) -> FailMode {
        let closed = self.stages.iter().any(|s| match s {
            Stage::Own { fail_mode, .. } => *fail_mode == FailMode::Closed,
            Stage::Child(c) => c.fail_mode() == FailMode::Closed,
        });
        if closed {
            FailMode::Closed
        } else {
            FailMode::Open
        }
    }

    /// Whether a stage is sipsec-sign in process: the one signer whose verdict says what it
    /// signed as (a child only gives the message back).
    pub fn signs_in_process(&self) -> bool {
        self.stages
            .iter()
            .any(|s| matches!(s, Stage::Own { filter, .. } if filter.name() == "sign"))
    }

    /// How many times child stages were restarted.
    pub fn restarts(&self) -> u64 {
        self.stages
            .iter()
            .map(|s| match s {
                Stage::Child(c) => c.restarts(),
                Stage::Own { .. } => 0,
            })
            .sum()
    }

    /// Runs one message, as it arrived from the network or a member, through every stage.
    ///
    /// A control header the message brings is removed first: what the relay knows about the
    /// message travels in `context`.
    ///
    /// The filter contract's rules on marks hold through the chain as between processes:
    /// a mark the message brings is removed first (from outside, a mark is a forgery until
    /// sipsec-verify says otherwise); a stage that judges marks (sipsec-verify) makes the ones
    /// the message may carry from then on; any other stage that would pass on a mark that is
    /// not one of those fails (and follows its fail mode, which never forwards that mark).
    pub fn run(&mut self, mut message: Message, context: &MessageContext) -> ChainOutcome {
        let mut removed = strip_marks(&mut message);
        // Control data comes from the relay (the context), never from the message.
        if let ControlCheck::Invalid(_) = control::take(&mut message, None) {
            removed.push(format!("{}: …", control::HEADER));
        }
        let mut context = MessageContext {
            marks: Vec::new(),
            ..context.clone()
        };
        let mut reports: Vec<StageReport> = Vec::with_capacity(self.stages.len());
        for stage in &mut self.stages {
            let name = stage.name();
            let judges_marks = stage.judges_marks();
            let (result, fail_mode) = match stage {
                Stage::Own { filter, fail_mode } => (
                    filter
                        .process(&message, &context)
                        .map(|p| (p.message, p.verdict))
                        .map_err(|f| (f.reason, f.verdict)),
                    *fail_mode,
                ),
                Stage::Child(c) => match c.process(&message, &context) {
                    Ok(m) => (Ok((Some(m), Verdict::default())), c.fail_mode()),
                    // The tool withheld it itself: withheld, whatever the stage's mode.
                    Err(child::ChildError::Withheld(reason)) => {
                        (Err((reason, Verdict::default())), FailMode::Closed)
                    }
                    Err(child::ChildError::Failed(reason)) => {
                        (Err((reason, Verdict::default())), c.fail_mode())
                    }
                },
            };
            let result = result.and_then(|(changed, verdict)| {
                let out = changed.as_ref().unwrap_or(&message);
                match foreign_mark(out, &context.marks) {
                    Some(line) if !judges_marks => Err((
                        format!("the output would carry a mark no sipsec-verify made: {line:?}"),
                        verdict,
                    )),
                    _ => Ok((changed, verdict)),
                }
            });
            match result {
                Ok((changed, verdict)) => {
                    if let Some(m) = changed {
                        message = m;
                    }
                    if judges_marks {
                        context.marks = mark_lines(&message);
                    }
                    reports.push(StageReport {
                        stage: name,
                        verdict,
                        failed: None,
                    });
                }
                Err((reason, verdict)) => {
                    reports.push(StageReport {
                        stage: name.clone(),
                        verdict,
                        failed: Some(reason.clone()),
                    });
                    if fail_mode == FailMode::Closed {
                        return ChainOutcome::Withheld {
                            stage: name,
                            reason,
                            reports,
                        };
                    }
                }
            }
        }
        if let Some(first) = reports.first_mut() {
            for r in &removed {
                first
                    .verdict
                    .warn(format!("removed a mark that came with the message: {r}"));
            }
        }
        ChainOutcome::Pass { message, reports }
    }
}

#[cfg(test)]
mod tests;
