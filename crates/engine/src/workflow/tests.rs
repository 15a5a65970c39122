use super::*;
use gale_model::ExecStatus::*;

#[test]
fn parent_hears_completion_pause_and_resume_only() {
    assert!(notifies_parent(Running, Succeeded));
    assert!(notifies_parent(Canceling, Canceled));
    assert!(notifies_parent(Pausing, Paused));
    assert!(notifies_parent(Resuming, Running));
    assert!(notifies_parent(Running, Pending));
    assert!(
        !notifies_parent(Requested, Running),
        "the start was reported at dispatch"
    );
    assert!(!notifies_parent(Scheduled, Running));
    assert!(!notifies_parent(Running, Running));
    assert!(!notifies_parent(Running, Canceling));
}

#[test]
fn result_shape_follows_st2() {
    assert_eq!(
        orquesta_result(Some(json!({"a": 1})), None),
        json!({"output": {"a": 1}})
    );
    let r = orquesta_result(None, Some(vec![json!({"type": "error"})]));
    assert_eq!(r, json!({"errors": [{"type": "error"}], "output": null}));
}

#[test]
fn cancel_wins_over_a_late_failure() {
    let t = gale_model::now();
    let mut e = gale_store::suite::execution("x", "core.noop", t);
    e.status = Canceling;
    set_status(&mut e, Failed, t);
    assert_eq!(e.status, Canceled);
    let mut e = gale_store::suite::execution("x", "core.noop", t);
    e.status = Running;
    set_status(&mut e, Pausing, t);
    set_status(&mut e, Paused, t);
    set_status(&mut e, Resuming, t);
    set_status(&mut e, Running, t);
    set_status(&mut e, Succeeded, t);
    assert_eq!(e.status, Succeeded);
    assert!(e.end_timestamp.is_some());
}
