//! What makes two identifiers one: the normalization, e-mail and domain rules of
//! docs/input.md "SQL functions" and the case modes of docs/semantics.md "Identifiers".
//! The configuration names the modes, ingest validates domains, and the SQL functions apply
//! the rules, all from here. Each rule writes into a caller-owned buffer so hot loops do not
//! allocate.

use unicode_normalization::UnicodeNormalization;

/// How identifiers compare (`identifiers.case`, docs/semantics.md "Identifiers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseMode {
    /// The value as given: `Bob`, `bob` and `bob ` are three people, as Mendix counts them
    /// (its identifiers are hashed at source). The Mendix profile's default.
    #[default]
    Exact,
    /// NFKC and trimmed, case kept: `JDoe` and `jdoe` are two people.
    Sensitive,
    /// Lowercase after NFKC and trimming: `JDoe` and `jdoe` are one person (OutSystems).
    Insensitive,
}

impl CaseMode {
    /// The name used in the configuration and in SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseMode::Exact => "exact",
            CaseMode::Sensitive => "sensitive",
            CaseMode::Insensitive => "insensitive",
        }
    }

    /// Parses the SQL spelling used as the optional second argument of
    /// `normalize_identifier`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "insensitive" => Some(CaseMode::Insensitive),
            "sensitive" => Some(CaseMode::Sensitive),
            "exact" => Some(CaseMode::Exact),
            _ => None,
        }
    }
}

/// Reusable scratch space for [`normalize_identifier`].
#[derive(Default)]
pub struct Scratch {
    nfkc: String,
}

/// NFKC, trim Unicode white space, then lowercase unless `case` is sensitive; under `exact`
/// the value as given. Writes the result into `out` and returns false when it is empty (SQL
/// NULL).
pub fn normalize_identifier(
    s: &str,
    case: CaseMode,
    scratch: &mut Scratch,
    out: &mut String,
) -> bool {
    out.clear();
    if case == CaseMode::Exact {
        out.push_str(s);
    } else if s.is_ascii() {
        // ASCII is already in NFKC; skip the decomposition machinery.
        out.push_str(s.trim());
        if case == CaseMode::Insensitive {
            out.make_ascii_lowercase();
        }
    } else {
        scratch.nfkc.clear();
        scratch.nfkc.extend(s.nfkc());
        let trimmed = scratch.nfkc.trim();
        match case {
            CaseMode::Insensitive => out.extend(trimmed.chars().flat_map(char::to_lowercase)),
            CaseMode::Sensitive | CaseMode::Exact => out.push_str(trimmed),
        }
    }
    !out.is_empty()
}

/// Trimmed, lowercased address when `s` is a valid e-mail address (docs/input.md "SQL
/// functions"), written to `out`; false otherwise.
pub fn normalize_email(s: &str, out: &mut String) -> bool {
    out.clear();
    let t = s.trim();
    if t.is_ascii() {
        out.push_str(t);
        out.make_ascii_lowercase();
    } else {
        out.extend(t.chars().flat_map(char::to_lowercase));
    }
    is_valid_email(out)
}

/// The domain of an already normalized, valid address.
pub(crate) fn domain_of(normalized_email: &str) -> &str {
    normalized_email
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or_default()
}

/// One `@`, a non-empty local part without white space, and a domain of at least two
/// dot-separated labels of letters, digits and `-`.
pub(crate) fn is_valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty() && !local.chars().any(char::is_whitespace) && is_valid_domain(domain)
}

/// At least two dot-separated labels of letters, digits and `-`: the domain of a valid
/// e-mail address, and what a clear `email_domain` column must hold.
pub(crate) fn is_valid_domain(domain: &str) -> bool {
    let mut labels = 0;
    for label in domain.split('.') {
        if label.is_empty() || !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return false;
        }
        labels += 1;
    }
    labels >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(s: &str, case: CaseMode) -> Option<String> {
        let mut out = String::new();
        normalize_identifier(s, case, &mut Scratch::default(), &mut out).then_some(out)
    }

    fn email(s: &str) -> Option<String> {
        let mut out = String::new();
        normalize_email(s, &mut out).then_some(out)
    }

    #[test]
    fn identifier_trims_unicode_white_space_and_lowercases() {
        assert_eq!(
            ident("  JDoe\t", CaseMode::Insensitive).as_deref(),
            Some("jdoe")
        );
        // U+3000 IDEOGRAPHIC SPACE and U+00A0 NO-BREAK SPACE are white space.
        assert_eq!(
            ident("\u{3000}JDoe\u{a0}", CaseMode::Insensitive).as_deref(),
            Some("jdoe")
        );
        assert_eq!(
            ident("\u{2003}Ärger\u{2003}", CaseMode::Insensitive).as_deref(),
            Some("ärger")
        );
    }

    #[test]
    fn identifier_applies_nfkc() {
        // Fullwidth Latin letters and the "ﬁ" ligature fold to their compatibility forms.
        assert_eq!(
            ident("ＪＤｏｅ", CaseMode::Insensitive).as_deref(),
            Some("jdoe")
        );
        assert_eq!(
            ident("ﬁnance", CaseMode::Sensitive).as_deref(),
            Some("finance")
        );
        // Decomposed e + combining acute composes to é.
        assert_eq!(
            ident("Jose\u{301}", CaseMode::Insensitive).as_deref(),
            Some("jos\u{e9}")
        );
    }

    #[test]
    fn identifier_case_sensitive_keeps_case() {
        assert_eq!(
            ident(" JDoe ", CaseMode::Sensitive).as_deref(),
            Some("JDoe")
        );
        assert_eq!(
            ident("ＪＤｏｅ", CaseMode::Sensitive).as_deref(),
            Some("JDoe")
        );
    }

    #[test]
    fn identifier_empty_is_null() {
        assert_eq!(ident("", CaseMode::Insensitive), None);
        assert_eq!(ident("", CaseMode::Exact), None);
        assert_eq!(ident(" Bob ", CaseMode::Exact).as_deref(), Some(" Bob "));
        assert_eq!(
            ident("ＪＤｏｅ", CaseMode::Exact).as_deref(),
            Some("ＪＤｏｅ")
        );
        assert_eq!(ident(" \t\u{3000} ", CaseMode::Insensitive), None);
    }

    #[test]
    fn email_validity() {
        assert_eq!(
            email(" John.Doe@MyCompany.com ").as_deref(),
            Some("john.doe@mycompany.com")
        );
        assert_eq!(
            email("a@finance.my-company.co.uk").as_deref(),
            Some("a@finance.my-company.co.uk")
        );
        for bad in [
            "john",
            "john@",
            "@mycompany.com",
            "john@mycompany",
            "jo hn@mycompany.com",
            "john@@mycompany.com",
            "john@my@company.com",
            "john@mycompany..com",
            "john@my_company.com",
            "john@.com",
            "",
            "john@mycompany.com.",
        ] {
            assert_eq!(email(bad), None, "{bad:?} must be invalid");
        }
        assert_eq!(domain_of("a@b.c"), "b.c");
    }
}
