//! `gale server`: every service in one process — the SQLite store, the engine (worker pool),
//! the built-in runners and core pack, and the HTTP API.
//!
//! Start-up order matters for the "fast to /healthz" goal: the listener is bound and serving
//! first (healthz answers 503 while starting); the slower work (password hashing on first
//! start, pack registration, engine recovery) runs afterwards, then healthz turns 200.

use anyhow::Context;
use clap::Args;
use gale_api::auth::htpasswd::{self, Bootstrap};
use gale_api::{ApiConfig, AppState};
use gale_engine::{Engine, EngineOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Options of `gale server`, resolved once: flags, then environment, then defaults.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Directory for the database, users (htpasswd) and extracted packs.
    #[arg(long, env = "GALE_DATA_DIR", default_value = "./gale-data")]
    pub data_dir: PathBuf,
    /// Address to listen on (all of /api/v1, /auth/v1 and the direct-port forms).
    #[arg(long, env = "GALE_BIND", default_value = "127.0.0.1:9101")]
    pub bind: SocketAddr,
    /// Worker pool size (default: 4 x cores, at least 8).
    #[arg(long, env = "GALE_WORKERS")]
    pub workers: Option<usize>,
    /// Extra pack base directories (`st2 pack register NAME` looks there); repeatable,
    /// or `:`-separated in the environment.
    #[arg(long = "packs-dir", env = "GALE_PACKS_DIRS", value_delimiter = ':')]
    pub packs_dirs: Vec<PathBuf>,
    /// Public API URL handed to actions (`ST2_ACTION_API_URL`); default from --bind.
    #[arg(long, env = "GALE_API_URL")]
    pub api_url: Option<String>,
    /// Password of `st2admin` when the data dir has no users yet (otherwise a random one is
    /// written to `<data-dir>/st2admin.password`).
    #[arg(long, env = "GALE_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Token TTL in seconds (default and maximum), StackStorm's `auth.token_ttl`.
    #[arg(long, env = "GALE_TOKEN_TTL", default_value_t = 86_400)]
    pub token_ttl: u64,
    /// Datastore crypto key file (StackStorm's `keyvalue.encryption_key_path`, same format).
    /// Default: `<data-dir>/keys/datastore_key.json`, generated on first start.
    #[arg(long, env = "GALE_ENCRYPTION_KEY_PATH")]
    pub encryption_key_path: Option<PathBuf>,
    /// TEST ONLY: the timer engine reads the time from this file (RFC 3339, rewritten by the
    /// test) instead of the system clock, so end-to-end tests move timers by hand.
    #[arg(long, env = "GALE_TEST_CLOCK_FILE", hide = true)]
    pub test_clock_file: Option<PathBuf>,
    /// Accept `Authorization: Basic base64(<any>:<api key>)` as the API key on
    /// `POST /api/v1/webhooks/siteengine`, for Site Engine setups that can only send Basic
    /// auth (site-engine.md 1.3). Off by default.
    #[arg(long, env = "GALE_WEBHOOKS_ACCEPT_BASIC_API_KEY")]
    pub webhooks_accept_basic_api_key: bool,
    /// Serve HTTPS (TLS 1.2+) with this PEM certificate chain, leaf first; needs --tls-key.
    /// Without both, the server speaks plain HTTP.
    #[arg(long, env = "GALE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "GALE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// The rustls configuration from --tls-cert/--tls-key, `None` for plain HTTP. Errors name
/// the flag and the file so a bad start-up is obvious.
fn tls_config(args: &ServerArgs) -> anyhow::Result<Option<Arc<gale_tls::ServerConfig>>> {
    let (cert, key) = match (&args.tls_cert, &args.tls_key) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        // clap enforces the pair; this guards callers that build ServerArgs by hand.
        (Some(_), None) => anyhow::bail!("--tls-cert needs --tls-key (or GALE_TLS_KEY)"),
        (None, Some(_)) => anyhow::bail!("--tls-key needs --tls-cert (or GALE_TLS_CERT)"),
    };
    let cert_pem = std::fs::read(cert)
        .with_context(|| format!("--tls-cert: cannot read {}", cert.display()))?;
    let key_pem =
        std::fs::read(key).with_context(|| format!("--tls-key: cannot read {}", key.display()))?;
    let config = gale_tls::server_config(&cert_pem, &key_pem).with_context(|| {
        format!(
            "--tls-cert {} / --tls-key {}",
            cert.display(),
            key.display()
        )
    })?;
    Ok(Some(config))
}

