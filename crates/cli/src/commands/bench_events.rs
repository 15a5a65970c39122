//! `gale bench events`: the event path in one process over real HTTP on loopback — the API
//! router, the events service and the engine on a file-backed SQLite store, as `gale server`
//! runs them. Prints figures, asserts nothing.
//!
//! 1. Latency: sequential webhooks on a URL whose one rule runs `core.noop`; time from sending
//!    the POST to the execution reported `succeeded`.
//! 2. Throughput: 1,000 rules loaded (10 on the posted trigger, none matching, 990 on other
//!    webhook URLs); concurrent webhooks; accepted/s (all 202s) and evaluated/s (every
//!    instance `processed`), with a count of what was stored.

use anyhow::{Context, Result};
use gale_api::{ApiConfig, AppState};
use gale_engine::{Engine, EngineEvent, EngineOptions};
use gale_events::{Events, EventsOptions, RuleRequest};
use gale_model::events::TriggerInstanceStatus;
use gale_model::ExecStatus;
use gale_store::TriggerInstanceFilter;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LATENCY_SAMPLES: usize = 300;
const THROUGHPUT_WEBHOOKS: usize = 20_000;
const CLIENTS: usize = 32;

pub fn run() -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(bench())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn bench() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_path_buf();
    let store = gale_store::sqlite::SqliteStore::open(data.join("gale.db"))?;
    let opts = EngineOptions {
        data_dir: data.clone(),
        ..EngineOptions::default()
    };
    let engine = Engine::new(Arc::new(store), super::server::runner_registry(), opts);
    engine.register_runner_types().await?;
    for pack in gale_packs::builtin::install_all(&data)? {
        engine.register_pack_dir(&pack, false).await?;
    }
    engine.start().await?;
    let events = Events::new(engine.clone(), EventsOptions::default());
    events.start().await?;

    let api_key = gale_api::auth::new_api_key();
    let key = gale_model::ApiKey {
        id: gale_model::new_id(),
        uid: String::new(),
        user: "bench".into(),
        key_hash: gale_api::auth::hash_secret(&api_key),
        enabled: true,
        metadata: Default::default(),
        created_at: gale_model::now(),
    };
    engine.store().create_api_key(&key).await?;
    let mut cfg = ApiConfig::new(&data);
    cfg.bcrypt_cost = 4;
    let state = AppState::new(engine.clone(), cfg);
    state.set_events(events.clone());
    state.set_ready(true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let stop = tokio_util::sync::CancellationToken::new();
    let server = {
        let (state, stop) = (state.clone(), stop.clone());
        tokio::spawn(async move {
            gale_api::serve(listener, state, async move { stop.cancelled().await }).await
        })
    };

    // Rules: 990 on other URLs, 10 (not matching) on the throughput URL, 1 for latency.
    let started = Instant::now();
    for i in 0..1000 {
        let (url, criteria) = if i < 990 {
            (
                format!("bench/other{}", i / 10),
                json!({"trigger.body.n": {"type": "equals", "pattern": -1}}),
            )
        } else {
            (
                "bench/target".to_string(),
                json!({"trigger.body.n": {"type": "lt", "pattern": -(i as i64)}}),
            )
        };
        events
            .create_rule(RuleRequest::api(
                json!({"name": format!("r{i}"), "pack": "bench", "enabled": true,
                       "trigger": {"type": "core.st2.webhook", "parameters": {"url": url}},
                       "criteria": criteria, "action": {"ref": "core.noop"}}),
                "bench",
            ))
            .await?;
    }
    events
        .create_rule(RuleRequest::api(
            json!({"name": "latency", "pack": "bench", "enabled": true,
                   "trigger": {"type": "core.st2.webhook", "parameters": {"url": "bench/latency"}},
                   "criteria": {"trigger.body.go": {"type": "equals", "pattern": true}},
                   "action": {"ref": "core.noop"}}),
            "bench",
        ))
        .await?;
    println!("events benchmark (in-process server, HTTP on loopback, SQLite file store)");
    println!(
        "  rules loaded                       1001 ({:.1} s to register)",
        started.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .timeout(Duration::from_secs(30))
        .build()?;

    // 1. Latency.
    let mut updates = engine.subscribe();
    let mut lat = Vec::with_capacity(LATENCY_SAMPLES);
    for _ in 0..LATENCY_SAMPLES {
        let t0 = Instant::now();
        let r = http
            .post(format!("{base}/api/v1/webhooks/bench/latency"))
            .header("St2-Api-Key", &api_key)
            .json(&json!({"go": true}))
            .send()
            .await?;
        anyhow::ensure!(
            r.status().as_u16() == 202,
            "webhook answered {}",
            r.status()
        );
        loop {
            match tokio::time::timeout(Duration::from_secs(10), updates.recv()).await {
                Ok(Ok(EngineEvent::ExecutionUpdated(e))) if e.status == ExecStatus::Succeeded => {
                    break
                }
                Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(e)) => anyhow::bail!("engine updates closed: {e}"),
                Err(_) => anyhow::bail!("no execution succeeded within 10 s"),
            }
        }
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "  webhook → core.noop succeeded      p50 {:.2} ms   p99 {:.2} ms   ({} sequential)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        LATENCY_SAMPLES
    );
    drop(updates);

    // 2. Throughput.
    let target = events
        .webhook_triggers()
        .into_iter()
        .find(|t| t.parameters.get("url") == Some(&json!("bench/target")))
        .map(|t| t.trigger_ref)
        .context("the target webhook trigger is missing")?;
    let t0 = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (http, base, key, next) = (http.clone(), base.clone(), api_key.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut failed = 0usize;
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= THROUGHPUT_WEBHOOKS {
                    return failed;
                }
                let ok = http
                    .post(format!("{base}/api/v1/webhooks/bench/target"))
                    .header("St2-Api-Key", &key)
                    .json(&json!({"n": n}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16() == 202)
                    .unwrap_or(false);
                if !ok {
                    failed += 1;
                }
            }
        }));
    }
    let mut failed = 0;
    for t in tasks {
        failed += t.await.unwrap_or(THROUGHPUT_WEBHOOKS);
    }
    let accepted_in = t0.elapsed();
    let store = engine.store().clone();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let mut open = 0;
        for status in [
            TriggerInstanceStatus::Pending,
            TriggerInstanceStatus::Processing,
        ] {
            let (_, n) = store
                .list_trigger_instances(&TriggerInstanceFilter {
                    trigger: vec![target.clone()],
                    status: Some(status),
                    limit: Some(1),
                    ..Default::default()
                })
                .await?;
            open += n;
        }
        if open == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let evaluated_in = t0.elapsed();
    let (_, processed) = store
        .list_trigger_instances(&TriggerInstanceFilter {
            trigger: vec![target.clone()],
            status: Some(TriggerInstanceStatus::Processed),
            limit: Some(1),
            ..Default::default()
        })
        .await?;
    let accepted = THROUGHPUT_WEBHOOKS - failed;
    println!(
        "  webhooks accepted                  {:.0}/s   ({accepted} of {THROUGHPUT_WEBHOOKS} in {:.2} s, {CLIENTS} clients)",
        accepted as f64 / accepted_in.as_secs_f64(),
        accepted_in.as_secs_f64()
    );
    println!(
        "  webhooks accepted and evaluated    {:.0}/s   ({processed} processed in {:.2} s; 10 rules on the trigger, 1,000 loaded)",
        processed as f64 / evaluated_in.as_secs_f64(),
        evaluated_in.as_secs_f64()
    );
    println!(
        "  lost                               {}",
        accepted as i64 - processed as i64
    );
    stop.cancel();
    let _ = server.await;
    events.shutdown().await;
    engine.shutdown().await;
    Ok(())
}
