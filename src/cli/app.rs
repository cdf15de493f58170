//! `keywarden` with no subcommand: the desktop app.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use crate::gui::{AppDeps, KeywardenApp, VIEW_KEY};
use crate::settings::Config;
use crate::sources::list_cache::ListCache;
use crate::vault;
use crate::vault::clipboard::ClipboardService;

const ICON_PNG: &[u8] = include_bytes!("../../assets/icons/dev.keywarden.Keywarden-128.png");

pub fn run() -> anyhow::Result<ExitCode> {
    // Keywarden's own warnings only by default (the windowing libraries warn about harmless display
    // quirks); `RUST_LOG=keywarden=info` adds the start-up steps, timed from the start.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("keywarden=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("keywarden-worker")
        .build()?;
    let config_path = Config::default_path()?;
    let (config, config_error) = match Config::load(&config_path) {
        Ok(config) => (config, None),
        Err(err) => (Config::default(), Some(err.to_string())),
    };
    // A config that could not be read is left as it is: nothing is saved over it this session.
    let config_path = config_error.is_none().then_some(config_path);
    let (vault, _) = vault::open_keychain();
    let clipboard = ClipboardService::start().map(Arc::new);
    let local_database_url = super::local_database_url()?;
    let data_dir = super::data_dir()?;
    let handle = runtime.handle().clone();

    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Keywarden")
        .with_app_id(crate::gui::APP_ID)
        .with_inner_size([1100.0, 680.0])
        .with_min_inner_size([640.0, 400.0]);
    if let Ok(icon) = eframe::icon_data::from_png_bytes(ICON_PNG) {
        viewport = viewport.with_icon(icon);
    }
    let options = eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    eframe::run_native(
        "Keywarden",
        options,
        Box::new(move |cc| {
            let view = cc
                .storage
                .and_then(|storage| eframe::get_value(storage, VIEW_KEY));
            let deps = AppDeps {
                runtime: handle,
                vault,
                clipboard,
                config,
                config_path,
                config_error,
                local_database_url,
                view,
                data_dir: Some(data_dir),
                list_cache: ListCache::default_dir().map(ListCache::new),
            };
            Ok(Box::new(KeywardenApp::new(&cc.egui_ctx, deps)))
        }),
    )
    .map_err(|err| anyhow::anyhow!("cannot open the window: {err}"))
    .context("the desktop app needs a display (X11 or Wayland)")?;
    drop(runtime);
    Ok(ExitCode::SUCCESS)
}
