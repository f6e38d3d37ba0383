//! A chain stage run as a long-lived child: messages go to its stdin and come back on its
//! stdout in the framed stream (RFC 3261 messages with Content-Length, one after another),
//! one out for each one in, in order, as sipsec's filters already do.
//!
//! A child that exits, writes something that is not the answer to the message in flight, or
//! does not answer within the bounded wait is killed; the message in flight fails (and follows
//! the stage's fail mode) and the next message starts a new child. Restarts are at most one a
//! second, so a child that dies at once cannot make the relay fork for every message.

use crate::filter::FailMode;
use crate::framing::{FrameEvent, OnGarbage, StreamFramer};
use crate::message::{unfold, HeaderKind, Message};
use std::io::{self, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

/// The least time between two starts of a child.
const RESTART_INTERVAL: Duration = Duration::from_secs(1);

struct Running {
    child: Child,
    /// To the thread that writes to the child's stdin (a write into the full pipe of a child
    /// that stopped reading would block; there it blocks that thread only, until the child is
    /// killed).
    input: SyncSender<Vec<u8>>,
    output: Receiver<Result<Message, String>>,
}

/// One external command of a chain.
pub struct ChildStage {
    argv: Vec<String>,
    name: String,
    fail_mode: FailMode,
    timeout: Duration,
    max_size: usize,
    running: Option<Running>,
    last_start: Option<Instant>,
    starts: u64,
}

impl ChildStage {
    /// Starts `argv` now, so that a command that cannot run is reported at start-up.
    pub fn start(
        argv: Vec<String>,
        fail_mode: FailMode,
        timeout: Duration,
        max_size: usize,
    ) -> io::Result<ChildStage> {
        let name = argv.first().cloned().unwrap_or_default();
        let mut stage = ChildStage {
            argv,
            name,
            fail_mode,
            timeout,
            max_size,
            running: None,
            last_start: None,
            starts: 0,
        };
        stage.running = Some(stage.spawn()?);
        Ok(stage)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn fail_mode(&self) -> FailMode {
        self.fail_mode
    }

    /// Starts after the first.
    pub fn restarts(&self) -> u64 {
        self.starts.saturating_sub(1)
    }

    fn spawn(&mut self) -> io::Result<Running> {
        let (program, args) = self
            .argv
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
        self.last_start = Some(Instant::now());
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("{program}: {e}")))?;
        self.starts += 1;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, output) = mpsc::sync_channel(4);
        let max_size = self.max_size;
        std::thread::spawn(move || read_messages(stdout, max_size, tx));
        let (input, rx) = mpsc::sync_channel(1);
        std::thread::spawn(move || write_messages(stdin, rx));
        Ok(Running {
            child,
            input,
            output,
        })
    }

    /// Kills the child (it is ours: started by [`ChildStage::spawn`]) and reaps it.
    fn stop(&mut self) {
        if let Some(mut r) = self.running.take() {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }

    /// Sends one message through the child; the answer, or why there is none.
    pub fn process(&mut self, message: &Message) -> Result<Message, String> {
        if self.running.is_none() {
            if self
                .last_start
                .is_some_and(|t| t.elapsed() < RESTART_INTERVAL)
            {
                return Err(format!("{} is restarting", self.name));
            }
            self.running = Some(self.spawn().map_err(|e| e.to_string())?);
        }
        let result = self.exchange(message);
        if result.is_err() {
            self.stop();
        }
        result
    }

    fn exchange(&mut self, message: &Message) -> Result<Message, String> {
        let name = self.name.clone();
        let r = self.running.as_mut().expect("running");
        r.input
            .try_send(message.as_bytes().to_vec())
            .map_err(|_| format!("{name}: not reading its input"))?;
        match r.output.recv_timeout(self.timeout) {
            Ok(Ok(answer)) => {
                if same_transaction(message, &answer) {
                    Ok(answer)
                } else {
                    Err(format!(
                        "{name}: answered with another message (Call-ID or CSeq differ)"
                    ))
                }
            }
            Ok(Err(why)) => Err(format!("{name}: {why}")),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "{name}: no answer within {} ms",
                self.timeout.as_millis()
            )),
            Err(RecvTimeoutError::Disconnected) => {
                let status = r
                    .child
                    .wait()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                Err(format!("{name}: exited ({status})"))
            }
        }
    }
}

impl Drop for ChildStage {
    fn drop(&mut self) {
        self.stop();
    }
}

fn same_transaction(a: &Message, b: &Message) -> bool {
    [HeaderKind::CallId, HeaderKind::CSeq].into_iter().all(|k| {
        let (x, y) = (a.value(k), b.value(k));
        x.is_some() && x.map(unfold) == y.map(unfold)
    })
}

/// Writes each message to the child's stdin, until the child or the stage is gone.
fn write_messages(mut stdin: ChildStdin, rx: Receiver<Vec<u8>>) {
    for bytes in rx {
        if stdin
            .write_all(&bytes)
            .and_then(|()| stdin.flush())
            .is_err()
        {
            return;
        }
    }
}

/// Frames the child's stdout into messages until it ends or writes something else.
fn read_messages(
    mut stdout: impl Read,
    max_size: usize,
    tx: mpsc::SyncSender<Result<Message, String>>,
) {
    let mut framer = StreamFramer::with_max_size(OnGarbage::Stop, max_size);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(event) = framer.next_event() {
            let item = match event {
                FrameEvent::Message { message, .. } => Ok(message),
                FrameEvent::Refused { error, .. } => Err(format!("wrote a bad message: {error}")),
                FrameEvent::Garbage { .. } => Err("wrote bytes that are not SIP".to_string()),
            };
            let stop = item.is_err();
            if tx.send(item).is_err() || stop {
                return;
            }
        }
        match stdout.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => framer.push(&buf[..n]),
        }
    }
}
