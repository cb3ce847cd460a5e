//! The input columns of docs/input.md, as one table that the readers, the validator and the
//! error messages share.

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

    /// Position in [`Col::ALL`], for per-column slots.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Columns of quarantine files and other seatcount outputs that ingest skips silently.
pub fn is_own_metadata(name: &str) -> bool {
    name.trim_start().starts_with("_seatcount")
}
