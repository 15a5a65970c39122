//! StackStorm and Orquesta expression functions, shared by the YAQL and Jinja front ends.
//!
//! Both front ends call [`call`] for any function name they do not implement natively, with
//! positional arguments already converted to JSON values.

use crate::{ContextProvider, Error};
use serde_json::Value;

/// What a function may read besides its arguments: the workflow context (with the `__`
/// runtime keys `__current_item`, `__current_task`, `__state`) and the engine's provider.
pub struct FnContext<'a> {
    pub ctx: &'a Value,
    pub provider: &'a dyn ContextProvider,
}

/// Call a StackStorm or Orquesta function by name. `None` means no such function is registered
/// (the caller reports its own "no function registered" error).
pub fn call(name: &str, args: &[Value], fctx: &FnContext<'_>) -> Option<Result<Value, Error>> {
    let _ = (name, args, fctx);
    None
}
