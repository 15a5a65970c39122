//! Query-string conventions shared by list routes (st2-api.md §1): `limit`/`offset` rules,
//! the `X-Total-Count`/`X-Limit` headers, `include_attributes`/`exclude_attributes` projections
//! with dotted paths, and Python-style booleans (`True`).

use crate::error::{ApiError, ApiResult};
use axum::http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value};
use std::collections::HashMap;

pub type Params = HashMap<String, String>;

/// A Python-ish truthy query value: `true`, `True`, `1`, `yes`.
pub fn flag(q: &Params, name: &str) -> bool {
    q.get(name)
        .map(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"))
        .unwrap_or(false)
}

/// A non-empty query value.
pub fn get<'a>(q: &'a Params, name: &str) -> Option<&'a str> {
    q.get(name).map(String::as_str).filter(|s| !s.is_empty())
}

/// The applied page of a list request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    /// `None` = everything.
    pub limit: Option<usize>,
}

impl Page {
    /// Parse `limit`/`offset`. `default_limit` applies when `limit` is absent (`None` = all).
    /// `limit=-1` means no limit; 0 or below -1 is 400; above `max` is 403 (StackStorm's
    /// messages). StackStorm applies the cap only to non-admins, and with RBAC off every user
    /// is an admin, so callers pass `max: None` until Gale has RBAC.
    pub fn parse(q: &Params, default_limit: Option<i64>, max: Option<i64>) -> ApiResult<Page> {
        let limit = match get(q, "limit") {
            None => default_limit,
            Some(raw) => {
                let n: i64 = raw.trim().parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "Limit, \"{raw}\" specified, must be a positive number."
                    ))
                })?;
                if n == -1 {
                    None
                } else if n <= 0 {
                    return Err(ApiError::bad_request(format!(
                        "Limit, \"{n}\" specified, must be a positive number."
                    )));
                } else if let Some(max) = max.filter(|max| n > *max) {
                    return Err(ApiError::Forbidden(format!(
                        "Limit \"{n}\" specified, maximum value is \"{max}\""
                    )));
                } else {
                    Some(n)
                }
            }
        };
        let offset = match get(q, "offset") {
            None => 0,
            Some(raw) => raw.trim().parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!(
                    "Offset \"{raw}\" specified, must be a non-negative integer."
                ))
            })?,
        };
        Ok(Page {
            offset,
            limit: limit.map(|n| n as usize),
        })
    }

    /// Apply to an in-memory list; returns the page and the total before paging.
    pub fn apply<T>(&self, items: Vec<T>) -> (Vec<T>, u64) {
        let total = items.len() as u64;
        let it = items.into_iter().skip(self.offset);
        let page = match self.limit {
            Some(n) => it.take(n).collect(),
            None => it.collect(),
        };
        (page, total)
    }

    /// `X-Total-Count` always, `X-Limit` only when a limit applies.
    pub fn headers(&self, total: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-total-count", HeaderValue::from(total));
        if let Some(n) = self.limit {
            h.insert("x-limit", HeaderValue::from(n as u64));
        }
        h
    }
}

/// `include_attributes` / `exclude_attributes` of a request.
#[derive(Clone, Debug, Default)]
pub struct Projection {
    include: Vec<Vec<String>>,
    exclude: Vec<Vec<String>>,
}

fn split_paths(raw: Option<&str>) -> Vec<Vec<String>> {
    raw.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| p.split('.').map(str::to_string).collect())
            .collect()
    })
    .unwrap_or_default()
}

impl Projection {
    pub fn from_query(q: &Params) -> Projection {
        Projection {
            include: split_paths(get(q, "include_attributes")),
            exclude: split_paths(get(q, "exclude_attributes")),
        }
    }

