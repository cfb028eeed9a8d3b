//! The fleet overview's approvals: for each release with a pipeline of its
//! own, whether a deployment waits for approval (its newest run's pending
//! environment). Each distinct pipeline is read once a round, at most every
//! `every` (GitHub's rate limit is shared by the whole team); between
//! rounds the last answer stands.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::Pipeline;

pub struct Approvals {
    /// Per release: its pipeline (the same `Arc` for releases that share
    /// one), or None when it has none of its own.
    pipelines: Vec<Option<Arc<dyn Pipeline>>>,
    every: Duration,
    last: Mutex<(Option<Instant>, Vec<Option<String>>)>,
}

impl Approvals {
    pub fn new(pipelines: Vec<Option<Arc<dyn Pipeline>>>, every: Duration) -> Approvals {
        let n = pipelines.len();
        Approvals {
            pipelines,
            every,
            last: Mutex::new((None, vec![None; n])),
        }
    }

    /// Per release: the environment a deployment waits in, if any.
    pub async fn read(&self, timeout: Duration) -> Vec<Option<String>> {
        let mut last = self.last.lock().await;
        if last.0.is_some_and(|at| at.elapsed() < self.every) {
            return last.1.clone();
        }
        let mut read: Vec<(Arc<dyn Pipeline>, Option<String>)> = Vec::new();
        let mut out = Vec::with_capacity(self.pipelines.len());
        for (i, pipeline) in self.pipelines.iter().enumerate() {
            let Some(pipeline) = pipeline else {
                out.push(None);
                continue;
            };
            if let Some((_, known)) = read.iter().find(|(p, _)| Arc::ptr_eq(p, pipeline)) {
                out.push(known.clone());
                continue;
            }
            let answer = match tokio::time::timeout(timeout, pipeline.latest_run()).await {
                Ok(Ok(run)) => run.pending.map(|p| p.environment),
                // Unreadable: what was known before stands.
                _ => last.1.get(i).cloned().flatten(),
            };
            read.push((pipeline.clone(), answer.clone()));
            out.push(answer);
        }
        *last = (Some(Instant::now()), out.clone());
        out
    }
}
