//! The `seatcount` binary: parse flags, run, turn any error into one sentence and an exit
//! code.

use clap::Parser;

/// DataFusion's hash tables and Arrow buffers make many short-lived allocations of many
/// sizes across threads; mimalloc serves them with less CPU than glibc on the reports
/// (BENCHMARKS.md), as DataFusion's own CLI does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mimalloc.h`; the sys crate names no constant.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// mimalloc hands freed memory back to the kernel after a second, and a report that allocates
/// the next batches' buffers then has the kernel zero fresh pages again (BENCHMARKS.md item
/// 30). Holding freed memory for the process's life keeps the pages it has. The memory pool
/// still bounds what the engine uses; only the peak is kept. Ingest gains no time from it and
/// would keep more memory, so it keeps mimalloc's default. `MIMALLOC_PURGE_DELAY`
/// still overrides.
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option; mimalloc reads options atomically.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
    }
}

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
    if !matches!(cli.command, Some(seatcount::cli::Command::Ingest { .. })) {
        keep_freed_memory();
    }
    // A cluster's scheduler and executors decode seatcount's plans recursively, and those plans
    // nest deeper than a worker's default 2 MiB stack allows (Ballista's own binaries take 32).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The option's number is mimalloc's, not ours: its default (1000 ms, in mimalloc 3's
    /// `options.c`; its neighbours default to 1 and 0) must be what that number reads, so a
    /// mimalloc that renumbers its options fails here.
    #[test]
    fn the_purge_delay_option_is_the_one_mimalloc_numbers_15() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads one integer option.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 1000);
    }
}
