//! Group commits: concurrent webhook deliveries share one durable transaction, and each is
//! answered only once its group is durable.
//!
//! One task owns the writing: it takes the first waiting job, then every job already waiting (up
//! to a limit), applies them all with [`CodeStore::apply_all`] (one transaction, one `fsync`), and
//! answers each. When a group fails, its jobs are applied one by one, so one bad delivery cannot
//! fail the others.

use alloc::sync::Arc;
use std::time::Instant;

use code_store::{Change, CodeStore, Outcome, StoreError, Timestamp, Udid};
use tokio::sync::{mpsc, oneshot};

use crate::Metrics;

struct Job {
    changes: Vec<(Udid, Change)>,
    reply: oneshot::Sender<Result<Vec<Outcome>, StoreError>>,
}

/// The handle through which requests commit their changes.
#[derive(Clone, Debug)]
pub(crate) struct Committer {
    sender: mpsc::Sender<Job>,
}

impl core::fmt::Debug for Job {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Job({} changes)", self.changes.len())
    }
}

/// Why a commit did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CommitError {
    /// The store failed: nothing of the job was written.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The service is shutting down.
    #[error("the service is shutting down")]
    Closed,
}

impl Committer {
    /// Starts the committing task over `store`; at most `max_group` jobs share a transaction.
    /// The task ends once every handle is dropped and every waiting job is committed.
    pub(crate) fn start<S: CodeStore + 'static>(
        store: Arc<S>,
        metrics: Arc<Metrics>,
        max_group: usize,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(max_group.max(1) * 4);
        let task = tokio::spawn(run(store, metrics, receiver, max_group.max(1)));
        (Self { sender }, task)
    }

    /// Commits `changes` (in order, all or nothing) in the next group; returns when durable.
    pub(crate) async fn commit(
        &self,
        changes: Vec<(Udid, Change)>,
    ) -> Result<Vec<Outcome>, CommitError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Job { changes, reply })
            .await
            .map_err(|_| CommitError::Closed)?;
        Ok(answer.await.map_err(|_| CommitError::Closed)??)
    }
}

async fn run<S: CodeStore>(
    store: Arc<S>,
    metrics: Arc<Metrics>,
    mut receiver: mpsc::Receiver<Job>,
    max_group: usize,
) {
    while let Some(first) = receiver.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < max_group {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        commit_group(&*store, &metrics, jobs).await;
    }
}

async fn commit_group<S: CodeStore>(store: &S, metrics: &Metrics, jobs: Vec<Job>) {
    let now = Timestamp::now();
    let started = Instant::now();
    let members = jobs.len();
    let sizes: Vec<usize> = jobs.iter().map(|j| j.changes.len()).collect();
    let all: Vec<(Udid, Change)> = jobs.iter().flat_map(|j| j.changes.clone()).collect();
    match store.apply_all(all, now).await {
        Ok(outcomes) => {
            metrics.commit(started.elapsed(), members);
            let mut outcomes = outcomes.into_iter();
            for (job, size) in jobs.into_iter().zip(sizes) {
                let mine: Vec<Outcome> = outcomes.by_ref().take(size).collect();
                // A caller that went away (its client hung up) still had its change committed.
                let _ = job.reply.send(Ok(mine));
            }
        }
        Err(error) if members == 1 => {
            if let Some(job) = jobs.into_iter().next() {
                let _ = job.reply.send(Err(error));
            }
        }
        Err(error) => {
            tracing::warn!(%error, members, "group commit failed: committing its members one by one");
            for job in jobs {
                let started = Instant::now();
                let result = store.apply_all(job.changes, now).await;
                if result.is_ok() {
                    metrics.commit(started.elapsed(), 1);
                }
                let _ = job.reply.send(result);
            }
        }
    }
}
