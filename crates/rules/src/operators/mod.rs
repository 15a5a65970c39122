//! Criteria operators (events.md §5.7), one module per family. Each operator takes the looked-up
//! payload value `v` (null when missing) and the rendered pattern `p`, and returns Python's
//! answer or the Python exception the StackStorm operator would raise.
//!
//! `search` (§5.8) needs to evaluate child criteria, so it lives in `crate::criteria`; this
//! module only knows its name.

pub mod comparison;
pub mod equality;
pub mod existence;
pub mod inside;
pub mod strings;
pub mod time;

use crate::pyval::PyError;
use serde_json::Value;

/// Result of a simple operator.
pub type OpResult = Result<bool, PyError>;

/// A simple (non-`search`) operator.
pub type OpFn = fn(&Value, &Value) -> OpResult;

/// Every operator name accepted at registration, in StackStorm's order (used in the
/// "not in list of allowed operators" message).
pub const OPERATOR_NAMES: &[&str] = &[
    "matchwildcard",
    "regex",
    "iregex",
    "matchregex",
    "equals",
    "eq",
    "nequals",
    "neq",
    "iequals",
    "ieq",
    "contains",
    "icontains",
    "ncontains",
    "incontains",
    "startswith",
    "istartswith",
    "endswith",
    "iendswith",
    "timediff_lt",
    "td_lt",
    "timediff_gt",
    "td_gt",
    "exists",
    "nexists",
    "inside",
    "in",
    "ninside",
    "nin",
    "lessthan",
    "lt",
    "greaterthan",
    "gt",
    "search",
];

/// The name of the `search` operator.
pub const SEARCH: &str = "search";

/// Looks up a simple operator by its (already lower-cased) name; `None` for `search` and
/// unknown names.
pub fn simple(name: &str) -> Option<OpFn> {
    Some(match name {
        "equals" | "eq" => equality::equals,
        "nequals" | "neq" => equality::nequals,
        "iequals" | "ieq" => equality::iequals,
        "lessthan" | "lt" => comparison::lessthan,
        "greaterthan" | "gt" => comparison::greaterthan,
        "contains" => strings::contains,
        "ncontains" => strings::ncontains,
        "icontains" => strings::icontains,
        "incontains" => strings::incontains,
        "startswith" => strings::startswith,
        "istartswith" => strings::istartswith,
        "endswith" => strings::endswith,
        "iendswith" => strings::iendswith,
        "matchwildcard" => strings::matchwildcard,
        "matchregex" => strings::matchregex,
        "regex" => strings::regex,
        "iregex" => strings::iregex,
        "timediff_lt" | "td_lt" => time::timediff_lt,
        "timediff_gt" | "td_gt" => time::timediff_gt,
        "exists" => existence::exists,
        "nexists" => existence::nexists,
        "inside" | "in" => inside::inside,
        "ninside" | "nin" => inside::ninside,
        _ => return None,
    })
}

/// True when `name` is an operator StackStorm knows (exact spelling, as registration requires).
pub fn is_known(name: &str) -> bool {
    OPERATOR_NAMES.contains(&name)
}
