//! The command line (README commands): dispatch, and where output goes. Commands are thin: each
//! opens what it needs and hands the work to ingest, engine, reports or print.

pub(crate) mod args;
pub(crate) mod output;
pub(crate) mod progress;
pub(crate) mod repl;

use std::io::{IsTerminal, Read};
use std::path::Path;

use datafusion::arrow::array::RecordBatch;

use crate::engine::session::Session;
use crate::engine::{Access, Rows};
use crate::error::{Error, Result};
use crate::generate;
use crate::ingest;
use crate::reports::evidence;
use crate::reports::gates::Gates;
use crate::reports::{self, dashboard};
use crate::warehouse::assignments;
use crate::warehouse::entitlements;
use crate::warehouse::key::HashAlgorithm;
use crate::warehouse::{Warehouse, check, commit, files, manifest};
pub use args::{
    Cli, Command, FailOn, GateArgs, HashArg, OutputArgs, QuarantineAction, RunsAction,
    SubscriptionAction,
};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    #[cfg(feature = "cluster")]
    if let Some(address) = cli.cluster.clone() {
        join_cluster(cli.command.as_ref(), &address)?;
        return run_command(cli)
            .await
            .map_err(|e| crate::engine::cluster::lost(e, &address));
    }
    run_command(cli).await
}