pub fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(args))?;
    Ok(ExitCode::SUCCESS)
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests) is harmless; ignore the error.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create data dir {}", args.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&args.data_dir).unwrap_or_else(|_| args.data_dir.clone());
    let tls = tls_config(&args)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    tracing::info!(bind = %args.bind, %scheme, data_dir = %data_dir.display(), "gale server listening");

    let store = gale_store::sqlite::SqliteStore::open(data_dir.join("gale.db"))
        .context("cannot open the database")?;
    let mut opts = EngineOptions::default();
    if let Some(w) = args.workers {
        opts.workers = w.max(1);
    }
    opts.data_dir = data_dir.clone();
    // Pack configs (`<pack>.yaml`), StackStorm's /opt/stackstorm/configs.
    opts.config_dir = Some(data_dir.join("configs"));
    opts.api_url = args
        .api_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{}/api/v1", args.bind));
    let engine = Engine::new(Arc::new(store), runner_registry(), opts);

    let mut config = ApiConfig::new(&data_dir);
    config.token_ttl = args.token_ttl;
    config.webhooks_accept_basic_api_key = args.webhooks_accept_basic_api_key;
    config.packs_dirs = std::iter::once(data_dir.join("packs"))
        .chain(args.packs_dirs.iter().cloned())
        .collect();
    let state = AppState::new(engine.clone(), config);
    let events = gale_events::Events::new(engine.clone(), gale_events::EventsOptions::default());
    state.set_events(events.clone());
    open_datastore(&state, &args, &data_dir).await?;
    if let Some(ds) = state.datastore() {
        // Rules read st2kv through the datastore; key changes become trigger instances.
        events.set_context_provider(Arc::new(ds.provider(events.options().system_user.clone())));
        ds.set_trigger_sink(Arc::new(EventsSink(events.clone())));
    }

    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = {
        let state = state.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            match tls {
                None => {
                    gale_api::serve(listener, state, async move { stop.cancelled().await }).await
                }
                Some(tls) => {
                    // Same app as plain HTTP; requests in flight get 8 s (the wait below is 10).
                    let app = gale_api::app(state);
                    let stopped = async move { stop.cancelled().await };
                    gale_tls::serve_tls(app, listener, tls, stopped, Duration::from_secs(8)).await;
                    Ok(())
                }
            }
        })
    };

    let startup = start_services(&state, &args, &data_dir).await;
    match startup {
        Ok(()) => {
            state.set_ready(true);
            tracing::info!("gale server ready");
            wait_for_signal(&shutdown).await;
        }
        Err(ref e) => tracing::error!(error = %format!("{e:#}"), "start-up failed"),
    }
    tracing::info!("shutting down");
    state.begin_shutdown();
    shutdown.cancel();
    match tokio::time::timeout(Duration::from_secs(10), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "HTTP server failed"),
        Ok(Err(e)) => tracing::error!(error = %e, "HTTP server task failed"),
        Err(_) => tracing::warn!("HTTP server did not stop within 10 s"),
    }
    events.shutdown().await;
    engine.shutdown().await;
    startup
}

/// Datastore triggers (`core.st2.key_value_pair.*`) go to the events service.
struct EventsSink(gale_events::Events);

