//! The driver: reads inputs, frames them, hands each message to the tool, and writes results
//! and records in input order, with `--jobs N` workers.
//!
//! Three stages: a reader (framing, control header check, sequence numbers: sequential, so a
//! replayed sequence number is caught), workers (the tool's transformation), and the writing,
//! which restores input order and takes, in that order, the steps a tool left for it (the part
//! of a decision that depends on the messages before: sipsec-verify's replays). In-flight items
//! are bounded, so memory stays bounded by the number of jobs and the message size cap,
//! whatever the input size.

use super::control::{self, ControlCheck, ControlData, ControlKey, ControlKind};
use super::mark;
use super::report::{Disposition, Record, Refusal};
use super::{Examined, FailMode, Failure, Filter, InOrderStep, MessageContext, Origin, Processed};
use crate::capture::{sniff_format, CaptureSummary, IpProtocol, Limits, PcapOut, Timestamp};
use crate::error::ParseError;
use crate::framing::{datagram, FrameEvent, OnGarbage, StreamFramer};
use crate::message::{Framing, Message, DEFAULT_MAX_SIZE};
use crate::uri::Aor;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// One input: a name for reports and the bytes.
pub struct Input {
    /// Shared by the origin of every message read from it.
    pub name: Arc<str>,
    pub reader: Box<dyn Read + Send>,
    pub kind: InputKind,
}

/// How an input's bytes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// SIP messages (stream or datagram framing, as the run says).
    Messages,
    /// A pcap or pcapng capture.
    Capture,
    /// A capture if it starts with a pcap or pcapng magic number, else messages.
    Sniff,
}

impl Input {
    pub fn new(name: impl Into<Arc<str>>, reader: impl Read + Send + 'static) -> Self {
        Self::of_kind(name, reader, InputKind::Messages)
    }

    pub fn of_kind(
        name: impl Into<Arc<str>>,
        reader: impl Read + Send + 'static,
        kind: InputKind,
    ) -> Self {
        Input {
            name: name.into(),
            reader: Box::new(reader),
            kind,
        }
    }
}

mod capture;

/// How a run behaves; the command-line layer fills it from the shared options.
#[derive(Debug, Clone)]
pub struct DriverOptions {
    pub framing: Framing,
    pub max_size: usize,
    pub fail_mode: FailMode,
    pub jobs: usize,
    /// Write the records, not the messages, on the message output.
    pub json: bool,
    pub control_key: Option<ControlKey>,
    /// Write the control header on output messages (for the next sipsec filter).
    pub keep_control: bool,
    pub capture_limits: Limits,
    /// Show progress while reading captures (only when stderr is a terminal).
    pub progress: bool,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            framing: Framing::Stream,
            max_size: DEFAULT_MAX_SIZE,
            fail_mode: FailMode::Open,
            jobs: 1,
            json: false,
            control_key: None,
            keep_control: false,
            capture_limits: Limits::default(),
            progress: false,
        }
    }
}

/// Where the driver writes; flushed at the end of the run.
pub struct Sinks<'a> {
    /// SIP messages, framed for the next filter (or the records, with `json`).
    pub output: Box<dyn Write + Send + 'a>,
    /// One JSON record a line per item (`--report`).
    pub report: Option<Box<dyn Write + Send + 'a>>,
    /// One human line per warning or refusal (stderr unless quiet).
    pub diagnostics: Option<Box<dyn Write + Send + 'a>>,
    /// The output messages as a capture (`--pcap-out`), with their original addresses and times.
    pub pcap: Option<PcapOut<Box<dyn Write + Send + 'a>>>,
}

/// Counts of what happened, for the exit code and the summary line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    pub messages: u64,
    pub unchanged: u64,
    pub changed: u64,
    pub passed_on_failure: u64,
    pub withheld: u64,
    pub unparsable: u64,
    pub garbage: u64,
    pub garbage_bytes: u64,
    pub warnings: u64,
    /// Capture records that could not be read (lying lengths, truncation, gaps…).
    pub capture_problems: u64,
    /// Inputs that could not be read to the end.
    pub input_errors: u64,
    /// The capture reader's own summary, per capture input.
    pub captures: Vec<(String, CaptureSummary)>,
    /// Messages written to `--pcap-out` that did not come from a capture, so were given
    /// placeholder addresses.
    pub pcap_placeholder_origins: u64,
}

