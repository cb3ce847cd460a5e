//! The `seatcount` binary: parse flags, run, turn any error into one sentence and an exit
//! code.

use clap::Parser;

/// DataFusion's hash tables and Arrow buffers make many short-lived allocations of many
/// sizes across threads; mimalloc serves them with 10-20% less CPU than glibc on the
/// reports (BENCHMARKS.md), as DataFusion's own CLI does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Internal errors must still read as one sentence, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        eprintln!("seatcount: internal error: {message}");
        std::process::exit(1);
    }));
    let cli = seatcount::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("seatcount: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(seatcount::cli::run(cli)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("seatcount: {e}");
            e.exit_code()
        }
    };
    // A failed query can leave tasks that hold the engine's spill directory; shutting the
    // runtime down drops them, so the directory is removed before the process exits.
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    std::process::exit(code);
}
