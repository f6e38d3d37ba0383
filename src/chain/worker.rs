//! A chain on its own thread, fed through a bounded queue, so that the relay's event loop never
//! waits for a signature or a child. Messages come out in the order they went in, each with
//! what the caller attached to it (where it goes); a full queue is refused at once, and the
//! caller applies the chain's fail mode to that message.

use super::{Chain, ChainOutcome};
use crate::filter::MessageContext;
use crate::message::Message;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

struct Job<T> {
    message: Message,
    context: MessageContext,
    tag: T,
}

/// The handle the event loop holds.
pub struct ChainWorker<T: Send + 'static> {
    jobs: Option<SyncSender<Job<T>>>,
    thread: Option<JoinHandle<Chain>>,
    restarts: Arc<AtomicU64>,
    /// Set when the handle is dropped: the messages still queued are not run.
    abandoned: Arc<AtomicBool>,
}

/// A message the queue had no room for, given back.
pub struct Busy<T> {
    pub message: Message,
    pub tag: T,
}

impl<T: Send + 'static> ChainWorker<T> {
    /// Runs `chain` on a new thread with room for `capacity` waiting messages; each outcome is
    /// handed to `done` with its tag, in order.
    pub fn start(
        mut chain: Chain,
        capacity: usize,
        done: impl Fn(T, ChainOutcome) + Send + 'static,
    ) -> ChainWorker<T> {
        let (jobs, rx) = mpsc::sync_channel::<Job<T>>(capacity.max(1));
        let restarts = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&restarts);
        let abandoned = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&abandoned);
        let thread = std::thread::Builder::new()
            .name("sipsec-chain".into())
            .spawn(move || {
                for job in rx {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let outcome = chain.run(job.message, &job.context);
                    seen.store(chain.restarts(), Ordering::Relaxed);
                    done(job.tag, outcome);
                }
                chain
            })
            .expect("spawn the chain thread");
        ChainWorker {
            jobs: Some(jobs),
            thread: Some(thread),
            restarts,
            abandoned,
        }
    }

    /// How many times the chain's children were restarted, as of its last message.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Queues a message; when the queue is full it is given back.
    pub fn submit(&self, message: Message, context: MessageContext, tag: T) -> Result<(), Busy<T>> {
        let job = Job {
            message,
            context,
            tag,
        };
        let jobs = self.jobs.as_ref().expect("running until dropped");
        jobs.try_send(job).map_err(|e| {
            let job = match e {
                TrySendError::Full(j) | TrySendError::Disconnected(j) => j,
            };
            Busy {
                message: job.message,
                tag: job.tag,
            }
        })
    }

    /// Lets the queued messages through, then stops the thread; gives the chain back.
    pub fn finish(mut self) -> Option<Chain> {
        self.jobs.take();
        self.thread.take().and_then(|t| t.join().ok())
    }
}

/// Dropped without [`ChainWorker::finish`] (the relay stopping after its drain time): the
/// message in the chain is finished, the ones queued behind it are not run, so stopping takes
/// at most one message's bounded time.
impl<T: Send + 'static> Drop for ChainWorker<T> {
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::Relaxed);
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::Stage;
    use crate::filter::{FailMode, Failure, Filter, Processed, Verdict};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    struct Slow;

    impl Filter for Slow {
        fn name(&self) -> &'static str {
            "slow"
        }

        fn default_fail_mode(&self) -> FailMode {
            FailMode::Open
        }

        fn process(&self, _: &Message, _: &MessageContext) -> Result<Processed, Failure> {
            std::thread::sleep(Duration::from_millis(20));
            Ok(Processed::unchanged(Verdict::new()))
        }
    }

    fn message(n: u32) -> Message {
        Message::parse(format!(
            "OPTIONS sip:x@y SIP/2.0\r\nCall-ID: c\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    #[test]
    fn outcomes_come_back_in_order_and_a_full_queue_gives_the_message_back() {
        let chain = Chain::new(vec![Stage::Own {
            filter: Box::new(Slow),
            fail_mode: FailMode::Open,
        }]);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = Arc::clone(&seen);
        let worker = ChainWorker::start(chain, 2, move |tag: u32, outcome| {
            assert!(matches!(outcome, ChainOutcome::Pass { .. }));
            seen2.lock().unwrap().push(tag);
        });
        let mut busy = Vec::new();
        for n in 1..=10 {
            if let Err(b) = worker.submit(message(n), MessageContext::default(), n) {
                assert_eq!(b.message.cseq().unwrap().seq, n);
                busy.push(b.tag);
            }
        }
        assert!(!busy.is_empty(), "a queue of two took ten slow messages");
        worker.finish().expect("the chain back");
        let seen = seen.lock().unwrap().clone();
        let mut all: Vec<u32> = seen.iter().chain(&busy).copied().collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (1..=10).collect::<Vec<_>>(),
            "each message exactly once"
        );
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    }

    #[test]
    fn dropping_the_handle_leaves_the_queued_messages_unrun() {
        let chain = Chain::new(vec![Stage::Own {
            filter: Box::new(Slow),
            fail_mode: FailMode::Open,
        }]);
        let ran = Arc::new(Mutex::new(0));
        let counted = Arc::clone(&ran);
        let worker = ChainWorker::start(chain, 10, move |_: u32, _| {
            *counted.lock().unwrap() += 1;
        });
        for n in 1..=10 {
            assert!(worker
                .submit(message(n), MessageContext::default(), n)
                .is_ok());
        }
        drop(worker);
        let ran = *ran.lock().unwrap();
        assert!(ran < 10, "all {ran} queued messages ran");
    }
}
