//! The bridge between the UI thread and the background runtime: tasks run on tokio, their results
//! come back over a channel, and the app drains them with `try_recv` at the start of each frame.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use tokio::runtime::Handle;

pub struct Bridge<M> {
    runtime: Handle,
    sender: Sender<M>,
    receiver: Receiver<M>,
    in_flight: Arc<AtomicUsize>,
    ctx: egui::Context,
}

impl<M: Send + 'static> Bridge<M> {
    pub fn new(runtime: Handle, ctx: egui::Context) -> Self {
        let (sender, receiver) = channel();
        Bridge {
            runtime,
            sender,
            receiver,
            in_flight: Arc::default(),
            ctx,
        }
    }

    /// Runs `task` in the background; its result arrives through [`Bridge::drain`].
    pub fn spawn(&self, task: impl Future<Output = M> + Send + 'static) {
        let sender = self.sender.clone();
        let ctx = self.ctx.clone();
        let in_flight = self.in_flight.clone();
        in_flight.fetch_add(1, Ordering::SeqCst);
        self.runtime.spawn(async move {
            // Counted down even if the task panics, so the spinner never spins forever.
            let _done = InFlight(in_flight);
            let message = task.await;
            let _ = sender.send(message);
            ctx.request_repaint();
        });
    }

    /// Runs blocking work (keychain, clipboard) on the runtime's blocking pool.
    pub fn spawn_blocking(&self, work: impl FnOnce() -> M + Send + 'static) {
        self.spawn(async move {
            match tokio::task::spawn_blocking(work).await {
                Ok(message) => message,
                Err(err) => std::panic::resume_unwind(err.into_panic()),
            }
        });
    }

    /// Runs a long-lived task (the live-list watcher) that sends messages when it has something
    /// to say, each waking the UI. It does not count as work in flight.
    pub fn watch<F: Future<Output = ()> + Send + 'static>(
        &self,
        task: impl FnOnce(Notifier<M>) -> F,
    ) {
        let notifier = Notifier {
            sender: self.sender.clone(),
            ctx: self.ctx.clone(),
        };
        self.runtime.spawn(task(notifier));
    }

    pub fn drain(&self) -> Vec<M> {
        self.receiver.try_iter().collect()
    }

    /// Background tasks still running: the status bar shows a spinner while this is not zero.
    pub fn busy(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) > 0
    }

    pub fn ctx(&self) -> &egui::Context {
        &self.ctx
    }
}

/// How a long-lived task hands a message to the UI.
pub struct Notifier<M> {
    sender: Sender<M>,
    ctx: egui::Context,
}

impl<M> Notifier<M> {
    /// Sends `message` and wakes the UI; `false` once the app is gone.
    pub fn send(&self, message: M) -> bool {
        let sent = self.sender.send(message).is_ok();
        if sent {
            self.ctx.request_repaint();
        }
        sent
    }
}

struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
