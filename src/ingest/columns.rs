//! The input columns of docs/input.md, as one table that the readers, the validator, the
//! generator and the error messages share.

/// A column seatcount understands in raw input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Col {
    EventTime,
    AppId,
    EnvironmentId,
    UserName,
    NamedUserIdentifier,
    EventId,
    AppName,
    EnvironmentName,
    EnvironmentType,
    DeploymentType,
    UserProvider,
    Tenant,
    Email,
    UserType,
    Roles,
    Active,
    Anonymous,
    UserNameHash,
    NamedUserIdentifierHash,
    EmailHash,
    EmailDomain,
}

impl Col {
    /// Every column, in the order of docs/input.md.
    pub const ALL: [Col; 21] = [
        Col::EventTime,
        Col::AppId,
        Col::EnvironmentId,
        Col::UserName,
        Col::NamedUserIdentifier,
        Col::EventId,
        Col::AppName,
        Col::EnvironmentName,
        Col::EnvironmentType,
        Col::DeploymentType,
        Col::UserProvider,
        Col::Tenant,
        Col::Email,
        Col::UserType,
        Col::Roles,
        Col::Active,
        Col::Anonymous,
        Col::UserNameHash,
        Col::NamedUserIdentifierHash,
        Col::EmailHash,
        Col::EmailDomain,
    ];

    /// The column's name in input files (matched case-insensitively).
    pub fn name(self) -> &'static str {
        match self {
            Col::EventTime => "event_time",
            Col::AppId => "app_id",
            Col::EnvironmentId => "environment_id",
            Col::UserName => "user_name",
            Col::NamedUserIdentifier => "named_user_identifier",
            Col::EventId => "event_id",
            Col::AppName => "app_name",
            Col::EnvironmentName => "environment_name",
            Col::EnvironmentType => "environment_type",
            Col::DeploymentType => "deployment_type",
            Col::UserProvider => "user_provider",
            Col::Tenant => "tenant",
            Col::Email => "email",
            Col::UserType => "user_type",
            Col::Roles => "roles",
            Col::Active => "active",
            Col::Anonymous => "anonymous",
            Col::UserNameHash => "user_name_hash",
            Col::NamedUserIdentifierHash => "named_user_identifier_hash",
            Col::EmailHash => "email_hash",
            Col::EmailDomain => "email_domain",
        }
    }

    /// Looks a header name up, ignoring case and surrounding white space.
    pub fn from_name(name: &str) -> Option<Col> {
        let name = name.trim();
        Col::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    /// What the column holds once validated, which fixes its type in the `incoming` table
    /// (docs/input.md "Columns").
    pub fn kind(self) -> Kind {
        match self {
            Col::EventTime => Kind::Time,
            Col::UserType => Kind::UserType,
            Col::Roles => Kind::Roles,
            Col::Active | Col::Anonymous => Kind::Flag,
            _ => Kind::Text,
        }
    }

    /// Position in [`Col::ALL`], for per-column slots.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How an input column is read and validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A point in time, stored in UTC.
    Time,
    /// Text passed to the normalization SQL as it is (trimmed or hashed there).
    Text,
    /// `External` or `Internal`, any case.
    UserType,
    /// A list of role names, `;`-separated in text input.
    Roles,
    /// A boolean, `true/false/1/0/yes/no` in text input.
    Flag,
}

/// Columns of quarantine files and other seatcount outputs that ingest skips silently.
pub fn is_own_metadata(name: &str) -> bool {
    name.trim_start().starts_with("_seatcount")
}
