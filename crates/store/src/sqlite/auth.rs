//! Tokens and API keys, looked up by the SHA-256 hash of their secret.

use super::{db, doc, docs, is_unique_violation, to_doc, SqliteStore};
use crate::{AuthStore, Error, Result};
use async_trait::async_trait;
use gale_model::{ApiKey, Token};
use rusqlite::params;

fn conflict<'a>(kind: &'static str, id: &'a str) -> impl FnOnce(rusqlite::Error) -> Error + 'a {
    move |e| {
        if is_unique_violation(&e) {
            Error::Conflict {
                kind,
                key: id.to_string(),
                existing_id: id.to_string(),
            }
        } else {
            db(e)
        }
    }
}

#[async_trait]
impl AuthStore for SqliteStore {
    async fn create_token(&self, token: &Token) -> Result<()> {
        let (id, hash, json) = (token.id.clone(), token.token_hash.clone(), to_doc(token)?);
        self.write(move |conn| {
            conn.prepare_cached("INSERT INTO tokens (id, token_hash, doc) VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute(params![id, hash, json]))
                .map_err(conflict("token", &id))?;
            Ok(())
        })
        .await
    }

    async fn get_token_by_hash(&self, token_hash: &str) -> Result<Option<Token>> {
        let hash = token_hash.to_string();
        self.read(move |conn| doc(conn, "SELECT doc FROM tokens WHERE token_hash = ?1", [hash]))
            .await
    }

    async fn delete_token(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.write(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM tokens WHERE id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<()> {
        let (id, hash, json) = (key.id.clone(), key.key_hash.clone(), to_doc(key)?);
        self.write(move |conn| {
            conn.prepare_cached("INSERT INTO api_keys (id, key_hash, doc) VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute(params![id, hash, json]))
                .map_err(conflict("api key", &id))?;
            Ok(())
        })
        .await
    }

    async fn get_api_key(&self, id_or_hash: &str) -> Result<Option<ApiKey>> {
        let key = id_or_hash.to_string();
        self.read(move |conn| {
            doc(
                conn,
                "SELECT doc FROM api_keys WHERE id = ?1
                 UNION ALL SELECT doc FROM api_keys WHERE key_hash = ?1 LIMIT 1",
                [key],
            )
        })
        .await
    }

    /// In creation order.
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        self.read(|conn| docs(conn, "SELECT doc FROM api_keys ORDER BY seq", []))
            .await
    }

    async fn update_api_key(&self, key: &ApiKey) -> Result<()> {
        let (id, hash, json) = (key.id.clone(), key.key_hash.clone(), to_doc(key)?);
        self.write(move |conn| {
            let n = conn
                .prepare_cached("UPDATE api_keys SET key_hash = ?2, doc = ?3 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![id, hash, json]))
                .map_err(conflict("api key", &id))?;
            if n == 0 {
                return Err(Error::NotFound {
                    kind: "api key",
                    key: id,
                });
            }
            Ok(())
        })
        .await
    }

    async fn delete_api_key(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.write(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM api_keys WHERE id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }
}