impl RunSummary {
    /// True when any item was not written: withheld, unparsable or not SIP.
    pub fn anything_refused(&self) -> bool {
        self.withheld + self.unparsable + self.garbage + self.capture_problems > 0
    }

    fn count(&mut self, record: &Record) {
        match record.disposition {
            Disposition::Unchanged => self.unchanged += 1,
            Disposition::Changed => self.changed += 1,
            Disposition::PassedOnFailure => self.passed_on_failure += 1,
            Disposition::Withheld | Disposition::WithheldUpstream => self.withheld += 1,
            Disposition::Unparsable => self.unparsable += 1,
            Disposition::Garbage => {
                self.garbage += 1;
                self.garbage_bytes += record.len.unwrap_or(0);
            }
            Disposition::CaptureProblem => self.capture_problems += 1,
            Disposition::CaptureNote => {}
        }
        if record.index.is_some() && record.disposition != Disposition::Unparsable {
            self.messages += 1;
        }
        self.warnings += record.warnings.len() as u64;
    }

    /// One line for `-v`.
    pub fn line(&self, tool: &str) -> String {
        format!(
            "sipsec-{tool}: {} messages: {} changed, {} unchanged, {} passed unchanged on failure, {} withheld; {} unparsable; {} non-SIP runs ({} bytes); {} warnings",
            self.messages,
            self.changed,
            self.unchanged,
            self.passed_on_failure,
            self.withheld,
            self.unparsable,
            self.garbage,
            self.garbage_bytes,
            self.warnings
        )
    }
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("cannot write output: {0}")]
    Output(io::Error),
}

/// An item after the reader: either ready to write, or a message for the tool.
// The large variant is the common one (nearly every item is a message): boxing it would cost an
// allocation per message to save space only on the rare ready items.
#[allow(clippy::large_enum_variant)]
enum Prepared {
    Ready(Done),
    Process {
        message: Message,
        context: MessageContext,
        warnings: Vec<String>,
        /// Incoming marks were removed: the message is changed whatever the tool does.
        marks_removed: bool,
    },
}

/// An item ready to write.
struct Done {
    bytes: Option<Vec<u8>>,
    /// Boxed: a record is over 500 bytes, and an item moves through several hands.
    record: Box<Record>,
}

/// A finished item with its report line, rendered where it was finished: with `--jobs`, on a
/// worker rather than on the one writing thread.
struct Rendered {
    done: Done,
    line: Option<String>,
}

impl Rendered {
    fn new(work: &Work<'_>, done: Done) -> Rendered {
        let line = work.describe.then(|| done.record.to_json_line());
        Rendered { done, line }
    }
}

/// An item as a worker hands it to the writing: rendered, or waiting for the tool's in-order
/// step (finished and rendered by the writing, in input order, only for such messages).
/// Boxed while waiting: most items do not, and they stay small.
enum Worked<'f> {
    Rendered(Rendered),
    Waiting(Box<Examining>, Box<dyn InOrderStep + 'f>),
}

impl<'f> Worked<'f> {
    fn new(work: &Work<'f>, prepared: Prepared) -> Worked<'f> {
        match examine(work, prepared) {
            Ok((examining, Examined::Decided(outcome))) => {
                Worked::Rendered(Rendered::new(work, conclude(work, examining, outcome)))
            }
            Ok((examining, Examined::InOrder(step))) => Worked::Waiting(Box::new(examining), step),
            Err(done) => Worked::Rendered(Rendered::new(work, done)),
        }
    }

    /// Takes the waiting step: called in input order.
    fn in_order(self, work: &Work<'_>) -> Rendered {
        match self {
            Worked::Rendered(rendered) => rendered,
            Worked::Waiting(examining, step) => {
                Rendered::new(work, conclude(work, *examining, step.decide()))
            }
        }
    }
}

/// Runs `filter` over `inputs` to completion. Per-message problems never end the run; only a
/// failure to write does.
pub fn run(
    filter: &dyn Filter,
    options: &DriverOptions,
    inputs: Vec<Input>,
    sinks: Sinks<'_>,
) -> Result<RunSummary, DriverError> {
    let jobs = options.jobs.max(1);
    let work = Work {
        filter,
        options,
        // Call-ID, From, To… are only looked up, and the record rendered, when it is
        // written somewhere.
        describe: options.json || sinks.report.is_some(),
    };
    let writer = Writer {
        sinks,
        json: options.json,
        summary: RunSummary::default(),
        failure: None,
    };
    if jobs == 1 {
        let mut inline = Inline {
            work: &work,
            writer,
        };
        let mut reader = Reader::new(filter, options);
        reader.read_all(inputs, &mut inline);
        inline.writer.summary.input_errors = reader.input_errors;
        inline.writer.summary.captures = reader.captures;
        return inline.writer.finish();
    }
    run_parallel(&work, inputs, writer, jobs)
}

/// What every worker needs to finish an item.
struct Work<'a> {
    filter: &'a dyn Filter,
    options: &'a DriverOptions,
    describe: bool,
}

