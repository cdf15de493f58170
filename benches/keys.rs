//! Benchmarks of the key format and of verifying a key: generate, parse with checksum, hash, and the
//! lookup by hash with 1,000 and with 1,000,000 stored keys, both in the store alone and through the
//! server's credential cache (`AppState::lookup_key`, what every request with a key does).
//!
//! ```sh
//! cargo bench --bench keys
//! ```
//!
//! The seeded databases are kept in `target/bench-data/keys-N.db` (with `keys-N.db.seed`, see
//! `examples/seed.rs`), so only the first run pays for seeding. `KEYWARDEN_BENCH_KEYS=1000` limits
//! the run to the given key counts (comma-separated).

#[path = "../examples/seed.rs"]
#[allow(dead_code)]
mod seed;

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use keywarden::key::{self, TokenKind};
use keywarden::server::store::Store;
use keywarden::server::{AppState, ServerConfig};
use tokio::runtime::Runtime;

const DEFAULT_KEY_COUNTS: [usize; 2] = [1_000, 1_000_000];

fn format(c: &mut Criterion) {
    let mut group = c.benchmark_group("key");
    group.bench_function("generate", |b| {
        b.iter(|| key::generate(black_box(TokenKind::ApiKey)))
    });
    let text = key::generate(TokenKind::ApiKey);
    let text = text.expose();
    group.bench_function("parse", |b| {
        b.iter(|| key::parse(TokenKind::ApiKey, black_box(text)))
    });
    group.bench_function("hash", |b| b.iter(|| key::hash(black_box(text))));
    group.finish();
}

fn verify_lookup(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut group = c.benchmark_group("verify_lookup");
    for key_count in key_counts() {
        let seeded = seeded_database(&runtime, key_count);
        let texts: Vec<&str> = seeded.sample.iter().map(|s| s.expose()).collect();
        let hashes: Vec<[u8; 32]> = texts.iter().map(|t| key::hash(t)).collect();
        let store: Arc<dyn Store> = Arc::new(seeded.store.clone());
        let state = AppState::new(store.clone(), ServerConfig::default());

        // Every sample key must be found, or the numbers below would time misses.
        runtime.block_on(async {
            for text in &texts {
                let found = state.lookup_key(text).await.expect("lookup");
                assert!(found.is_some(), "a seeded key was not found");
            }
        });
        let unknown: Vec<String> = (0..texts.len())
            .map(|_| key::generate(TokenKind::ApiKey).expose().to_string())
            .collect();

        // The database query alone, each iteration a different key (of up to 1,000).
        group.bench_with_input(
            BenchmarkId::new("store_key_auth", key_count),
            &hashes,
            |b, hashes| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        let started = Instant::now();
                        for i in 0..iters {
                            let hash = hashes[i as usize % hashes.len()];
                            black_box(store.key_auth(hash).await.expect("key_auth"));
                        }
                        started.elapsed()
                    })
                })
            },
        );
        // What a request does once the key is cached: hash plus a map lookup.
        group.bench_with_input(
            BenchmarkId::new("lookup_key_cached", key_count),
            &texts,
            |b, texts| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        let started = Instant::now();
                        for i in 0..iters {
                            let text = texts[i as usize % texts.len()];
                            black_box(state.lookup_key(text).await.expect("lookup"));
                        }
                        started.elapsed()
                    })
                })
            },
        );
        // The first request with a key: the cache is emptied before each lookup (which costs a
        // little itself), so every lookup goes to the database and fills the cache again.
        group.bench_with_input(
            BenchmarkId::new("lookup_key_uncached", key_count),
            &texts,
            |b, texts| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        let started = Instant::now();
                        for i in 0..iters {
                            state.cache.invalidate_all();
                            let text = texts[i as usize % texts.len()];
                            black_box(state.lookup_key(text).await.expect("lookup"));
                        }
                        started.elapsed()
                    })
                })
            },
        );
        // A well-formed key the server does not know, presented again: the miss is cached too, so
        // made-up keys do not reach the database twice.
        group.bench_with_input(
            BenchmarkId::new("lookup_key_unknown", key_count),
            &unknown,
            |b, unknown| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        let started = Instant::now();
                        for i in 0..iters {
                            let text = &unknown[i as usize % unknown.len()];
                            black_box(state.lookup_key(text).await.expect("lookup"));
                        }
                        started.elapsed()
                    })
                })
            },
        );
    }
    group.finish();
}

fn key_counts() -> Vec<usize> {
    match std::env::var("KEYWARDEN_BENCH_KEYS") {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim()
                    .replace('_', "")
                    .parse()
                    .expect("KEYWARDEN_BENCH_KEYS: comma-separated numbers")
            })
            .collect(),
        Err(_) => DEFAULT_KEY_COUNTS.to_vec(),
    }
}

/// The database with `key_count` keys under `target/bench-data`, seeded on first use.
fn seeded_database(runtime: &Runtime, key_count: usize) -> seed::Seeded {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("bench-data");
    std::fs::create_dir_all(&dir).expect("cannot create target/bench-data");
    let path = dir.join(format!("keys-{key_count}.db"));
    let url = format!("sqlite://{}", path.display());
    let marker = seed::marker_path(&url).expect("marker path");
    // A database without its marker is an interrupted seed: start it over.
    if !marker.exists() {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
    let started = Instant::now();
    let seeded = runtime
        .block_on(seed::seed(&url, key_count))
        .unwrap_or_else(|err| panic!("cannot seed {url}: {err:#}"));
    eprintln!(
        "verify_lookup: {} keys in {} (ready in {:.1} s)",
        seeded.key_count,
        path.display(),
        started.elapsed().as_secs_f64()
    );
    seeded
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = format, verify_lookup
}
criterion_main!(benches);
