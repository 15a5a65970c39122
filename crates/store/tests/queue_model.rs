//! Property test: random enqueue/claim/ack/nack/time-advance sequences give the same claims and
//! queue lengths on the SQLite queue as on the reference model in `gale_store::suite`.

use gale_store::sqlite::SqliteStore;
use gale_store::suite::{check_queue_against_model, QueueOp};
use proptest::prelude::*;

/// Times are whole multiples of 100 ms so that availability and lease expiry often fall exactly
/// on the current instant (the boundary cases).
fn op() -> impl Strategy<Value = QueueOp> {
    let tick = |lo: i64, hi: i64| (lo..hi).prop_map(|n| n * 100);
    prop_oneof![
        3 => tick(-5, 20).prop_map(|delay_ms| QueueOp::Enqueue { delay_ms }),
        3 => (0u8..3, 1u64..30, 0usize..5)
            .prop_map(|(worker, lease, max)| QueueOp::Claim { worker, lease_ms: lease * 100, max }),
        1 => any::<usize>().prop_map(|pick| QueueOp::Ack { pick }),
        1 => (any::<usize>(), tick(-2, 20)).prop_map(|(pick, delay_ms)| QueueOp::Nack { pick, delay_ms }),
        2 => tick(0, 15).prop_map(|ms| QueueOp::Advance { ms }),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn in_memory_queue_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        runtime().block_on(async {
            let store = SqliteStore::open_in_memory().unwrap();
            check_queue_against_model(&store, &ops).await;
        });
    }
}

proptest! {
    // File-backed goes through the reader pool for queue_len; fewer cases, it is slower.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn file_queue_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        runtime().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(dir.path().join("q.db")).unwrap();
            check_queue_against_model(&store, &ops).await;
        });
    }
}