/// Where the reader hands prepared items: `item` for each, `flush` when the input has nothing
/// more for now (the end of a read), so a live pipeline never waits for a batch to fill.
trait ItemSink {
    fn item(&mut self, prepared: Prepared);
    fn flush(&mut self);
}

/// One job: finish and write each item at once.
struct Inline<'w, 'a> {
    work: &'w Work<'w>,
    writer: Writer<'a>,
}

impl ItemSink for Inline<'_, '_> {
    fn item(&mut self, prepared: Prepared) {
        if self.writer.failure.is_none() {
            let rendered = Worked::new(self.work, prepared).in_order(self.work);
            self.writer.write(rendered);
        }
    }

    fn flush(&mut self) {
        self.writer.flush();
    }
}

/// Items travel to the workers in batches: one channel operation per batch, not per message.
/// 256 rather than 64: on a capture of small UDP messages, 64 spent a third of the CPU of
/// `--jobs 2` waking threads (3.1 s of CPU against 2.8 s; max RSS 22 MB against 35 MB).
/// A partial batch still leaves at every read boundary, so a live pipeline does not wait.
const BATCH: usize = 256;

type Batch<T> = (u64, Vec<T>);

/// Several jobs: the reader's side, batching items for the workers.
struct Dispatch {
    batch: Vec<Prepared>,
    seq: u64,
    work_tx: SyncSender<Batch<Prepared>>,
    permit_tx: SyncSender<()>,
}

impl ItemSink for Dispatch {
    fn item(&mut self, prepared: Prepared) {
        self.batch.push(prepared);
        if self.batch.len() == BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        // An error means the writer stopped; the run is ending anyway.
        if self.permit_tx.send(()).is_ok() {
            let _ = self.work_tx.send((self.seq, batch));
        }
        self.seq += 1;
    }
}

fn run_parallel(
    work: &Work<'_>,
    inputs: Vec<Input>,
    writer: Writer<'_>,
    jobs: usize,
) -> Result<RunSummary, DriverError> {
    let in_flight = jobs * 4;
    // A permit per batch in flight: the reader waits for the writing, so the reorder buffer
    // never holds more than `in_flight` batches.
    let (permit_tx, permit_rx) = sync_channel::<()>(in_flight);
    let ordered = Mutex::new(Ordered {
        work,
        writer,
        pending: BTreeMap::new(),
        next: 0,
        permits: permit_rx,
    });
    let (work_tx, work_rx) = sync_channel::<Batch<Prepared>>(in_flight);
    let work_rx = Mutex::new(work_rx);
    let reader_result = std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (work_rx, ordered) = (&work_rx, &ordered);
            scope.spawn(move || worker(work, work_rx, ordered));
        }
        let options = work.options;
        let filter = work.filter;
        let reader = scope.spawn(move || {
            let mut reader = Reader::new(filter, options);
            let mut dispatch = Dispatch {
                batch: Vec::with_capacity(BATCH),
                seq: 0,
                work_tx,
                permit_tx,
            };
            reader.read_all(inputs, &mut dispatch);
            dispatch.flush();
            (reader.input_errors, reader.captures)
        });
        reader.join().unwrap_or_default()
    });
    // Every worker has delivered its last batch: nothing is pending.
    let mut writer = match ordered.into_inner() {
        Ok(ordered) => ordered.writer,
        Err(poisoned) => poisoned.into_inner().writer,
    };
    (writer.summary.input_errors, writer.summary.captures) = reader_result;
    writer.finish()
}