async fn run_command(cli: Cli) -> Result<()> {
    let root = cli.warehouse_dir();
    let Some(command) = &cli.command else {
        if std::io::stdin().is_terminal() {
            return repl::run(&root, cli.config.as_deref(), repl::DEFAULT_MAX_ROWS).await;
        }
        return Err(Error::Usage(
            "no command given; see `seatcount --help` (the REPL starts only on a terminal)".into(),
        ));
    };
    match command {
        Command::Init { hash } => {
            let algorithm = match hash {
                HashArg::HmacSha256 => HashAlgorithm::HmacSha256,
                HashArg::Sha256 => HashAlgorithm::Sha256,
            };
            let wh = Warehouse::open_or_create(&root, algorithm)?;
            if wh.metadata().hash != algorithm {
                return Err(Error::Usage(format!(
                    "{} already exists with a different hash algorithm",
                    root.display()
                )));
            }
            println!("warehouse ready at {}", root.display());
            Ok(())
        }
        Command::Ingest {
            files,
            on_error,
            reopen,
        } => {
            let mut progress = progress::RowProgress::new("reading");
            let summary = ingest::ingest(
                &root,
                files,
                ingest::Options {
                    on_error: *on_error,
                    reopen: *reopen,
                },
                HashAlgorithm::HmacSha256,
                &mut progress,
            )
            .await?;
            progress.finish(&format!("{} rows", progress::thousands(summary.rows_read)));
            print_summary(&summary);
            Ok(())
        }
        Command::Sql {
            query,
            command,
            file,
            output,
        } => {
            let text = match (query, command, file) {
                (Some(q), _, _) | (_, Some(q), _) => q.clone(),
                (_, _, Some(f)) => read_query_file(f)?,
                _ => {
                    return Err(Error::Usage(
                        "sql needs a query: seatcount sql 'SELECT …', -c QUERY or -f FILE".into(),
                    ));
                }
            };
            let session = Session::open(&root, cli.config.as_deref()).await?;
            let read = commit::read_lock(&session.warehouse)?;
            let rows = session.engine.script(&text, Access::ReadOnly).await?;
            output::emit(output, rows).await?;
            drop(read);
            commit::tidy_derived(&session.warehouse, &crate::engine::is_derived_table);
            Ok(())
        }
        Command::Report {
            name,
            month,
            today,
            what_if,
            save,
            gates,
            output,
        } => {
            let report = reports::find(name)?;
            let mut gates = Gates::new(gates.fail_on == Some(FailOn::OverUsage), gates.warn_at);
            if !what_if.is_empty() {
                reports::what_if::comparison(report)?;
                if gates.any() || *save {
                    return Err(Error::Usage(
                        "--fail-on, --warn-at and --save are about the bill in force, not a what-if; run them without --what-if".into(),
                    ));
                }
            }
            let session = Session::open(&root, cli.config.as_deref()).await?;
            let read = commit::read_lock(&session.warehouse)?;
            let asked = reports::Asked {
                month: month.as_deref(),
                today: *today,
            };
            if *save {
                let saved = evidence::save(&session, report, asked, None, |schema| {
                    gates.check_schema(schema, report.name)
                })
                .await?;
                let rows = Rows::from_batches(saved.schema, saved.batches);
                output::emit_observed(output, rows, |batch| gates.observe(batch)).await?;
                eprintln!("saved as run {}", saved.id);
            } else if what_if.is_empty() {
                let rows = reports::stream(&session, report, asked).await?;
                gates.check_schema(&rows.schema, report.name)?;
                output::emit_observed(output, rows, |batch| gates.observe(batch)).await?;
            } else {
                let other = session.what_if(what_if).await?;
                let rows =
                    reports::what_if::run(&session, &other, report, month.as_deref()).await?;
                output::emit(output, rows).await?;
            }
            drop(read);
            commit::tidy_derived(&session.warehouse, &crate::engine::is_derived_table);
            gates.verdict()
        }
        Command::RotateKey => Err(Error::Runtime(format!(
            "{}: seatcount cannot re-key a warehouse, because HMAC-SHA256 is one-way and the clear identifiers a new key needs were never stored; to change the key, ingest the raw files into a new warehouse (seatcount --warehouse NEW ingest RAW...) and retire this one",
            root.display()
        ))),
        Command::Runs { action } => runs(&root, action).await,
        Command::Close { month } => {
            let session = Session::open(&root, cli.config.as_deref()).await?;
            let read = commit::read_lock(&session.warehouse)?;
            let close = evidence::close(&session, month).await?;
            drop(read);
            commit::tidy_derived(&session.warehouse, &crate::engine::is_derived_table);
            println!(
                "closed {}: {} reports saved ({}); ingests that would change it are refused unless --reopen",
                close.month,
                close.runs.len(),
                close
                    .runs
                    .iter()
                    .map(|(report, id)| format!("{report} {id}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
        Command::Reports => {
            print!("{}", reports::listing());
            Ok(())
        }
        Command::RepairManifest { yes, output } => repair_manifest(&root, *yes, output).await,
        Command::Verify { output } => verify(&root, output).await,
        Command::Generate {
            users,
            apps,
            months,
            events,
            events_per_account,
            apps_per_person,
            multi_app_percent,
            start,
            seed,
            out,
            format,
        } => {
            let start = reports::parse_month(start)?;
            let shape = generate::Shape {
                max_apps: *apps_per_person,
                multi_app_percent: *multi_app_percent,
            };
            let person_months = (users * u64::from(*months)) as f64;
            let events = match (events, events_per_account) {
                (Some(n), _) => *n,
                (None, Some(per)) if per.is_finite() && *per >= 0.0 => {
                    (person_months * shape.mean_apps() * per).round() as u64
                }
                (None, Some(_)) => {
                    return Err(Error::Usage(
                        "--events-per-account must be a number of events, 0 or more".into(),
                    ));
                }
                (None, None) => users * u64::from(*months) * 4,
            };
            let spec = generate::Spec {
                users: *users,
                apps: *apps,
                months: *months,
                start: chrono::NaiveDate::parse_from_str(&format!("{start}-01"), "%Y-%m-%d")
                    .expect("parse_month checked it"),
                events,
                seed: *seed,
                shape,
            };
            let outputs = generate::plan_outputs(out, &spec, *format)?;
            let mut bar = progress::RowProgress::new("generating");
            bar.set_total(spec.events);
            let rows = generate::generate(&spec, &outputs, &mut |n| bar.update(n, n))?;
            bar.finish(&format!("{} rows", progress::thousands(rows)));
            println!(
                "generated {rows} events for {users} users in {apps} apps over {months} months to {}",
                out.display()
            );
            Ok(())
        }
        Command::Repl { max_rows } => repl::run(&root, cli.config.as_deref(), *max_rows).await,
        Command::Dashboard { output } => {
            let session = Session::open(&root, cli.config.as_deref()).await?;
            let read = commit::read_lock(&session.warehouse)?;
            let page = dashboard::render(&session).await?;
            drop(read);
            commit::tidy_derived(&session.warehouse, &crate::engine::is_derived_table);
            files::write_atomically(output, page.as_bytes())?;
            eprintln!("wrote {}", output.display());
            Ok(())
        }
        Command::Subscriptions { action } => subscriptions(&root, action).await,
        Command::Quarantine { action } => quarantine(&root, action),
        #[cfg(feature = "cluster")]
        Command::Scheduler {
            bind,
            executor_timeout,
        } => {
            use crate::engine::cluster::serve;
            serve::scheduler(serve::SchedulerOptions {
                bind: bind.clone(),
                executor_timeout_s: *executor_timeout,
            })
            .await
        }
        #[cfg(feature = "cluster")]
        Command::Executor {
            scheduler,
            bind,
            advertise,
            port,
            grpc_port,
            cores,
            memory,
            work_dir,
            heartbeat,
        } => {
            use crate::engine::cluster::serve;
            serve::executor(serve::ExecutorOptions {
                scheduler: scheduler.clone(),
                bind_host: bind.clone(),
                advertise: advertise.clone(),
                port: *port,
                grpc_port: *grpc_port,
                cores: cores.map(|n| n as usize),
                memory_mb: *memory,
                work_dir: work_dir.clone(),
                heartbeat_s: *heartbeat,
            })
            .await
        }
    }
}

/// Sends this process's queries to the cluster at `address`, for the commands that run
/// queries and write nothing to the warehouse but their saved runs (docs/cluster.md).
#[cfg(feature = "cluster")]
fn join_cluster(command: Option<&Command>, address: &str) -> Result<()> {
    let allowed = match command {
        None => true,
        Some(command) => matches!(
            command,
            Command::Sql { .. }
                | Command::Report { .. }
                | Command::Repl { .. }
                | Command::Dashboard { .. }
                | Command::Close { .. }
                | Command::Runs { .. }
        ),
    };
    if !allowed {
        return Err(Error::Usage(
            "--cluster is for sql, report, repl, dashboard, close and runs: the other commands run here".into(),
        ));
    }
    crate::engine::cluster::Cluster::connect(address)?.use_for_this_process();
    Ok(())
}

async fn subscriptions(root: &Path, action: &SubscriptionAction) -> Result<()> {
    let wh = Warehouse::open(root)?;
    match action {
        SubscriptionAction::List { output } => {
            let subs = entitlements::load(&wh)?;
            let batch = entitlements::to_batch(&subs)?;
            output::emit(output, Rows::from_batches(batch.schema(), vec![batch])).await
        }
        SubscriptionAction::Add {
            kind,
            quantity,
            from,
            to,
            app,
            id,
            unit_price,
            currency,
        } => {
            let mut added = String::new();
            entitlements::update(&wh, |subs| {
                let id = match id {
                    Some(id) => id.clone(),
                    None => (1..)
                        .map(|n| format!("sub-{n}"))
                        .find(|c| !subs.iter().any(|s| &s.id == c))
                        .expect("a free id"),
                };
                let sub = entitlements::Subscription {
                    id: id.clone(),
                    kind: *kind,
                    quantity: i64::from(*quantity),
                    valid_from: *from,
                    valid_to: *to,
                    app_id: app.clone(),
                    price: match (unit_price, currency) {
                        (Some(amount), Some(currency)) => {
                            Some(entitlements::Price::parse(amount, currency).map_err(
                                |(column, reason)| Error::Usage(format!("{column}: {reason}")),
                            )?)
                        }
                        _ => None,
                    },
                };
                entitlements::check(&sub, subs)
                    .map_err(|(column, reason)| Error::Usage(format!("{column}: {reason}")))?;
                subs.push(sub);
                added = id;
                Ok(())
            })?;
            println!("added subscription {added}");
            Ok(())
        }
        SubscriptionAction::Assign { id, app, from } => {
            let from = from.unwrap_or_else(|| chrono::Utc::now().date_naive());
            assignments::add(
                &wh,
                &assignments::Assignment {
                    subscription_id: id.clone(),
                    app_id: app.clone(),
                    assigned_from: from,
                },
            )?;
            println!("assigned {id} to {app} from {from}");
            Ok(())
        }
    }
}

/// Lists the events files on disk, which a lost manifest would be rebuilt from, and records
/// them with `yes`. Under the ingest lock and the commit lock, so no commit runs meanwhile.
async fn repair_manifest(root: &Path, yes: bool, output: &args::OutputArgs) -> Result<()> {
    let wh = Warehouse::open(root)?;
    let _ingest = commit::ingest_lock(&wh)?;
    let _commit = commit::write_lock(&wh)?;
    let files = check::scan_events(&wh)?;
    let batch = stored_files_batch(&files, None)?;
    output::emit(output, Rows::from_batches(batch.schema(), vec![batch])).await?;
    if yes {
        manifest::write_manifest(&wh, &files)?;
        eprintln!(
            "recorded {} files as the manifest; from now on only they are counted",
            files.len()
        );
    } else {
        eprintln!(
            "nothing written: check that these are seatcount's files (move any other out of events/), then run `seatcount repair-manifest --yes`"
        );
    }
    Ok(())
}

/// Reads every events file against its recorded checksum, under the readers' lock; lists
/// them, and fails naming the first that differs.
async fn verify(root: &Path, output: &args::OutputArgs) -> Result<()> {
    let wh = Warehouse::open(root)?;
    let _read = commit::listing_lock(&wh)?;
    let checked = check::verify(&wh)?;
    let files: Vec<manifest::StoredFile> = checked.iter().map(|(f, _)| f.clone()).collect();
    let states: Vec<&str> = checked
        .iter()
        .map(|(_, ok)| if *ok { "ok" } else { "damaged" })
        .collect();
    let batch = stored_files_batch(&files, Some(&states))?;
    output::emit(output, Rows::from_batches(batch.schema(), vec![batch])).await?;
    match checked.iter().find(|(_, ok)| !ok) {
        Some((file, _)) => Err(Error::Runtime(format!(
            "{}: damaged: its bytes differ from those seatcount wrote, though its size is the same; restore it from a backup",
            wh.root().join(&file.path).display()
        ))),
        None => Ok(()),
    }
}

/// The files as rows of (path, rows, bytes[, state]), for every output format.
fn stored_files_batch(
    files: &[manifest::StoredFile],
    states: Option<&[&str]>,
) -> Result<RecordBatch> {
    use datafusion::arrow::array::{ArrayRef, StringArray, UInt64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let mut fields = vec![
        Field::new("path", DataType::Utf8, false),
        Field::new("rows", DataType::UInt64, false),
        Field::new("bytes", DataType::UInt64, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        std::sync::Arc::new(StringArray::from_iter_values(
            files.iter().map(|f| f.path.display().to_string()),
        )),
        std::sync::Arc::new(UInt64Array::from_iter_values(files.iter().map(|f| f.rows))),
        std::sync::Arc::new(UInt64Array::from_iter_values(files.iter().map(|f| f.bytes))),
    ];
    if let Some(states) = states {
        fields.push(Field::new("state", DataType::Utf8, false));
        columns.push(std::sync::Arc::new(StringArray::from_iter_values(
            states.iter().copied(),
        )));
    }
    Ok(RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        columns,
    )?)
}

fn read_query_file(path: &Path) -> Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::io("standard input", e))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Usage(format!("{}: no such file", path.display())),
        _ => Error::io(path, e),
    })
}

fn print_summary(s: &ingest::Summary) {
    let mut line = format!(
        "ingested {} file{}: {} rows read, {} stored",
        s.files_read,
        if s.files_read == 1 { "" } else { "s" },
        s.rows_read,
        s.rows_stored
    );
    if !s.months.is_empty() {
        line.push_str(&format!(" in {}", s.months.join(", ")));
    }
    line.push_str(&format!(", {} duplicate events dropped", s.rows_duplicate));
    if s.rows_conflicting > 0 {
        line.push_str(&format!(
            ", {} conflicting versions of an event id set aside in conflicts/",
            s.rows_conflicting
        ));
        if s.rows_outranked > 0 {
            line.push_str(&format!(
                " ({} of them stored events an earlier version replaced)",
                s.rows_outranked
            ));
        }
    }
    line.push_str(&format!(", {} quarantined", s.rows_quarantined));
    if let Some(q) = &s.quarantine_file {
        line.push_str(&format!(" to {}", q.display()));
    }
    println!("{line}");
    for f in &s.files_skipped {
        println!("skipped {f}: already ingested");
    }
}

fn quarantine(root: &Path, action: &QuarantineAction) -> Result<()> {
    let wh = Warehouse::open(root)?;
    let dir = wh.quarantine_dir();
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".ndjson"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    names.sort();
    match action {
        QuarantineAction::List => {
            for name in &names {
                let path = dir.join(name);
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                println!("{name}\t{} rows", text.lines().count());
            }
            Ok(())
        }
        QuarantineAction::Purge { names: wanted, all } => {
            let targets: Vec<String> = if *all { names } else { wanted.clone() };
            for name in &targets {
                if name.contains('/') || !names_contains(&dir, name) {
                    return Err(Error::Usage(format!("{name}: no such quarantine file")));
                }
            }
            for name in &targets {
                let path = dir.join(name);
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                println!("purged {name}");
            }
            Ok(())
        }
    }
}

fn names_contains(dir: &Path, name: &str) -> bool {
    dir.join(name).is_file()
}

/// `seatcount runs`: saved runs are read under the shared lock, like the events they name.
async fn runs(root: &Path, action: &RunsAction) -> Result<()> {
    let wh = Warehouse::open(root)?;
    let _read = commit::read_lock(&wh)?;
    match action {
        RunsAction::List { output } => output::emit(output, evidence::list(&wh)?).await,
        RunsAction::Show { id } => {
            let saved = crate::warehouse::runs::load(&wh, id)?;
            for line in evidence::describe(&saved) {
                eprintln!("{line}");
            }
            use std::io::Write;
            std::io::stdout()
                .write_all(&saved.output)
                .map_err(reports::format::output_error)
        }
        RunsAction::Diff {
            before,
            after,
            output,
        } => output::emit(output, evidence::diff(&wh, before, after)?).await,
        RunsAction::Verify { id } => {
            println!("{}", evidence::verify(&wh, id).await?);
            Ok(())
        }
    }
}
