//! Listing the keys of a ThingsBoard account through its REST API, against the loopback stand-in
//! of the tests (`tests/stand_ins/thingsboard.rs`): 1,000 keys (10 pages of 100) beside 100 keys
//! (one page), in one run, with the number of requests each listing makes.
//!
//! ```sh
//! cargo bench --bench sources
//! ```

#[path = "../tests/stand_ins/thingsboard.rs"]
mod thingsboard;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use keywarden::secret::Secret;
use keywarden::sources::KeySource as _;
use keywarden::sources::thingsboard::{SignIn, ThingsBoardSource};
use keywarden::vault::MemoryVault;

fn thingsboard_listing(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut group = c.benchmark_group("thingsboard_list");
    for count in [100usize, 1_000] {
        let tb = runtime.block_on(thingsboard::ThingsBoard::start());
        // A customer user lists only their own keys: the requests are the key pages alone.
        tb.insert_keys("user@tb.example", count, 90);
        let signed_in = runtime
            .block_on(ThingsBoardSource::sign_in(
                "tb",
                &tb.url,
                false,
                "user@tb.example",
                &Secret::new("tb password"),
                Arc::new(MemoryVault::default()),
            ))
            .expect("sign in to the stand-in");
        let SignIn::Done(source) = signed_in else {
            panic!("the user has no second factor");
        };
        let before = tb.requests.load(Ordering::Relaxed);
        let listed = runtime.block_on(source.list()).expect("list");
        assert_eq!(listed.len(), count);
        let requests = tb.requests.load(Ordering::Relaxed) - before;
        println!("thingsboard_list/{count}: {requests} requests per listing");
        group.bench_with_input(BenchmarkId::from_parameter(count), &count, |b, _| {
            b.iter(|| runtime.block_on(source.list()).expect("list"))
        });
    }
    group.finish();
}

criterion_group!(benches, thingsboard_listing);
criterion_main!(benches);