/// The writing, shared by the workers: whichever finishes the batch next in order takes the
/// tool's in-order steps and writes it, and every batch already waiting behind it. Most memory
/// is then freed by the thread that allocated it; a separate writer thread freed everything the
/// workers made, and those cross-thread frees were a third of the cost of `--jobs 2` on a
/// capture.
struct Ordered<'w, 'a> {
    work: &'w Work<'w>,
    writer: Writer<'a>,
    pending: BTreeMap<u64, Vec<Worked<'w>>>,
    next: u64,
    permits: Receiver<()>,
}

impl<'w> Ordered<'w, '_> {
    fn deliver(&mut self, seq: u64, batch: Vec<Worked<'w>>) {
        self.pending.insert(seq, batch);
        while let Some(batch) = self.pending.remove(&self.next) {
            self.next += 1;
            for worked in batch {
                let rendered = worked.in_order(self.work);
                self.writer.write(rendered);
            }
            // The reader sent this batch's permit before the batch: this never waits.
            let _ = self.permits.recv();
        }
        if self.pending.is_empty() {
            self.writer.flush();
        }
    }
}

fn worker<'w>(
    work: &'w Work<'w>,
    jobs: &Mutex<Receiver<Batch<Prepared>>>,
    ordered: &Mutex<Ordered<'w, '_>>,
) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((seq, batch)) = job else { return };
        let finished = batch.into_iter().map(|p| Worked::new(work, p)).collect();
        match ordered.lock() {
            Ok(mut ordered) => ordered.deliver(seq, finished),
            Err(_) => return,
        }
    }
}

/// A message the tool has examined, its outcome not yet applied.
struct Examining {
    message: Message,
    context: MessageContext,
    /// Boxed: a record is over 500 bytes, and an item moves through several hands.
    record: Box<Record>,
    /// Incoming marks were removed: the message is changed whatever the tool does.
    marks_removed: bool,
}

/// Runs the tool's part that may run on any worker; an item with nothing to run is done.
fn examine<'f>(work: &Work<'f>, prepared: Prepared) -> Result<(Examining, Examined<'f>), Done> {
    let (message, context, warnings, marks_removed) = match prepared {
        Prepared::Ready(done) => return Err(done),
        Prepared::Process {
            message,
            context,
            warnings,
            marks_removed,
        } => (message, context, warnings, marks_removed),
    };
    // The origin moves into the record once the context is no longer needed.
    let mut record = Box::new(Record::new(
        work.filter.name(),
        Disposition::Unchanged,
        Origin::default(),
    ));
    record.index = Some(context.index);
    record.attribution = context.attribution.as_ref().map(Aor::to_string);
    if work.describe {
        record.describe(&message);
    }
    record.warnings = warnings;
    let examined = work.filter.examine(&message, &context);
    let examining = Examining {
        message,
        context,
        record,
        marks_removed,
    };
    Ok((examining, examined))
}

/// Applies the tool's outcome: the marks rule, the fail mode, the control header.
fn conclude(work: &Work<'_>, examining: Examining, outcome: Result<Processed, Failure>) -> Done {
    let (filter, options) = (work.filter, work.options);
    let Examining {
        message,
        context,
        mut record,
        marks_removed,
    } = examining;
    let fail_mode = options.fail_mode;
    let processed = outcome.and_then(|p| {
        // A tool that judges marks has proved its own output (and its marks are not in
        // `context.marks`): the output is looked at only for the other tools.
        if filter.judges_marks() {
            return Ok(p);
        }
        let out = p.message.as_ref().unwrap_or(&message);
        match mark::foreign_mark(out, &context.marks) {
            Some(line) => Err(Failure::with_verdict(
                format!(
                    "the output would carry a mark no sipsec-verify of this run made: {line:?}"
                ),
                p.verdict,
            )),
            None => Ok(p),
        }
    });
    let (out, disposition) = match processed {
        Ok(processed) => {
            record.set_verdict(processed.verdict);
            match processed.message {
                Some(changed) => (Some(changed), Disposition::Changed),
                None if marks_removed => (Some(message), Disposition::Changed),
                None => (Some(message), Disposition::Unchanged),
            }
        }
        Err(failure) => {
            record.set_verdict(failure.verdict);
            record.fail_mode = Some(fail_mode);
            match fail_mode {
                FailMode::Open => {
                    record
                        .warnings
                        .push(format!("passed on unchanged: {}", failure.reason));
                    (Some(message), Disposition::PassedOnFailure)
                }
                FailMode::Closed => {
                    record.refusal = Some(Refusal::at(&context.origin, failure.reason.clone()));
                    let placeholder = control_key_for_output(options).map(|key| {
                        control::refusal_placeholder(
                            Some(&message),
                            key,
                            &control_data(&context),
                            &failure.reason,
                            filter.name(),
                        )
                    });
                    record.disposition = Disposition::Withheld;
                    record.origin = context.origin;
                    return Done {
                        bytes: placeholder.map(Message::into_bytes),
                        record,
                    };
                }
            }
        }
    };
    record.disposition = disposition;
    let bytes = out.map(|mut m| {
        if let Some(key) = control_key_for_output(options) {
            let mut data = control_data(&context);
            let marks = mark::mark_lines(&m);
            data.marks = (!marks.is_empty()).then(|| mark::digest(&marks));
            control::attach(&mut m, key, ControlKind::Message, &data);
        }
        m.into_bytes()
    });
    record.origin = context.origin;
    Done { bytes, record }
}

