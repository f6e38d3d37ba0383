//! Captures as driver input: each UDP datagram is framed on its own (datagram rules), each TCP
//! flow through its own stream framer, and every message keeps the frames, time and addresses it
//! came from.

use super::{
    datagram, io, FrameEvent, ItemSink, OnGarbage, Origin, Prepared, Read, Reader, StreamFramer,
};
use crate::capture::{CaptureEvent, CaptureReader, FlowId, Problem, ProblemKind};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One TCP flow being framed.
struct Flow {
    framer: StreamFramer,
    /// Frames of the bytes pushed since the last message was completed.
    frames: Vec<u64>,
    last: crate::capture::CaptureOrigin,
}

impl Reader<'_> {
    pub(super) fn read_capture(
        &mut self,
        name: &Arc<str>,
        reader: Box<dyn Read + Send>,
        emit: &mut dyn ItemSink,
    ) -> io::Result<()> {
        let mut capture = CaptureReader::new(reader, self.options.capture_limits)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let mut flows: HashMap<FlowId, Flow> = HashMap::new();
        let mut progress = Progress::new(self.options.progress, self.tool, name);
        let mut since_flush = 0u32;
        while let Some(event) = capture.next_event() {
            match event {
                CaptureEvent::Datagram { origin, payload } => {
                    let origin = Origin::from_capture(name, origin);
                    let payload_len = payload.len() as u64;
                    // The payload becomes the message's own buffer: no copy.
                    match datagram(payload, self.options.max_size) {
                        Ok(d) => {
                            let len = d.message.len() as u64;
                            match d.trailing {
                                None => emit.item(self.prepare(d.message, origin)),
                                Some(trailing) => {
                                    emit.item(self.prepare(d.message, origin.clone()));
                                    let origin = Origin {
                                        offset: Some(len),
                                        ..origin
                                    };
                                    emit.item(self.garbage(origin, trailing.len() as u64));
                                }
                            }
                        }
                        Err(error) => emit.item(self.unparsable(origin, payload_len, &error)),
                    }
                }
                CaptureEvent::StreamData {
                    flow,
                    origin,
                    bytes,
                } => {
                    let max_size = self.options.max_size;
                    let state = flows.entry(flow).or_insert_with(|| Flow {
                        framer: StreamFramer::with_max_size(OnGarbage::Resync, max_size),
                        frames: Vec::new(),
                        last: origin.clone(),
                    });
                    state.frames.extend_from_slice(&origin.frames);
                    state.last = origin;
                    state.framer.push(&bytes);
                    self.drain_flow(name, state, emit);
                }
                CaptureEvent::StreamGap {
                    flow,
                    frame,
                    missing,
                    ..
                } => {
                    if let Some(state) = flows.get_mut(&flow) {
                        // What the framer holds can never complete: report it, start afresh.
                        state.framer.finish();
                        self.drain_flow(name, state, emit);
                        state.framer =
                            StreamFramer::with_max_size(OnGarbage::Resync, self.options.max_size);
                    }
                    let reason = format!("frame {frame}: {missing} bytes of the TCP flow {flow} were not captured; a message spanning them is incomplete");
                    emit.item(self.capture_problem(name, frame, reason, true));
                }
                CaptureEvent::StreamEnd { flow, .. } => {
                    if let Some(mut state) = flows.remove(&flow) {
                        state.framer.finish();
                        self.drain_flow(name, &mut state, emit);
                    }
                }
                CaptureEvent::Problem(Problem { frame, kind }) => {
                    // A TLS flow is reported, not refused: it is SIP we cannot read, not a defect.
                    let refused = !matches!(kind, ProblemKind::TlsFlow { .. });
                    emit.item(self.capture_problem(
                        name,
                        frame,
                        format!("frame {frame}: {kind}"),
                        refused,
                    ));
                }
            }
            since_flush += 1;
            if since_flush == 4096 {
                since_flush = 0;
                emit.flush();
                progress.tick(capture.summary().frames);
            }
        }
        let mut remaining: Vec<(FlowId, Flow)> = flows.into_iter().collect();
        remaining.sort_by_key(|(_, f)| f.frames.first().copied().unwrap_or(u64::MAX));
        for (_, mut state) in remaining {
            state.framer.finish();
            self.drain_flow(name, &mut state, emit);
        }
        progress.finish();
        self.captures
            .push((name.to_string(), capture.summary().clone()));
        emit.flush();
        Ok(())
    }

    fn drain_flow(&mut self, name: &Arc<str>, flow: &mut Flow, emit: &mut dyn ItemSink) {
        while let Some(event) = flow.framer.next_event() {
            let mut origin = Origin::from_capture(name, flow.last.clone());
            if !flow.frames.is_empty() {
                origin.frames = std::mem::take(&mut flow.frames);
            }
            let prepared: Prepared = match event {
                FrameEvent::Message { offset, message } => {
                    origin.offset = Some(offset);
                    self.prepare(message, origin)
                }
                FrameEvent::Refused {
                    offset, len, error, ..
                } => {
                    origin.offset = Some(offset);
                    self.unparsable(origin, len, &error)
                }
                FrameEvent::Garbage { offset, len, .. } => {
                    origin.offset = Some(offset);
                    self.garbage(origin, len)
                }
            };
            emit.item(prepared);
        }
        if flow.framer.buffered() > 0 {
            // The bytes held belong to the next message: keep the frame that brought them.
            flow.frames = flow.last.frames.clone();
        }
    }
}

/// A progress line on stderr while reading a long capture, only when stderr is a terminal.
struct Progress {
    enabled: bool,
    shown: bool,
    last: Instant,
    tool: &'static str,
    name: String,
}

impl Progress {
    fn new(wanted: bool, tool: &'static str, name: &str) -> Self {
        Progress {
            enabled: wanted && io::stderr().is_terminal(),
            shown: false,
            last: Instant::now(),
            tool,
            name: name.to_string(),
        }
    }

    fn tick(&mut self, frames: u64) {
        if self.enabled && self.last.elapsed() >= Duration::from_millis(250) {
            self.last = Instant::now();
            self.shown = true;
            let _ = write!(
                io::stderr(),
                "\rsipsec-{}: {}: {frames} frames read",
                self.tool,
                self.name
            );
        }
    }

    fn finish(&mut self) {
        if self.shown {
            let _ = writeln!(io::stderr());
        }
    }
}
