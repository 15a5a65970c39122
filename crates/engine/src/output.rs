//! The output sink given to runners: every chunk is published at once on the event stream and
//! buffered; the worker flushes the buffer into the store in batches while the runner works (so
//! `GET /executions/{id}/output` shows output of a running execution) and once more at the end.

use crate::{Clock, EngineEvent};
use gale_model::OutputRecord;
use gale_runners::{CancellationToken, OutputSink, OutputStream};
use gale_store::DynStore;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};

/// Flush at least this often while output is arriving.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Flush early once this many records are waiting.
const FLUSH_AT: usize = 256;

pub(crate) struct BatchingSink {
    execution_id: String,
    action_ref: String,
    runner_ref: String,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<EngineEvent>,
    buf: Mutex<Vec<OutputRecord>>,
    full: Notify,
}

impl BatchingSink {
    pub fn new(
        execution_id: &str,
        action_ref: &str,
        runner_ref: &str,
        clock: Arc<dyn Clock>,
        events: broadcast::Sender<EngineEvent>,
    ) -> Self {
        Self {
            execution_id: execution_id.to_string(),
            action_ref: action_ref.to_string(),
            runner_ref: runner_ref.to_string(),
            clock,
            events,
            buf: Mutex::new(Vec::new()),
            full: Notify::new(),
        }
    }

    fn take(&self) -> Vec<OutputRecord> {
        match self.buf.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    pub async fn flush(&self, store: &DynStore) {
        let batch = self.take();
        if batch.is_empty() {
            return;
        }
        if let Err(e) = store.append_output(&batch).await {
            tracing::warn!(error = %e, records = batch.len(), "could not store execution output");
        }
    }

    /// Flush periodically until `done` is cancelled, then flush what is left.
    pub async fn flush_loop(&self, store: &DynStore, done: CancellationToken) {
        loop {
            tokio::select! {
                _ = done.cancelled() => break,
                _ = tokio::time::sleep(FLUSH_EVERY) => self.flush(store).await,
                _ = self.full.notified() => self.flush(store).await,
            }
        }
        self.flush(store).await;
    }
}

impl OutputSink for BatchingSink {
    fn emit(&self, stream: OutputStream, data: String) {
        let rec = OutputRecord {
            id: gale_model::new_id(),
            execution_id: self.execution_id.clone(),
            action_ref: self.action_ref.clone(),
            runner_ref: self.runner_ref.clone(),
            timestamp: self.clock.now(),
            output_type: stream.as_str().to_string(),
            data,
        };
        let _ = self.events.send(EngineEvent::Output(rec.clone()));
        let len = match self.buf.lock() {
            Ok(mut g) => {
                g.push(rec);
                g.len()
            }
            Err(p) => {
                let mut g = p.into_inner();
                g.push(rec);
                g.len()
            }
        };
        if len >= FLUSH_AT {
            self.full.notify_one();
        }
    }
}