fn control_key_for_output(options: &DriverOptions) -> Option<&ControlKey> {
    options
        .control_key
        .as_ref()
        .filter(|_| options.keep_control)
}

fn control_data(context: &MessageContext) -> ControlData {
    ControlData {
        seq: context.index,
        origin: context.origin.clone(),
        attribution: context.attribution.as_ref().map(Aor::to_string),
        marks: None,
    }
}

/// The sequential first stage: framing, control headers, sequence numbers.
struct Reader<'a> {
    tool: &'static str,
    /// The tool judges incoming marks itself ([`Filter::judges_marks`]).
    judges_marks: bool,
    options: &'a DriverOptions,
    next_index: u64,
    /// The highest sequence number a verified control header carried: a lower or equal one is a
    /// replay.
    last_control_seq: Option<u64>,
    input_errors: u64,
    captures: Vec<(String, CaptureSummary)>,
}

/// Bytes asked for in one read of a stream input.
const READ_SIZE: usize = 64 * 1024;

impl<'a> Reader<'a> {
    fn new(filter: &dyn Filter, options: &'a DriverOptions) -> Self {
        Reader {
            tool: filter.name(),
            judges_marks: filter.judges_marks(),
            options,
            next_index: 0,
            last_control_seq: None,
            input_errors: 0,
            captures: Vec::new(),
        }
    }

    fn read_all(&mut self, inputs: Vec<Input>, emit: &mut dyn ItemSink) {
        for input in inputs {
            let result = match sniff(input.reader, input.kind) {
                Ok((reader, InputKind::Capture)) => self.read_capture(&input.name, reader, emit),
                Ok((reader, _)) => match self.options.framing {
                    Framing::Stream => self.read_stream(&input.name, reader, emit),
                    Framing::Datagram => self.read_datagram(&input.name, reader, emit),
                },
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                self.input_errors += 1;
                let mut record = Record::new(
                    self.tool,
                    Disposition::Unparsable,
                    origin_at(&input.name, None),
                );
                record.refusal = Some(Refusal::at(
                    &record.origin,
                    format!("input could not be read to the end: {e}"),
                ));
                emit.item(Prepared::Ready(Done {
                    bytes: None,
                    record: Box::new(record),
                }));
            }
        }
    }

