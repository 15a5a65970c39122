//! HTTPS serving for Gale: turns a PEM certificate chain and private key into a rustls
//! server configuration ([`server_config`], TLS 1.2 and 1.3 only) and serves any axum/tower
//! service over it on a bound listener until a shutdown future resolves ([`serve_tls`]).
//!
//! Used by `gale server --tls-cert/--tls-key` and by the Site Engine simulator, so both speak
//! TLS the same way. It knows nothing about routes, auth or certificates' origin (no
//! generation, no ACME). The key choice: rustls with the `ring` provider and HTTP/1.1 only
//! (ALPN `http/1.1`), which is what StackStorm's clients and the Site Engine sender use;
//! shutdown stops accepting at once and gives open connections a bounded grace period.

use axum::body::Body;
use axum::http::{Request, Response};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub use rustls::ServerConfig;

/// Why a certificate/key pair cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{what} is not valid PEM: {detail}")]
    Pem { what: &'static str, detail: String },
    #[error("certificate PEM holds no CERTIFICATE block")]
    NoCertificate,
    #[error("TLS configuration rejected the certificate/key: {0}")]
    Config(String),
}

/// Reads a PEM certificate chain and key from files, naming the file in the error.
pub fn load_pem_files(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let read = |what, p: &std::path::Path| {
        std::fs::read(p).map_err(|source| TlsError::Read {
            what,
            path: p.display().to_string(),
            source,
        })
    };
    Ok((read("certificate", cert)?, read("private key", key)?))
}

/// A rustls server configuration (TLS 1.2+, ALPN `http/1.1`) from a PEM certificate chain
/// (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what: "certificate",
            detail: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem {
        what: "private key",
        detail: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}

/// Serves `app` over TLS on `listener` until `shutdown` resolves. Then it stops accepting,
/// asks open connections to close after their current request, and drops whatever is still
/// open after `grace` (zero: drop at once).
pub async fn serve_tls<S>(
    app: S,
    listener: tokio::net::TcpListener,
    config: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let stop = CancellationToken::new();
    // Connections live in the set, so stopping the loop can also end them.
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((tcp, peer)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let app = app.clone();
                let stop = stop.clone();
                conns.spawn(async move {
                    let tls = tokio::select! {
                        r = acceptor.accept(tcp) => match r {
                            Ok(t) => t,
                            Err(e) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                        },
                        _ = stop.cancelled() => return,
                    };
                    // hyper hands us `Incoming` bodies; the app wants axum's `Body`.
                    let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        app.clone().oneshot(req.map(Body::new))
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop.cancelled() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
        }
    }
    stop.cancel();
    drop(listener);
    let drained =
        tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            open = conns.len(),
            "dropping TLS connections still open after the grace period"
        );
    }
    conns.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn accepts_a_pem_pair() {
        let (cert, key) = self_signed();
        let cfg = server_config(cert.as_bytes(), key.as_bytes()).unwrap();
        assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn rejects_non_pem_and_swapped_files() {
        let (cert, key) = self_signed();
        assert!(matches!(
            server_config(b"not pem", key.as_bytes()),
            Err(TlsError::NoCertificate)
        ));
        assert!(matches!(
            server_config(cert.as_bytes(), b"garbage"),
            Err(TlsError::Pem {
                what: "private key",
                ..
            })
        ));
        // Key where the certificate belongs.
        assert!(server_config(key.as_bytes(), cert.as_bytes()).is_err());
    }

    #[test]
    fn rejects_a_key_that_does_not_match() {
        let (cert, _) = self_signed();
        let (_, other_key) = self_signed();
        assert!(matches!(
            server_config(cert.as_bytes(), other_key.as_bytes()),
            Err(TlsError::Config(_))
        ));
    }

    #[test]
    fn unreadable_file_names_the_path() {
        let e = load_pem_files(
            std::path::Path::new("/nonexistent/cert.pem"),
            std::path::Path::new("/nonexistent/key.pem"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/cert.pem"), "{e}");
    }
}
