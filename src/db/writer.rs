//! SQLite's one writer: a thread that owns the write connection and runs the transactions
//! queued while it was busy as one (group commit). Each transaction of a group runs in a
//! savepoint of its own, so one that fails leaves the others as they were; every caller is
//! answered only once the group has committed. A write then costs one `COMMIT` (and one write
//! of each page it shares with the others) per group instead of one per request, and no
//! waiting writer has to be woken between two transactions.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Instant;

use diesel::connection::TransactionManager;

use super::breaker::Breaker;
use super::connection::{DbConnection, begin};
use super::error::{DbError, Failure};
use super::pool::{Pool, checkout};

/// The transaction manager of [`DbConnection`] (it hands each call to the backend's own).
type Manager = <DbConnection as diesel::Connection>::TransactionManager;

/// Most transactions committed together.
const MAX_GROUP: usize = 64;

/// What a queued transaction left to hand back once its group is committed (or not).
trait Outcome: Send {
    /// Whether the transaction failed (its savepoint is rolled back).
    fn failed(&self) -> bool;
    /// Whether it failed as if the database were gone.
    fn unavailable(&self) -> bool;
    /// Answers the caller: its own result once `committed` is `Ok`, otherwise the commit's
    /// error (a failed transaction keeps its own error).
    fn deliver(self: Box<Self>, committed: &Result<(), DbError>);
}

/// The group's failure, for each of its callers (a query error is passed on as its text).
fn shared(error: &DbError) -> DbError {
    match error {
        DbError::Unavailable(message) => DbError::Unavailable(message.clone()),
        DbError::Query(error) => DbError::Task(error.to_string()),
        DbError::Task(message) => DbError::Task(message.clone()),
    }
}

/// A transaction's result and the caller waiting for it.
struct Pending<T, E> {
    result: Result<T, E>,
    reply: tokio::sync::oneshot::Sender<Result<T, E>>,
}

impl<T: Send, E: Failure + Send> Outcome for Pending<T, E> {
    fn failed(&self) -> bool {
        self.result.is_err()
    }

    fn unavailable(&self) -> bool {
        self.result.as_ref().is_err_and(Failure::is_unavailable)
    }

    fn deliver(self: Box<Self>, committed: &Result<(), DbError>) {
        let answer = match (self.result, committed) {
            (Ok(_), Err(error)) => Err(E::from(shared(error))),
            (result, _) => result,
        };
        // The caller may have gone (its request was dropped): nothing to answer then.
        let _ = self.reply.send(answer);
    }
}

/// Runs a transaction's work on the connection, or (when it cannot be run) answers why.
type Work = Box<dyn FnOnce(Result<&mut DbConnection, DbError>) -> Box<dyn Outcome> + Send>;

/// One queued transaction.
struct Job {
    work: Work,
    deadline: Instant,
    span: tracing::Span,
}

/// The handle transactions are queued on; the thread stops when the last handle is dropped.
#[derive(Debug)]
pub struct Writer {
    jobs: Sender<Job>,
}

impl Writer {
    /// Starts the writer thread over `pool` (one connection).
    pub fn start(pool: Pool, breaker: Arc<Breaker>) -> Self {
        let (jobs, queue) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("tokend-sqlite-writer".into())
            .spawn(move || run(&queue, &pool, &breaker));
        if let Err(error) = spawned {
            tracing::error!(%error, "could not start the SQLite writer thread");
        }
        Self { jobs }
    }

    /// Queues `work` as one transaction and waits for its group to commit. A transaction
    /// that could not start by `deadline` is [`DbError::Unavailable`].
    pub async fn transaction<T, E, F>(&self, deadline: Instant, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: Failure + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let work: Work = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => work(conn),
                Err(error) => Err(E::from(error)),
            };
            Box::new(Pending { result, reply })
        });
        let job = Job {
            work,
            deadline,
            span: tracing::Span::current(),
        };
        self.jobs
            .send(job)
            .map_err(|_| DbError::Task("the SQLite writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| DbError::Task("the SQLite writer dropped a transaction".into()))?
    }
}

/// The writer thread: takes what is queued, up to [`MAX_GROUP`], and commits it as one.
fn run(queue: &Receiver<Job>, pool: &Pool, breaker: &Breaker) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(group, pool, breaker);
    }
}

/// Runs a group in one transaction and answers each caller.
fn commit_group(group: Vec<Job>, pool: &Pool, breaker: &Breaker) {
    let now = Instant::now();
    let (group, late): (Vec<Job>, Vec<Job>) = group.into_iter().partition(|j| j.deadline > now);
    for job in late {
        let _entered = job.span.enter();
        let outcome = (job.work)(Err(DbError::Unavailable(
            "no turn to write within the timeout".into(),
        )));
        outcome.deliver(&Ok(()));
    }
    let Some(deadline) = group.iter().map(|j| j.deadline).max() else {
        return;
    };
    let mut pooled = match checkout(pool, breaker, deadline) {
        Ok(pooled) => pooled,
        Err(error) => {
            for job in group {
                let _entered = job.span.enter();
                (job.work)(Err(shared(&error))).deliver(&Ok(()));
            }
            return;
        }
    };
    let conn = &mut pooled.conn;
    if let Err(error) = begin(conn) {
        for job in group {
            let _entered = job.span.enter();
            (job.work)(Err(shared(&error))).deliver(&Ok(()));
        }
        return;
    }
    let alone = group.len() == 1;
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group {
        let _entered = job.span.enter();
        outcomes.push(run_one(conn, job.work, alone));
    }
    let unavailable = outcomes.iter().flatten().any(|o| o.unavailable());
    let committed = if alone && outcomes.iter().flatten().all(|o| o.failed()) {
        roll_back(conn)
    } else {
        Manager::commit_transaction(conn).map_err(DbError::from)
    };
    if committed.is_err() {
        let _ = roll_back(conn);
    }
    if unavailable || committed.as_ref().is_err_and(DbError::is_unavailable) {
        pooled.broken = true;
    } else {
        breaker.succeeded();
    }
    for outcome in outcomes.into_iter().flatten() {
        outcome.deliver(&committed);
    }
}

/// Runs one transaction of a group: in a savepoint, unless it is alone (the group's
/// transaction is then its own). A panic rolls it back and drops its caller's answer (the
/// caller sees the writer drop it). `None` when it panicked.
fn run_one(conn: &mut DbConnection, work: Work, alone: bool) -> Option<Box<dyn Outcome>> {
    if !alone && Manager::begin_transaction(conn).is_err() {
        return Some(work(Err(DbError::Unavailable(
            "could not open a savepoint".into(),
        ))));
    }
    let ran = catch_unwind(AssertUnwindSafe(|| work(Ok(&mut *conn))));
    if alone {
        return ran.ok();
    }
    let keep = ran.as_ref().is_ok_and(|outcome| !outcome.failed());
    let closed = if keep {
        Manager::commit_transaction(conn)
    } else {
        Manager::rollback_transaction(conn)
    };
    if let Err(error) = closed {
        tracing::error!(%error, "could not close a savepoint");
    }
    ran.ok()
}

/// Rolls the group's transaction back.
fn roll_back(conn: &mut DbConnection) -> Result<(), DbError> {
    Manager::rollback_transaction(conn).map_err(DbError::from)
}