    fn read_stream(
        &mut self,
        name: &Arc<str>,
        mut reader: Box<dyn Read + Send>,
        emit: &mut dyn ItemSink,
    ) -> io::Result<()> {
        let mut framer = StreamFramer::with_max_size(OnGarbage::Resync, self.options.max_size);
        loop {
            match framer.read_from(&mut reader, READ_SIZE) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    framer.finish();
                    self.drain(name, &mut framer, emit);
                    return Err(e);
                }
            }
            self.drain(name, &mut framer, emit);
        }
        framer.finish();
        self.drain(name, &mut framer, emit);
        Ok(())
    }

    fn drain(&mut self, name: &Arc<str>, framer: &mut StreamFramer, emit: &mut dyn ItemSink) {
        while let Some(event) = framer.next_event() {
            let prepared = match event {
                FrameEvent::Message { offset, message } => {
                    self.prepare(message, origin_at(name, Some(offset)))
                }
                FrameEvent::Refused {
                    offset, len, error, ..
                } => self.unparsable(origin_at(name, Some(offset)), len, &error),
                FrameEvent::Garbage { offset, len, .. } => {
                    self.garbage(origin_at(name, Some(offset)), len)
                }
            };
            emit.item(prepared);
        }
        emit.flush();
    }

    fn read_datagram(
        &mut self,
        name: &Arc<str>,
        mut reader: Box<dyn Read + Send>,
        emit: &mut dyn ItemSink,
    ) -> io::Result<()> {
        let mut bytes = Vec::new();
        reader
            .by_ref()
            .take(self.options.max_size as u64 + 1)
            .read_to_end(&mut bytes)?;
        let origin = origin_at(name, Some(0));
        let bytes_len = bytes.len() as u64;
        match datagram(bytes, self.options.max_size) {
            Ok(d) => {
                let len = d.message.len() as u64;
                emit.item(self.prepare(d.message, origin));
                if let Some(trailing) = d.trailing {
                    emit.item(self.garbage(origin_at(name, Some(len)), trailing.len() as u64));
                }
            }
            Err(error) => emit.item(self.unparsable(origin, bytes_len, &error)),
        }
        emit.flush();
        Ok(())
    }

    /// A capture record that could not be read, or a note about one (a TLS flow).
    fn capture_problem(
        &mut self,
        name: &Arc<str>,
        frame: u64,
        reason: String,
        refused: bool,
    ) -> Prepared {
        let origin = Origin {
            input: Some(Arc::clone(name)),
            frames: vec![frame],
            ..Origin::default()
        };
        let disposition = if refused {
            Disposition::CaptureProblem
        } else {
            Disposition::CaptureNote
        };
        let mut record = Record::new(self.tool, disposition, origin);
        record.refusal = Some(Refusal::at(&record.origin, reason));
        Prepared::Ready(Done {
            bytes: None,
            record: Box::new(record),
        })
    }

    fn take_index(&mut self) -> u64 {
        let index = self.next_index;
        self.next_index += 1;
        index
    }

    fn unparsable(&mut self, origin: Origin, len: u64, error: &ParseError) -> Prepared {
        let byte = origin.offset.map(|o| o + error.offset as u64);
        let mut record = Record::new(self.tool, Disposition::Unparsable, origin);
        record.index = Some(self.take_index());
        record.len = Some(len);
        record.refusal = Some(Refusal {
            reason: error.kind.to_string(),
            byte,
            header: error.header.clone(),
        });
        Prepared::Ready(Done {
            bytes: None,
            record: Box::new(record),
        })
    }

    fn garbage(&mut self, origin: Origin, len: u64) -> Prepared {
        let mut record = Record::new(self.tool, Disposition::Garbage, origin);
        record.len = Some(len);
        record.refusal = Some(Refusal::at(
            &record.origin,
            "bytes that are not a SIP message",
        ));
        Prepared::Ready(Done {
            bytes: None,
            record: Box::new(record),
        })
    }

    /// Checks and removes the control header, and decides what the message's context is.
    fn prepare(&mut self, mut message: Message, origin: Origin) -> Prepared {
        let local_index = self.take_index();
        let mut warnings = Vec::new();
        let mut context = MessageContext {
            index: local_index,
            origin,
            attribution: None,
            marks: Vec::new(),
        };
        let check = control::take(&mut message, self.options.control_key.as_ref());
        let trusted = match check {
            ControlCheck::Absent => None,
            ControlCheck::Invalid(why) => {
                warnings.push(format!(
                    "untrusted {} header removed: {why}",
                    control::HEADER
                ));
                None
            }
            ControlCheck::Valid { kind, data } => {
                if self.last_control_seq.is_some_and(|last| data.seq <= last) {
                    warnings.push(format!(
                        "{} header removed: sequence number {} replayed or out of order",
                        control::HEADER,
                        data.seq
                    ));
                    None
                } else {
                    self.last_control_seq = Some(data.seq);
                    Some((kind, data))
                }
            }
        };
        if let Some((kind, data)) = &trusted {
            context.index = data.seq;
            // The upstream origin names the real source; where this filter read it from is
            // only the pipe.
            context.origin = data.origin.clone();
            context.attribution = data.attribution.as_deref().and_then(|a| Aor::parse(a).ok());
            if *kind == ControlKind::Refusal {
                return self.upstream_refusal(message, context, data.clone(), warnings);
            }
        }
        if control::is_refusal_placeholder(&message) {
            let mut record = Record::new(self.tool, Disposition::Withheld, context.origin.clone());
            record.index = Some(context.index);
            record.warnings = warnings;
            record.refusal = Some(Refusal::at(
                &context.origin,
                "a refusal placeholder without a valid control header (forged)",
            ));
            return Prepared::Ready(Done {
                bytes: None,
                record: Box::new(record),
            });
        }
        let mut marks_removed = false;
        if !self.judges_marks {
            let lines = mark::mark_lines(&message);
            let vouched = trusted.as_ref().and_then(|(_, d)| d.marks.as_deref());
            if !lines.is_empty() && vouched == Some(mark::digest(&lines).as_str()) {
                context.marks = lines;
            } else {
                for line in mark::strip_marks(&mut message) {
                    warnings.push(format!(
                        "removed an incoming mark that no sipsec-verify of this run made: {line}"
                    ));
                    marks_removed = true;
                }
            }
            if let Some(line) = mark::foreign_mark(&message, &context.marks) {
                // Whatever the fail mode: passing it on would forward the hidden mark.
                let reason = format!("a mark hidden in the header (a folded line): {line:?}");
                let mut record =
                    Record::new(self.tool, Disposition::Withheld, context.origin.clone());
                record.index = Some(context.index);
                record.warnings = warnings;
                record.refusal = Some(Refusal::at(&context.origin, reason.clone()));
                let placeholder = control_key_for_output(self.options).map(|key| {
                    let data = control_data(&context);
                    control::refusal_placeholder(Some(&message), key, &data, &reason, self.tool)
                });
                return Prepared::Ready(Done {
                    bytes: placeholder.map(Message::into_bytes),
                    record: Box::new(record),
                });
            }
        }
        Prepared::Process {
            message,
            context,
            warnings,
            marks_removed,
        }
    }

    /// A placeholder for a message an earlier filter withheld: passed along (when this filter
    /// also keeps control headers) or turned into a refusal record at the end of the pipeline.
    fn upstream_refusal(
        &self,
        mut message: Message,
        context: MessageContext,
        data: ControlData,
        warnings: Vec<String>,
    ) -> Prepared {
        let mut record = Record::new(
            self.tool,
            Disposition::WithheldUpstream,
            context.origin.clone(),
        );
        record.index = Some(context.index);
        record.warnings = warnings;
        record.call_id = message
            .value(crate::HeaderKind::CallId)
            .map(|v| String::from_utf8_lossy(v).into_owned());
        record.cseq = message
            .value(crate::HeaderKind::CSeq)
            .map(|v| String::from_utf8_lossy(v).into_owned());
        record.refusal = Some(Refusal::at(
            &context.origin,
            control::refusal_reason(&message),
        ));
        let bytes = control_key_for_output(self.options).map(|key| {
            control::attach(&mut message, key, ControlKind::Refusal, &data);
            message.into_bytes()
        });
        Prepared::Ready(Done {
            bytes,
            record: Box::new(record),
        })
    }
}

