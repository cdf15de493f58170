//! Frame time of the real key-list UI with 10,000 keys, headless: the whole app (toolbar, virtualised
//! table, detail panel, status bar) laid out by egui and tessellated, as a frame costs on the CPU
//! before the GPU. Compared side by side with the same app holding 100 keys (enough to fill the
//! window, so the same rows are drawn) and 10 keys (fewer rows), idle and while scrolling; and the
//! same 10,000 keys spread over five accounts (this computer's server, two Keywarden servers, a
//! ThingsBoard account and tracked keys), with the Source column and per-account lookups.
//!
//! ```sh
//! cargo bench --bench gui
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use keywarden::api::Role;
use keywarden::gui::{AppDeps, KeywardenApp};
use keywarden::key::{self, TokenKind};
use keywarden::secret::Secret;
use keywarden::server::accounts;
use keywarden::server::store::{NewKey, SqliteStore};
use keywarden::settings::Config;
use keywarden::vault::MemoryVault;
use keywarden::vault::clipboard::ClipboardError;

struct Bench {
    app: KeywardenApp,
    ctx: egui::Context,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn input(scroll: bool) -> egui::RawInput {
    let mut input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 800.0),
        )),
        ..Default::default()
    };
    if scroll {
        input
            .events
            .push(egui::Event::PointerMoved(egui::pos2(300.0, 400.0)));
        input.events.push(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, -40.0),
            phase: egui::TouchPhase::Move,
            modifiers: egui::Modifiers::NONE,
            source: egui::MouseWheelSource::Wheel,
        });
    }
    input
}

impl Bench {
    fn new(key_count: usize, sources: usize) -> Bench {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("server.db").display());
        runtime.block_on(seed(&url, key_count));
        let deps = AppDeps {
            runtime: runtime.handle().clone(),
            vault: Arc::new(MemoryVault::default()),
            clipboard: Err(ClipboardError::Unavailable("not in the benchmark".into())),
            config: Config {
                notifications: false,
                ..Config::default()
            },
            config_path: None,
            config_error: None,
            local_database_url: url,
            view: None,
            data_dir: None,
            list_cache: None,
        };
        let ctx = egui::Context::default();
        let mut app = KeywardenApp::new(&ctx, deps);
        let deadline = Instant::now() + Duration::from_secs(60);
        while app.state.keys.value().is_none_or(|k| k.len() != key_count) || app.busy() {
            assert!(Instant::now() < deadline, "the keys did not load");
            let _ = ctx.run_ui(input(false), |ui| app.ui(ui));
            std::thread::sleep(Duration::from_millis(5));
        }
        if sources > 1 {
            spread_over_accounts(&mut app, sources);
            let _ = ctx.run_ui(input(false), |ui| app.ui(ui));
        }
        // Select one key so the detail panel is part of every frame, as in daily use.
        let first = app
            .state
            .keys
            .value()
            .and_then(|k| k.first())
            .map(|k| k.key_ref());
        app.state.selected = first;
        Bench {
            app,
            ctx,
            _runtime: runtime,
            _dir: dir,
        }
    }

    fn frame(&mut self, scroll: bool) -> usize {
        let output = self.ctx.run_ui(input(scroll), |ui| self.app.ui(ui));
        self.ctx
            .tessellate(output.shapes, output.pixels_per_point)
            .len()
    }
}

/// Moves the keys into `sources` accounts of every kind, as if each had listed its share.
fn spread_over_accounts(app: &mut KeywardenApp, sources: usize) {
    use keywarden::gui::state::{AccountView, Connection};
    use keywarden::sources::SourceKind;
    let state = &mut app.state;
    let mut keys = state.accounts[0].keys.take().unwrap_or_default();
    let extra = [
        ("https://a.example", SourceKind::Keywarden, "keywarden"),
        ("https://b.example", SourceKind::Keywarden, "keywarden"),
        ("tb", SourceKind::Thingsboard, "thingsboard"),
        ("tracked", SourceKind::Tracked, "github"),
    ];
    let share = keys.len() / sources;
    state.accounts.retain(|a| a.name == "local");
    for (name, kind, service) in extra.into_iter().take(sources - 1) {
        let mut account = AccountView::new(name, kind, Some(name.to_string()), "dev@example.com");
        account.connection = Connection::Connected;
        let mut mine: Vec<_> = keys.split_off(keys.len() - share);
        for key in &mut mine {
            key.source = name.to_string();
            key.kind = kind;
            key.service = service.to_string();
        }
        account.keys = Some(mine);
        state.accounts.push(account);
    }
    state.accounts[0].keys = Some(keys);
    state.rebuild_keys();
}

async fn seed(url: &str, count: usize) {
    let store = SqliteStore::open(url).await.unwrap();
    let workspace = accounts::ensure_workspace(&store, "default").await.unwrap();
    let user = accounts::create_user(
        &store,
        "seed@localhost",
        &Secret::new("seed password"),
        Role::Member,
        workspace,
        &keywarden::server::store::AuditContext::system(chrono::Utc::now()),
    )
    .await
    .unwrap();
    let now = Utc::now();
    let keys: Vec<NewKey> = (0..count)
        .map(|i| {
            let secret = key::generate(TokenKind::ApiKey);
            NewKey {
                hash: key::hash(secret.expose()),
                hint: key::display_hint(secret.expose()),
                name: format!("service key {i:05}"),
                description: format!("seeded key number {i}"),
                workspace_id: workspace,
                user_id: user.id,
                created_at: now,
                expires_at: now + chrono::Duration::days(1 + (i % 365) as i64),
                scopes: vec![],
                replaces: None,
            }
        })
        .collect();
    store.insert_keys_unaudited(&keys).await.unwrap();
}

fn frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    group.measurement_time(Duration::from_secs(5));
    for key_count in [10, 100, 10_000] {
        let mut bench = Bench::new(key_count, 1);
        group.bench_with_input(BenchmarkId::new("idle", key_count), &key_count, |b, _| {
            b.iter(|| black_box(bench.frame(false)))
        });
        group.bench_with_input(
            BenchmarkId::new("scrolling", key_count),
            &key_count,
            |b, _| b.iter(|| black_box(bench.frame(true))),
        );
    }
    let mut bench = Bench::new(10_000, 5);
    assert_eq!(bench.app.state.accounts.len(), 5);
    group.bench_function("idle/10000 keys in five sources", |b| {
        b.iter(|| black_box(bench.frame(false)))
    });
    group.bench_function("scrolling/10000 keys in five sources", |b| {
        b.iter(|| black_box(bench.frame(true)))
    });
    group.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
