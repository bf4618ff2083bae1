//! The worker thread: complete analyses of documents whose slow spaces the server left
//! pending after an edit, so that the server's loop never waits for them.
//!
//! The server sends a [`Job`] (the document's text and the unsaved texts of the files it
//! may import); the worker checks it from scratch with a cache of its own per document and
//! no deferral, and sends back its cache as [`Done`], which the server merges into the
//! document's cache before publishing again. Jobs that queue up while the worker is busy
//! are coalesced: only the latest text of each document is analysed.

use std::collections::HashMap;
use std::path::PathBuf;

use crossbeam_channel::{Receiver, Sender};

use super::analysis::{Analysis, SpaceCache};

/// A document to analyse completely.
pub struct Job {
    /// The document's URI, as text.
    pub uri: String,
    /// The version of the text.
    pub version: i32,
    /// The name diagnostics use for it.
    pub name: String,
    /// Its text.
    pub text: String,
    /// The folder its imports resolve against.
    pub dir: Option<PathBuf>,
    /// The unsaved texts of the other open files, by canonical path.
    pub overlay: HashMap<PathBuf, String>,
}

/// A finished analysis: what each space of that version gave.
pub struct Done {
    /// The document's URI, as text.
    pub uri: String,
    /// The version analysed.
    pub version: i32,
    /// The worker's cache for the document after the analysis.
    pub cache: SpaceCache,
}

/// The server's end of the worker.
pub struct Worker {
    jobs: Sender<Job>,
    /// Where finished analyses arrive.
    pub done: Receiver<Done>,
}

impl Worker {
    /// Starts the worker thread; it ends when the server drops its [`Worker`].
    pub fn spawn() -> Worker {
        let (jobs, inbox) = crossbeam_channel::unbounded::<Job>();
        let (outbox, done) = crossbeam_channel::unbounded();
        std::thread::spawn(move || run(&inbox, &outbox));
        Worker { jobs, done }
    }

    /// Queues a complete analysis of `job`.
    pub fn analyse(&self, job: Job) {
        // The worker only stops when the server drops it; a send cannot fail before.
        let _ = self.jobs.send(job);
    }
}

fn run(inbox: &Receiver<Job>, outbox: &Sender<Done>) {
    let mut caches: HashMap<String, SpaceCache> = HashMap::new();
    while let Ok(first) = inbox.recv() {
        // The latest job of each document, in the order they first came.
        let mut latest: Vec<Job> = vec![first];
        while let Ok(job) = inbox.try_recv() {
            match latest.iter_mut().find(|j| j.uri == job.uri) {
                Some(j) => *j = job,
                None => latest.push(job),
            }
        }
        for job in latest {
            let cache = caches.entry(job.uri.clone()).or_default();
            cache.defer_over = None;
            let analysed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Analysis::cached(&job.name, job.text, job.dir, &job.overlay, cache);
            }));
            if analysed.is_err() {
                eprintln!("nasc lsp: a complete analysis panicked (a bug); its document stays partly analysed");
                continue;
            }
            let done = Done {
                uri: job.uri,
                version: job.version,
                cache: cache.clone(),
            };
            if outbox.send(done).is_err() {
                return;
            }
        }
    }
}