/// Where a message that did not come from a capture is put in `--pcap-out`: UDP between two
/// documentation addresses (RFC 5737), at time zero, so it is plainly not a real origin.
fn placeholder_capture_origin() -> crate::capture::CaptureOrigin {
    crate::capture::CaptureOrigin {
        frames: Vec::new(),
        timestamp: Timestamp::default(),
        src: "192.0.2.1:5060".parse().expect("a literal address"),
        dst: "192.0.2.2:5060".parse().expect("a literal address"),
        transport: IpProtocol::Udp,
    }
}

/// Decides a sniffed input's kind from its first four bytes, which are put back in front.
fn sniff(
    mut reader: Box<dyn Read + Send>,
    kind: InputKind,
) -> io::Result<(Box<dyn Read + Send>, InputKind)> {
    if kind != InputKind::Sniff {
        return Ok((reader, kind));
    }
    let mut magic = Vec::with_capacity(4);
    reader.by_ref().take(4).read_to_end(&mut magic)?;
    let is_capture = <[u8; 4]>::try_from(&magic[..])
        .ok()
        .and_then(sniff_format)
        .is_some();
    let kind = if is_capture {
        InputKind::Capture
    } else {
        InputKind::Messages
    };
    Ok((Box::new(io::Cursor::new(magic).chain(reader)), kind))
}