    pub fn is_identity(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether the top-level attribute `name` survives the projection (lets callers skip work).
    pub fn wants(&self, name: &str) -> bool {
        let included =
            self.include.is_empty() || name == "id" || self.include.iter().any(|p| p[0] == name);
        let excluded = self.exclude.iter().any(|p| p.len() == 1 && p[0] == name);
        included && !excluded
    }

    /// Apply to one resource object. `id` is always kept.
    pub fn apply(&self, value: Value) -> Value {
        let Value::Object(obj) = value else {
            return value;
        };
        let mut obj = if self.include.is_empty() {
            obj
        } else {
            let mut out = Map::new();
            if let Some(id) = obj.get("id") {
                out.insert("id".into(), id.clone());
            }
            for path in &self.include {
                copy_path(&obj, &mut out, path);
            }
            out
        };
        for path in &self.exclude {
            remove_path(&mut obj, path);
        }
        Value::Object(obj)
    }
}

fn copy_path(src: &Map<String, Value>, dst: &mut Map<String, Value>, path: &[String]) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    let Some(v) = src.get(head) else { return };
    if rest.is_empty() {
        dst.insert(head.clone(), v.clone());
        return;
    }
    if let Value::Object(inner) = v {
        let slot = dst
            .entry(head.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(slot) = slot {
            copy_path(inner, slot, rest);
        }
    }
}

fn remove_path(obj: &mut Map<String, Value>, path: &[String]) {
    match path {
        [] => {}
        [last] => {
            obj.remove(last);
        }
        [head, rest @ ..] => {
            if let Some(Value::Object(inner)) = obj.get_mut(head) {
                remove_path(inner, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn limit_rules() {
        assert_eq!(
            Page::parse(&q(&[]), Some(100), Some(100)).unwrap(),
            Page {
                offset: 0,
                limit: Some(100)
            }
        );
        assert_eq!(Page::parse(&q(&[]), None, Some(100)).unwrap().limit, None);
        assert_eq!(
            Page::parse(&q(&[("limit", "-1")]), Some(100), Some(100))
                .unwrap()
                .limit,
            None
        );
        assert_eq!(
            Page::parse(&q(&[("limit", "5"), ("offset", "2")]), None, Some(100)).unwrap(),
            Page {
                offset: 2,
                limit: Some(5)
            }
        );
        let e = Page::parse(&q(&[("limit", "0")]), None, Some(100)).unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(
            Page::parse(&q(&[("limit", "-2")]), None, Some(100))
                .unwrap_err()
                .status(),
            400
        );
        let e = Page::parse(&q(&[("limit", "101")]), None, Some(100)).unwrap_err();
        assert_eq!(e.status(), 403);
        assert_eq!(
            e.to_string(),
            "Limit \"101\" specified, maximum value is \"100\""
        );
        // Without a cap (no RBAC: everyone is an admin) large limits are honoured.
        assert_eq!(
            Page::parse(&q(&[("limit", "500")]), None, None)
                .unwrap()
                .limit,
            Some(500)
        );
        assert_eq!(
            Page::parse(&q(&[("offset", "x")]), None, Some(100))
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn page_apply_and_headers() {
        let p = Page {
            offset: 1,
            limit: Some(2),
        };
        let (items, total) = p.apply(vec![1, 2, 3, 4]);
        assert_eq!(items, vec![2, 3]);
        assert_eq!(total, 4);
        let h = p.headers(total);
        assert_eq!(h["x-total-count"], "4");
        assert_eq!(h["x-limit"], "2");
        assert!(Page {
            offset: 0,
            limit: None
        }
        .headers(3)
        .get("x-limit")
        .is_none());
    }

    #[test]
    fn projections_with_dotted_paths() {
        let v = json!({"id": "1", "action": {"ref": "core.local", "runner_type": "x"}, "context": {"user": "u", "pack": "p"}, "result": {"a": 1}, "status": "ok"});
        let p = Projection::from_query(&q(&[(
            "include_attributes",
            "action.ref,context.user,status",
        )]));
        assert_eq!(
            p.apply(v.clone()),
            json!({"id": "1", "action": {"ref": "core.local"}, "context": {"user": "u"}, "status": "ok"})
        );
        assert!(p.wants("action") && !p.wants("result") && p.wants("id"));
        let p = Projection::from_query(&q(&[("exclude_attributes", "result,context.pack")]));
        assert_eq!(
            p.apply(v),
            json!({"id": "1", "action": {"ref": "core.local", "runner_type": "x"}, "context": {"user": "u"}, "status": "ok"})
        );
        assert!(!p.wants("result"));
    }

    #[test]
    fn python_booleans() {
        assert!(flag(&q(&[("sort_desc", "True")]), "sort_desc"));
        assert!(!flag(&q(&[("sort_desc", "False")]), "sort_desc"));
        assert!(!flag(&q(&[]), "x"));
    }
}
