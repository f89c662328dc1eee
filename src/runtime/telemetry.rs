//! Logging: plain or JSON lines, filtered by a `RUST_LOG`-style directive.

use clap::ValueEnum;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Plain,
    Json,
}

/// Installs the global subscriber. `level` is a filter directive such as `info` or
/// `info,partner_center_operator=debug`; `RUST_LOG` wins when set.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let registry = tracing_subscriber::registry().with(filter);
    // try_init: tests and subcommands may initialise more than once in one process.
    let _ = match format {
        // Colour only on a terminal: log files and `kubectl logs` get no escape codes
        // (NO_COLOR also turns it off, as https://no-color.org asks).
        LogFormat::Plain => registry
            .with(fmt::layer().with_target(false).with_ansi(colour()))
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
    };
}

/// Whether plain logs may use ANSI colour: stdout is a terminal and NO_COLOR is unset or empty.
fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
