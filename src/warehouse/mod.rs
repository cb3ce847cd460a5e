//! The warehouse directory (docs/input.md "What lands on disk"): where everything lives, how it
//! is created and opened, and which key hashes its identifiers.
//!
//! ```text
//! <warehouse>/events/month=YYYY-MM/*.parquet   hashed events, hive-partitioned
//! <warehouse>/entitlements.csv                 subscriptions
//! <warehouse>/seatcount.toml                   configuration (optional)
//! <warehouse>/seatcount.key                    the hash key, mode 0600
//! <warehouse>/quarantine/                      rejected rows as they came, mode 0600
//! <warehouse>/_seatcount/                      seatcount's own state: metadata, ledger of
//!                                              ingested files, locks, commit journal, staging
//! <warehouse>/_seatcount/derived/              per-month derived state (docs/derived.md)
//! <warehouse>/_seatcount/runs/                 saved runs and closes (docs/evidence.md)
//! ```

pub(crate) mod assignments;
pub(crate) mod check;
pub(crate) mod closes;
pub(crate) mod commit;
pub(crate) mod crash;
pub(crate) mod derived;
pub mod entitlements;
pub(crate) mod files;
pub mod key;
pub(crate) mod lock;
pub(crate) mod manifest;
pub(crate) mod runs;
pub(crate) mod schema;
pub mod sources;
pub(crate) mod table;

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use key::{HashAlgorithm, HashKey, KEY_ENV};

/// Environment variable naming the default warehouse.
pub(crate) const WAREHOUSE_ENV: &str = "SEATCOUNT_WAREHOUSE";
/// The warehouse used when neither `--warehouse` nor `SEATCOUNT_WAREHOUSE` is given: the
/// shipped sample in a clone of the repository.
pub(crate) const DEFAULT_WAREHOUSE: &str = "data/warehouse";
/// Version of the on-disk layout written by this build. Format 3 stores each hash in 16 bytes
/// (docs/input.md "What lands on disk"); format 2 stored 64 hex characters, and format 1 had
/// no exact forms (docs/semantics.md "Stored forms"). An older warehouse is refused with a
/// sentence that says to ingest its raw files into a new one.
pub(crate) const FORMAT_VERSION: u32 = 3;

/// The events table's directory under the root, as commits and the journal name it.
pub(crate) const EVENTS: &str = "events";
/// The conflicts table's directory, partitioned like [`EVENTS`].
pub(crate) const CONFLICTS: &str = "conflicts";
/// Rejected rows, kept as they came.
pub(crate) const QUARANTINE: &str = "quarantine";

/// seatcount's private state inside a warehouse: metadata, manifest, ledger, locks, staging.
pub(crate) const STATE: &str = "_seatcount";

/// The warehouse's metadata inside [`STATE`]: its format and the key's fingerprint.
const METADATA: &str = "warehouse.json";

/// The warehouse's own configuration file, read when no `--config` is given; known before
/// the warehouse is opened.
pub(crate) fn config_path(root: &Path) -> PathBuf {
    root.join("seatcount.toml")
}

/// Facts fixed when the warehouse is created, kept in `_seatcount/warehouse.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Layout version.
    pub format: u32,
    /// How identifiers are hashed.
    pub hash: HashAlgorithm,
    /// [`HashKey::fingerprint`] of the key every stored hash was made with.
    pub key_fingerprint: String,
}

/// An open warehouse directory.
#[derive(Debug, Clone)]
pub struct Warehouse {
    root: PathBuf,
    meta: Metadata,
}

impl Warehouse {
    /// Opens an existing warehouse; a directory that is not one is a usage error that
    /// says how to make one.
    pub fn open(root: &Path) -> Result<Self> {
        let meta_path = root.join(STATE).join(METADATA);
        if !meta_path.exists() {
            return Err(Error::Usage(format!(
                "{} is not a seatcount warehouse (no _seatcount/warehouse.json); create one with `seatcount --warehouse {} init` or by ingesting files into it",
                root.display(),
                root.display()
            )));
        }
        let text = fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
        let meta: Metadata = serde_json::from_str(&text).map_err(|e| {
            Error::Runtime(format!(
                "{}: damaged warehouse metadata: {e}",
                meta_path.display()
            ))
        })?;
        if meta.format < FORMAT_VERSION {
            return Err(Error::Usage(format!(
                "{} was written by an older seatcount (format {}) whose stored hashes this build does not read; ingest its raw files into a new warehouse",
                root.display(),
                meta.format
            )));
        }
        if meta.format > FORMAT_VERSION {
            return Err(Error::Runtime(format!(
                "{} was written by a newer seatcount (format {}); this build reads format {FORMAT_VERSION}",
                root.display(),
                meta.format
            )));
        }
        Ok(Warehouse {
            root: root.to_path_buf(),
            meta,
        })
    }

