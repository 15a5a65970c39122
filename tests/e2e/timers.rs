//! `gale timer list|get` against `/api/v1/timers`. Timer triggers are created by rules through
//! the events service; until that is wired into `gale server`, this checks the empty list and
//! the error paths.

use crate::harness::*;

#[test]
fn timer_list_and_errors() {
    let s = Server::start();
    let list = s.gale_json(&["timer", "list"]);
    assert!(list.as_array().is_some(), "{list}");
    let list = s.gale_json(&["timer", "list", "-t", "core.st2.CronTimer"]);
    assert!(list.as_array().is_some(), "{list}");
    let o = s.gale(&["timer", "list", "-t", "core.st2.webhook"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("Timer type core.st2.webhook not in supported types"),
        "{}",
        stderr(&o)
    );
    let o = s.gale(&["timer", "get", "core.nope"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("Timer with ref or id \"core.nope\" not found."),
        "{}",
        stderr(&o)
    );
}