fn origin_at(name: &Arc<str>, offset: Option<u64>) -> Origin {
    Origin {
        input: Some(Arc::clone(name)),
        offset,
        ..Origin::default()
    }
}

/// The last stage: writes messages and records in order. After a write fails it writes
/// nothing more and the run ends with the error.
struct Writer<'a> {
    sinks: Sinks<'a>,
    json: bool,
    summary: RunSummary,
    failure: Option<io::Error>,
}

impl Writer<'_> {
    fn write(&mut self, rendered: Rendered) {
        self.summary.count(&rendered.done.record);
        if self.failure.is_none() {
            if let Err(e) = self.try_write(&rendered) {
                self.failure = Some(e);
            }
        }
    }

    fn try_write(&mut self, rendered: &Rendered) -> io::Result<()> {
        let done = &rendered.done;
        let line = rendered.line.as_deref().unwrap_or_default();
        if self.json {
            self.sinks.output.write_all(line.as_bytes())?;
        } else if let Some(bytes) = &done.bytes {
            self.sinks.output.write_all(bytes)?;
        }
        if let (Some(pcap), Some(bytes)) = (self.sinks.pcap.as_mut(), &done.bytes) {
            let origin = done.record.origin.capture().unwrap_or_else(|| {
                self.summary.pcap_placeholder_origins += 1;
                placeholder_capture_origin()
            });
            pcap.write(&origin, bytes).map_err(io::Error::other)?;
        }
        if let Some(report) = self.sinks.report.as_mut() {
            report.write_all(line.as_bytes())?;
        }
        if let Some(diag) = self.sinks.diagnostics.as_mut() {
            // Best effort: a closed stderr must not stop the run.
            let _ = write_diagnostics(diag, &done.record);
        }
        Ok(())
    }

    /// Pushes written messages on to the next process (a live pipeline must not wait).
    fn flush(&mut self) {
        if self.failure.is_none() {
            if let Err(e) = self.sinks.output.flush() {
                self.failure = Some(e);
            }
        }
    }

    fn finish(mut self) -> Result<RunSummary, DriverError> {
        self.flush();
        if let Some(pcap) = self.sinks.pcap.take() {
            if let Err(e) = pcap.into_inner().flush() {
                self.failure.get_or_insert(e);
            }
        }
        if let Some(report) = self.sinks.report.as_mut() {
            if let Err(e) = report.flush() {
                self.failure.get_or_insert(e);
            }
        }
        match self.failure {
            Some(e) => Err(DriverError::Output(e)),
            None => Ok(self.summary),
        }
    }
}

fn write_diagnostics(out: &mut dyn Write, record: &Record) -> io::Result<()> {
    if record.warnings.is_empty() && record.refusal.is_none() {
        return Ok(());
    }
    let origin = &record.origin;
    let input = origin.input.as_deref().unwrap_or("input");
    let place = match (origin.frames.iter().max(), origin.offset, record.index) {
        (Some(frame), _, Some(index)) => format!("{input}: message {index} (frame {frame})"),
        (Some(_), _, None) => input.to_string(),
        (None, Some(offset), Some(index)) => format!("{input}: message {index} at byte {offset}"),
        (None, Some(offset), None) => format!("{input}: byte {offset}"),
        (None, None, Some(index)) => format!("{input}: message {index}"),
        (None, None, None) => input.to_string(),
    };
    for warning in &record.warnings {
        writeln!(out, "sipsec-{}: warning: {place}: {warning}", record.tool)?;
    }
    if let Some(refusal) = &record.refusal {
        let what = match record.disposition {
            Disposition::Garbage => format!("{} bytes skipped", record.len.unwrap_or(0)),
            Disposition::Unparsable => "refused".to_string(),
            Disposition::CaptureProblem => "record skipped".to_string(),
            Disposition::CaptureNote => "note".to_string(),
            _ => "withheld".to_string(),
        };
        writeln!(
            out,
            "sipsec-{}: {place}: {what}: {}",
            record.tool, refusal.reason
        )?;
    }
    Ok(())
}
