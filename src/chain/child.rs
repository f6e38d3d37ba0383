//! A chain stage run as a long-lived child: messages go to its stdin and come back on its
//! stdout in the framed stream (RFC 3261 messages with Content-Length, one after another),
//! one out for each one in, in order, as sipsec's filters already do.
//!
//! A child that exits, writes something that is not the answer to the message in flight, or
//! does not answer within the bounded wait is killed; the message in flight fails (and follows
//! the stage's fail mode) and the next message starts a new child. A child that had answered
//! before it failed is restarted at once; one that failed on its first message is restarted at
//! most once a second, so a child that dies at once cannot make the relay fork for every
//! message.
//!
//! A child that is one of sipsec's own tools is given the run's control key on descriptor 3
//! (never in its arguments or environment) and each message carries the control header with
//! its attribution; what it writes back must carry a header that verifies under the key, and
//! a refusal placeholder from it means the tool withheld the message.

use crate::filter::control::{self, ControlCheck, ControlData, ControlKey, ControlKind};
use crate::filter::mark::{self, mark_lines};
use crate::filter::{FailMode, MessageContext};
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

/// Why a message did not come through a child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildError {
    /// The child failed (exited, hung, wrote something else): the stage's fail mode decides.
    Failed(String),
    /// A sipsec tool withheld the message on purpose (its own fail mode said so).
    Withheld(String),
}

impl ChildError {
    pub fn reason(&self) -> &str {
        match self {
            ChildError::Failed(r) | ChildError::Withheld(r) => r,
        }
    }
}

/// One external command of a chain.
pub struct ChildStage {
    argv: Vec<String>,
    /// The control key, for a child that is a sipsec tool.
    control: Option<ControlKey>,
    seq: u64,
    name: String,
    fail_mode: FailMode,
    timeout: Duration,
    max_size: usize,
    running: Option<Running>,
    last_start: Option<Instant>,
    starts: u64,
    /// Messages the running child (or the last one) answered.
    answered: u64,
}

impl ChildStage {
    /// Starts `argv` now, so that a command that cannot run is reported at start-up.
    /// `control`: the run's control key, for a child that is one of sipsec's tools (it is
    /// told `--control-key-fd 3 --keep-control`).
    pub fn start(
        mut argv: Vec<String>,
        control: Option<ControlKey>,
        fail_mode: FailMode,
        timeout: Duration,
        max_size: usize,
    ) -> io::Result<ChildStage> {
        let name = argv.first().cloned().unwrap_or_default();
        if control.is_some() {
            argv.extend(["--control-key-fd", "3", "--keep-control"].map(String::from));
        }
        let mut stage = ChildStage {
            argv,
            control,
            seq: 0,
            name,
            fail_mode,
            timeout,
            max_size,
            running: None,
            last_start: None,
            starts: 0,
            answered: 0,
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
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let key_pipe = match &self.control {
            Some(key) => Some(pass_on_fd3(&mut command, key)?),
            None => None,
        };
        let spawned = command.spawn();
        // The read end is the child's now (or nobody's): close ours.
        drop(key_pipe);
        let mut child = spawned.map_err(|e| io::Error::new(e.kind(), format!("{program}: {e}")))?;
        self.starts += 1;
        self.answered = 0;
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
    pub fn process(
        &mut self,
        message: &Message,
        context: &MessageContext,
    ) -> Result<Message, ChildError> {
        if self.running.is_none() {
            if self.answered == 0
                && self
                    .last_start
                    .is_some_and(|t| t.elapsed() < RESTART_INTERVAL)
            {
                return Err(ChildError::Failed(format!("{} is restarting", self.name)));
            }
            self.running = Some(
                self.spawn()
                    .map_err(|e| ChildError::Failed(e.to_string()))?,
            );
        }
        let mut outgoing = message.clone();
        let sent = self.control.as_ref().map(|key| {
            self.seq += 1;
            let data = ControlData {
                seq: self.seq,
                origin: context.origin.clone(),
                attribution: context.attribution.as_ref().map(ToString::to_string),
                // Marks a sipsec-verify of the chain made are vouched for, so the tool keeps
                // them; the chain let no other through.
                marks: {
                    let lines = mark_lines(message);
                    (!lines.is_empty() && lines == context.marks).then(|| mark::digest(&lines))
                },
            };
            control::attach(&mut outgoing, key, ControlKind::Message, &data);
            self.seq
        });
        let result = self
            .exchange(&outgoing)
            .map_err(ChildError::Failed)
            .and_then(|answer| self.check_control(answer, sent));
        match result {
            Err(ChildError::Failed(_)) => self.stop(),
            _ => self.answered += 1,
        }
        result
    }

    /// A sipsec child's answer must carry our control header for the same message; the header
    /// is removed before the message goes on.
    fn check_control(&self, mut answer: Message, sent: Option<u64>) -> Result<Message, ChildError> {
        let (Some(key), Some(seq)) = (&self.control, sent) else {
            return Ok(answer);
        };
        let name = &self.name;
        match control::take(&mut answer, Some(key)) {
            ControlCheck::Valid { data, .. } if data.seq != seq => Err(ChildError::Failed(
                format!("{name}: answered for message {} instead of {seq}", data.seq),
            )),
            ControlCheck::Valid {
                kind: ControlKind::Refusal,
                ..
            } => Err(ChildError::Withheld(format!(
                "{name}: {}",
                control::refusal_reason(&answer)
            ))),
            ControlCheck::Valid { .. } => Ok(answer),
            ControlCheck::Absent => Err(ChildError::Failed(format!(
                "{name}: its answer carries no control header"
            ))),
            ControlCheck::Invalid(why) => Err(ChildError::Failed(format!(
                "{name}: its answer's control header: {why}"
            ))),
        }
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

/// Makes the child find `key` on its descriptor 3: a pipe holding the key in hex, its write
/// end closed. Returns the parent's copy of the read end, to close once the child is started.
fn pass_on_fd3(command: &mut Command, key: &ControlKey) -> io::Result<std::fs::File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::process::CommandExt;
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two descriptors we then own; O_CLOEXEC keeps them from other
    // children.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just made and are owned by nothing else.
    let (read, mut write) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    // 64 hex digits fit in any pipe's buffer: this never blocks.
    write.write_all(key.to_hex().as_bytes())?;
    drop(write);
    let fd = read.as_raw_fd();
    // SAFETY: between fork and exec only async-signal-safe calls: dup2 and fcntl.
    unsafe {
        command.pre_exec(move || {
            if fd == 3 {
                // Already in place: only the close-on-exec flag must go.
                if libc::fcntl(3, libc::F_SETFD, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) != 3 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(read)
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