#[async_trait::async_trait]
impl gale_datastore::TriggerSink for EventsSink {
    async fn emit(&self, trigger: &str, payload: serde_json::Value) -> Result<(), String> {
        self.0
            .emit(trigger, payload, gale_events::EmitContext::default())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The datastore behind `/keys` and `st2kv`: a configured key file is used as is; the default
/// one is generated on first start. Expired pairs are purged every minute until shutdown.
async fn open_datastore(
    state: &AppState,
    args: &ServerArgs,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let key_path = match &args.encryption_key_path {
        Some(p) => p.clone(),
        None => {
            let p = data_dir.join("keys").join("datastore_key.json");
            if gale_datastore::ensure_key_file(&p)
                .with_context(|| format!("cannot write the datastore key {}", p.display()))?
            {
                tracing::info!(path = %p.display(), "datastore crypto key generated");
            }
            p
        }
    };
    let clock = state.engine().clock().clone();
    let kv: Arc<dyn gale_store::KeyValueStore> = state.store().clone();
    let datastore = gale_datastore::Datastore::open(
        kv,
        gale_datastore::DatastoreOptions {
            key_path: Some(key_path),
        },
        Arc::new(move || clock.now()),
    )
    .await
    .context("cannot open the datastore")?;
    state.set_datastore(datastore.clone());
    // Parameter templates, Orquesta `st2kv()` and action-chain templates read it too.
    let ds = datastore.clone();
    state.engine().set_datastore(Arc::new(move |user: &str| {
        Box::new(ds.provider(user)) as Box<dyn gale_expr::ContextProvider>
    }));
    tokio::spawn(datastore.run_purger(Duration::from_secs(60), state.shutdown_token().clone()));
    Ok(())
}

/// Users, runner types, built-in packs, then the engine's recovery and workers.
async fn start_services(
    state: &AppState,
    args: &ServerArgs,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let engine = state.engine();
    let (dir, pw, cost) = (
        data_dir.to_path_buf(),
        args.admin_password.clone(),
        state.config().bcrypt_cost,
    );
    // Hashing a new admin password (bcrypt) and registering packs are independent: overlap them.
    let users = async move {
        let boot =
            tokio::task::spawn_blocking(move || htpasswd::bootstrap(&dir, pw.as_deref(), cost))
                .await??;
        match boot {
            Bootstrap::Existing => {}
            Bootstrap::CreatedWithGivenPassword => {
                tracing::info!(
                    user = htpasswd::ADMIN_USER,
                    "created user with the password from GALE_ADMIN_PASSWORD"
                )
            }
            Bootstrap::CreatedWithRandomPassword(path) => tracing::warn!(
                user = htpasswd::ADMIN_USER,
                password_file = %path.display(),
                "created user with a random password; read it from the password file"
            ),
        }
        anyhow::Ok(())
    };
    let content = async {
        engine
            .register_runner_types()
            .await
            .context("cannot register runner types")?;
        let dir = data_dir.to_path_buf();
        let packs =
            tokio::task::spawn_blocking(move || gale_packs::builtin::install_all(&dir)).await??;
        for pack in packs {
            let report = engine
                .register_pack_dir(&pack, false)
                .await
                .with_context(|| format!("cannot register {}", pack.display()))?;
            for err in &report.errors {
                tracing::warn!(pack = %pack.display(), error = %err, "built-in pack problem");
            }
            tracing::info!(pack = %pack.display(), actions = report.actions, "registered built-in pack");
        }
        anyhow::Ok(())
    };
    tokio::try_join!(users, content)?;
    engine.start().await.context("cannot start the engine")?;
    if let Some(events) = state.events() {
        // Built-in trigger types, rules index, recovery of interrupted instances, processor.
        events
            .start()
            .await
            .context("cannot start the events service")?;
        start_timers(events, state, args).await?;
        for builtin in gale_packs::builtin::all() {
            if let Some(pack) = state.store().get_pack(builtin.name).await? {
                let report = events
                    .register_pack_dir(std::path::Path::new(&pack.path), false)
                    .await
                    .with_context(|| format!("cannot register the rules of {}", builtin.name))?;
                for err in &report.errors {
                    tracing::warn!(pack = builtin.name, error = %err, "built-in pack problem");
                }
            }
        }
    }
    Ok(())
}

/// The timer engine (IntervalTimer, CronTimer, DateTimer) on the engine's clock, or on the
/// test clock file; it stops with the server.
async fn start_timers(
    events: &gale_events::Events,
    state: &AppState,
    args: &ServerArgs,
) -> anyhow::Result<()> {
    use gale_events::timers::{file_clock, NowFn, TimerOptions};
    let (now, poll): (NowFn, Duration) = match &args.test_clock_file {
        Some(path) => {
            tracing::warn!(path = %path.display(), "timers run on a TEST clock file");
            (
                file_clock(path.clone()),
                // The file is not watched: read it often.
                Duration::from_millis(100),
            )
        }
        None => {
            let clock = state.engine().clock().clone();
            (Arc::new(move || clock.now()), Duration::from_secs(1))
        }
    };
    events
        .start_timers(
            TimerOptions::default(),
            now,
            poll,
            state.shutdown_token().clone(),
        )
        .await
        .context("cannot start the timers")?;
    Ok(())
}

/// Every runner a Gale node has: the built-in ones and the Site Engine northbound runner that
/// the shipped `siteengine` pack's actions use (registered before the pack is).
pub(crate) fn runner_registry() -> gale_runners::Registry {
    let mut runners = gale_runners::Registry::with_builtin();
    runners.register(Arc::new(gale_siteengine::SiteEngineRunner::new()));
    runners
}

async fn wait_for_signal(stop: &tokio_util::sync::CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = stop.cancelled() => {}
        }
    }
    #[cfg(not(unix))]
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = stop.cancelled() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ServerArgs,
    }

    #[test]
    fn flags_override_defaults() {
        let w = Wrapper::try_parse_from([
            "gale",
            "--data-dir",
            "/tmp/x",
            "--bind",
            "0.0.0.0:9999",
            "--workers",
            "3",
            "--packs-dir",
            "/a",
            "--packs-dir",
            "/b",
        ])
        .unwrap();
        assert_eq!(w.args.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(w.args.bind.port(), 9999);
        assert_eq!(w.args.workers, Some(3));
        assert_eq!(
            w.args.packs_dirs,
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert!(Wrapper::try_parse_from(["gale", "--bind", "not-an-address"]).is_err());
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        if ["GALE_DATA_DIR", "GALE_BIND", "GALE_TOKEN_TTL"]
            .iter()
            .any(|k| std::env::var_os(k).is_some())
        {
            return; // the environment overrides the defaults under test
        }
        let w = Wrapper::try_parse_from(["gale"]).unwrap();
        assert_eq!(w.args.data_dir, PathBuf::from("./gale-data"));
        assert_eq!(w.args.bind, "127.0.0.1:9101".parse::<SocketAddr>().unwrap());
        assert_eq!(w.args.token_ttl, 86_400);
    }

    #[test]
    fn tls_flags_come_in_pairs_and_name_the_missing_one() {
        if ["GALE_TLS_CERT", "GALE_TLS_KEY"]
            .iter()
            .any(|k| std::env::var_os(k).is_some())
        {
            return; // the environment supplies the other half
        }
        let e = Wrapper::try_parse_from(["gale", "--tls-cert", "/c.pem"])
            .err()
            .expect("cert without key refused")
            .to_string();
        assert!(e.contains("--tls-key"), "{e}");
        let e = Wrapper::try_parse_from(["gale", "--tls-key", "/k.pem"])
            .err()
            .expect("key without cert refused")
            .to_string();
        assert!(e.contains("--tls-cert"), "{e}");
        let w = Wrapper::try_parse_from(["gale"]).unwrap();
        assert!(
            tls_config(&w.args).unwrap().is_none(),
            "plain HTTP by default"
        );
    }

    #[test]
    fn tls_files_unreadable_or_not_pem_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let missing = dir.path().join("missing.pem");
        let parse = |c: &std::path::Path, k: &std::path::Path| {
            let w = Wrapper::try_parse_from([
                std::ffi::OsStr::new("gale"),
                "--tls-cert".as_ref(),
                c.as_os_str(),
                "--tls-key".as_ref(),
                k.as_os_str(),
            ])
            .unwrap();
            format!("{:#}", tls_config(&w.args).unwrap_err())
        };
        let e = parse(&missing, &junk);
        assert!(e.contains("--tls-cert") && e.contains("missing.pem"), "{e}");
        let e = parse(&junk, &missing);
        assert!(e.contains("--tls-key") && e.contains("missing.pem"), "{e}");
        let e = parse(&junk, &junk);
        assert!(e.contains("junk.pem") && e.contains("PEM"), "{e}");
    }
}