    /// Opens the warehouse, creating it (with a fresh key file unless
    /// `SEATCOUNT_HASH_KEY` is set) when the directory holds none yet.
    pub(crate) fn open_or_create(root: &Path, algorithm: HashAlgorithm) -> Result<Self> {
        let meta_path = root.join(STATE).join(METADATA);
        if meta_path.exists() {
            return Self::open(root);
        }
        // Two first ingests at once must not both create it (each with its own key).
        let state = root.join(STATE);
        make_dir(root, 0o755)?;
        make_dir(&state, 0o700)?;
        let _creating = lock::acquire(
            &state.join("create.lock"),
            lock::Mode::Exclusive,
            "another command creating the warehouse",
        )?;
        if meta_path.exists() {
            return Self::open(root);
        }
        Self::create(root, algorithm)
    }

    fn create(root: &Path, algorithm: HashAlgorithm) -> Result<Self> {
        let state = root.join(STATE);
        make_dir(root, 0o755)?;
        make_dir(&state, 0o700)?;
        make_dir(&root.join("events"), 0o755)?;
        let key = match algorithm {
            HashAlgorithm::Sha256 => HashKey::plain_sha256(),
            HashAlgorithm::HmacSha256 => match env_key()? {
                Some(key) => key,
                None => {
                    let key_path = root.join(KEY_FILE);
                    if key_path.exists() {
                        HashKey::read_key_file(&key_path)?
                    } else {
                        let key = HashKey::generate()?;
                        key.write_new_key_file(&key_path)?;
                        key
                    }
                }
            },
        };
        let meta = Metadata {
            format: FORMAT_VERSION,
            hash: algorithm,
            key_fingerprint: key.fingerprint(),
        };
        manifest::create_manifest(&state)?;
        let text = serde_json::to_string_pretty(&meta).expect("metadata serializes");
        files::write_atomically(&state.join(METADATA), text.as_bytes())?;
        Ok(Warehouse {
            root: root.to_path_buf(),
            meta,
        })
    }

    /// The warehouse directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creation facts.
    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    /// `events/`, the hive-partitioned table root.
    pub(crate) fn events_dir(&self) -> PathBuf {
        self.root.join(EVENTS)
    }

    /// `conflicts/`, partitioned like `events/`: the versions of an event id that do not
    /// count (docs/semantics.md "Counted events").
    pub(crate) fn conflicts_dir(&self) -> PathBuf {
        self.root.join(CONFLICTS)
    }

    /// `quarantine/`.
    pub(crate) fn quarantine_dir(&self) -> PathBuf {
        self.root.join(QUARANTINE)
    }

    /// `_seatcount/`, seatcount's private state.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE)
    }

    /// The subscriptions table.
    pub(crate) fn entitlements_path(&self) -> PathBuf {
        self.root.join("entitlements.csv")
    }

    /// The dated assignments of single-app packs to apps.
    pub(crate) fn assignments_path(&self) -> PathBuf {
        self.root.join("assignments.csv")
    }

    /// The key this warehouse hashes with, checked against its fingerprint. `None` when
    /// no key is available (a read-only copy such as the shipped sample): queries work,
    /// hashing does not.
    pub fn key(&self) -> Result<Option<Arc<HashKey>>> {
        let key = match self.meta.hash {
            HashAlgorithm::Sha256 => Some(HashKey::plain_sha256()),
            HashAlgorithm::HmacSha256 => match env_key()? {
                Some(key) => Some(key),
                None => {
                    let path = self.root.join(KEY_FILE);
                    if path.exists() {
                        Some(HashKey::read_key_file(&path)?)
                    } else {
                        None
                    }
                }
            },
        };
        if let Some(key) = &key
            && key.fingerprint() != self.meta.key_fingerprint
        {
            return Err(Error::Usage(format!(
                "the hash key in use is not the key {} was built with; hashing under a second key would split every person in two",
                self.root.display()
            )));
        }
        Ok(key.map(Arc::new))
    }

    /// Like [`Warehouse::key`], but a missing key is an error: ingest cannot run without it.
    pub(crate) fn require_key(&self) -> Result<Arc<HashKey>> {
        self.key()?.ok_or_else(|| {
            Error::Usage(format!(
                "{} has no key file and {KEY_ENV} is not set, so new identifiers cannot be hashed",
                self.root.display()
            ))
        })
    }
}

/// The key file's name inside the warehouse.
pub(crate) const KEY_FILE: &str = "seatcount.key";

fn env_key() -> Result<Option<HashKey>> {
    match std::env::var(KEY_ENV) {
        Ok(text) if !text.trim().is_empty() => HashKey::from_hex(&text, KEY_ENV).map(Some),
        _ => Ok(None),
    }
}

/// Creates a directory (and its parents) with `mode` if it does not exist yet.
pub(crate) fn make_dir(path: &Path, mode: u32) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|e| Error::io(path, e))
}

/// A fresh warehouse in a temporary directory, for unit tests; the directory goes when the
/// first value is dropped.
#[cfg(test)]
pub(crate) fn scratch() -> (tempfile::TempDir, Warehouse) {
    let dir = tempfile::tempdir().unwrap();
    let wh = Warehouse::open_or_create(&dir.path().join("wh"), key::HashAlgorithm::Sha256).unwrap();
    (dir, wh)
}
