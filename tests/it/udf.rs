//! docs/input.md "SQL functions": the functions every session has, called from SQL through the
//! binary.

use crate::common::Fixture;

fn warehouse() -> Fixture {
    let fx = Fixture::new();
    fx.cmd().arg("init").assert().success();
    fx
}

#[test]
fn normalize_identifier_applies_nfkc_unicode_trim_and_case() {
    let fx = warehouse();
    // Full-width letters fold under NFKC; U+3000 and U+00A0 are Unicode white space.
    let insensitive = |s: &str| {
        fx.value(&format!(
            "SELECT normalize_identifier('{s}', 'insensitive')"
        ))
    };
    assert_eq!(insensitive("\u{3000} ＢＯＢ\u{00a0}"), "bob");
    assert_eq!(insensitive("  Ålice "), "ålice");
    assert_eq!(insensitive("ﬁona"), "fiona");
    assert_eq!(insensitive(" \t "), "null");
    // The default mode is the configuration's: exact under the Mendix profile, where only
    // the empty string is empty.
    assert_eq!(
        fx.value("SELECT normalize_identifier('\u{3000} ＢＯＢ\u{00a0}')"),
        "\u{3000} ＢＯＢ\u{00a0}"
    );
    assert_eq!(fx.value("SELECT normalize_identifier(' \t ')"), " \t ");
    assert_eq!(fx.value("SELECT normalize_identifier('')"), "null");
    assert_eq!(fx.value("SELECT normalize_identifier(NULL)"), "null");
    assert_eq!(
        fx.value("SELECT normalize_identifier(' BoB ', 'sensitive')"),
        "BoB"
    );
    // Over a column, not only literals.
    assert_eq!(
        fx.value("SELECT string_agg(normalize_identifier(x, 'insensitive'), ',') FROM (VALUES (' A'), ('b '), (NULL)) t(x)"),
        "a,b"
    );
}

#[test]
fn case_sensitivity_follows_the_configuration() {
    let fx = warehouse();
    std::fs::write(
        fx.wh().join("seatcount.toml"),
        "[identifiers]\ncase = \"sensitive\"\n",
    )
    .unwrap();
    assert_eq!(fx.value("SELECT normalize_identifier(' BoB ')"), "BoB");
    let other = fx.file("other.toml", "[identifiers]\ncase = \"insensitive\"\n");
    let out = fx
        .cmd()
        .arg("--config")
        .arg(&other)
        .args([
            "sql",
            "--format",
            "csv",
            "SELECT normalize_identifier(' BoB ') AS v",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "v\nbob\n");
}

#[test]
fn normalize_email_and_email_domain() {
    let fx = warehouse();
    let cases = [
        (
            "' Ann.Lee@Example.COM '",
            "ann.lee@example.com",
            "example.com",
        ),
        ("'a@b.c'", "a@b.c", "b.c"),
        (
            "'x@sub-1.mail.example.org'",
            "x@sub-1.mail.example.org",
            "sub-1.mail.example.org",
        ),
        ("'no-at-sign'", "null", "null"),
        ("'two@@example.com'", "null", "null"),
        ("'a@b@example.com'", "null", "null"),
        ("'@example.com'", "null", "null"),
        ("'an n@example.com'", "null", "null"),
        ("'ann@localhost'", "null", "null"),
        ("'ann@exa_mple.com'", "null", "null"),
        ("'ann@example..com'", "null", "null"),
        ("'ann@.example.com'", "null", "null"),
        ("''", "null", "null"),
        ("NULL", "null", "null"),
    ];
    for (input, email, domain) in cases {
        assert_eq!(
            fx.value(&format!("SELECT normalize_email({input})")),
            email,
            "{input}"
        );
        assert_eq!(
            fx.value(&format!("SELECT email_domain({input})")),
            domain,
            "{input}"
        );
    }
}

#[test]
fn hash_identifier_is_16_bytes_and_null_safe() {
    let fx = warehouse();
    let h = fx.value("SELECT hash_identifier('alice')");
    assert_eq!(
        fx.value("SELECT arrow_typeof(hash_identifier('alice'))"),
        "FixedSizeBinary(16)"
    );
    // Shown as 32 hex digits.
    assert_eq!(h.len(), 32);
    assert!(
        h.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    );
    assert_ne!(
        h,
        fx.value("SELECT hash_identifier('Alice')"),
        "hashing does not normalize"
    );
    assert_eq!(fx.value("SELECT hash_identifier(NULL)"), "null");
    // Same key, same hash, in another process.
    assert_eq!(h, fx.value("SELECT hash_identifier('alice')"));
}

#[test]
fn classify_domain_follows_the_internal_domain_rule() {
    let fx = warehouse();
    std::fs::write(
        fx.wh().join("seatcount.toml"),
        "[classification]\ninternal_domains = [\"MyCompany.com\", \"sales.mycompany.com\"]\n",
    )
    .unwrap();
    let cases = [
        // The OutSystems examples: the domain must match exactly; subdomains are different.
        ("'ann@mycompany.com'", "'ann'", "Internal"),
        ("'ann@sales.mycompany.com'", "'ann'", "Internal"),
        ("'ann@finance.mycompany.com'", "'ann'", "External"),
        ("'ann@partner.org'", "'ann'", "External"),
        // No valid e-mail: the user name is used when it is an address.
        ("NULL", "'bob@partner.org'", "External"),
        ("'not an email'", "'bob@mycompany.com'", "Internal"),
        // No valid address at all: Internal.
        ("NULL", "'bob'", "Internal"),
        ("'bad@'", "NULL", "Internal"),
    ];
    for (email, user, expected) in cases {
        assert_eq!(
            fx.value(&format!("SELECT classify_domain({email}, {user})")),
            expected,
            "{email} {user}"
        );
    }
    // Without internal domains the rule does not answer.
    std::fs::remove_file(fx.wh().join("seatcount.toml")).unwrap();
    assert_eq!(fx.value("SELECT classify_domain('a@b.com', 'a')"), "null");
}

#[test]
fn functions_are_listed_for_discovery() {
    let fx = warehouse();
    let names = fx.value(
        "SELECT string_agg(routine_name, ',' ORDER BY routine_name) FROM information_schema.routines \
         WHERE routine_name IN ('normalize_identifier','normalize_email','email_domain','hash_identifier','classify_domain')",
    );
    assert_eq!(
        names,
        "classify_domain,email_domain,hash_identifier,normalize_email,normalize_identifier"
    );
}
