//! `kubectl channel ...`: the operator's tools for people (src/cli) as a kubectl plugin. kubectl
//! runs any `kubectl-<name>` on the PATH for `kubectl <name>`; this binary holds no logic of its own.

use clap::Parser;
use partner_center_operator::cli;

#[derive(Parser)]
#[command(
    name = "kubectl-channel",
    bin_name = "kubectl channel",
    version,
    about = "Why a reseller, connection or customer of the channel is (not) ready, and what a change would break"
)]
struct Plugin {
    #[command(subcommand)]
    tool: cli::Tool,
}

fn main() -> anyhow::Result<()> {
    let tool = Plugin::parse().tool;
    let code = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            partner_center_operator::tls::install_crypto_provider();
            cli::run_tool(tool).await
        })?;
    std::process::exit(code)
}
