//! Python `str()` / `repr()` of JSON values, as the reference (Python) libraries print them.
//!
//! Used wherever an expression result is spliced into surrounding text, and by functions such as
//! `regex_match` that call `str(value)` on non-string input. The one copy of these rules lives in
//! `gale_model::py`, shared with the runners and the pack loader.

pub use gale_model::py::{
    float_repr, py_repr, py_str, truthy, type_name, write_repr, write_str_repr,
};
