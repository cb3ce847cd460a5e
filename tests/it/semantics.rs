//! docs/semantics.md: the metering rules, on small portfolios whose every expected number is
//! derived by hand in the comments. Everything runs through the binary: ingest, then reports.

use crate::common::Fixture;

/// Columns of every fixture below.
const HEAD: &str = "event_id,event_time,app_id,environment_id,environment_type,user_provider,tenant,user_name,named_user_identifier,email,user_type,roles,active,anonymous";

/// A warehouse holding `rows` (CSV lines under [`HEAD`]), with `toml` as seatcount.toml and
/// `subs` as the body of entitlements.csv.
pub fn portfolio(rows: &[&str], toml: &str, subs: &[&str]) -> Fixture {
    let fx = Fixture::new();
    let input = fx.file("events.csv", &format!("{HEAD}\n{}\n", rows.join("\n")));
    fx.ingest(&[&input]);
    fx.configure(toml, subs);
    fx
}

/// Replaces the warehouse's configuration and subscriptions.
/// The usage report as `type:app=consumption/entitlement` items, for compact assertions.
fn usage(fx: &Fixture, month: &str) -> Vec<String> {
    fx.report("usage", month)
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let app = if f[2].is_empty() {
                String::new()
            } else {
                format!(":{}", f[2])
            };
            format!("{}{app}={}/{}", f[1], f[4], f[3])
        })
        .collect()
}

const EXTERNAL_2026: &str = "x,external,10,2026-01-01,2026-12-31,";

#[test]
fn outsystems_domain_rule_examples() {
    // rules = ["domains"], internal = mycompany.com and sales.mycompany.com.
    let fx = portfolio(
        &[
            // ann: exact internal domain → Internal.
            "1,2026-09-01T10:00:00Z,a,a-p,,,,ann,,ann@mycompany.com,,,,",
            // bea: the listed subdomain → Internal.
            "2,2026-09-01T10:00:00Z,a,a-p,,,,bea,,bea@sales.mycompany.com,,,,",
            // cy: an unlisted subdomain is a different domain → External.
            "3,2026-09-01T10:00:00Z,a,a-p,,,,cy,,cy@finance.mycompany.com,,,,",
            // dee: no e-mail, but the user name is an address at partner.org → External.
            "4,2026-09-01T10:00:00Z,a,a-p,,,,dee@partner.org,,,,,,",
            // eve: an invalid e-mail and a user name that is no address → Internal.
            "5,2026-09-01T10:00:00Z,a,a-p,,,,eve,,eve@,,,,",
            // fay: invalid e-mail, user name an internal address → Internal.
            "6,2026-09-01T10:00:00Z,a,a-p,,,,fay@mycompany.com,,not-an-email,,,,",
        ],
        "[classification]\nrules = [\"domains\"]\ninternal_domains = [\"mycompany.com\", \"Sales.MyCompany.com\"]\n",
        &[EXTERNAL_2026],
    );
    // External: cy, dee = 2. Multi-app: ann, bea, eve, fay = 4.
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=2/10", "multi_app_internal=4/0"]
    );
}

#[test]
fn username_or_email_merges_transitively_within_the_default_tenant() {
    let rows = [
        // A (provider p1): name ann, e-mail ann@x.com.
        "1,2026-09-01T10:00:00Z,app1,e1,,p1,,ann,,ann@x.com,,,,",
        // B (provider p2, another app): name ann.b, same e-mail as A → A~B.
        "2,2026-09-02T10:00:00Z,app2,e2,,p2,,ann.b,,ANN@x.com,,,,",
        // C (provider p3): name ' ANN.B ' (case and space variant of B) → B~C, so A~B~C.
        "3,2026-09-03T10:00:00Z,app3,e3,,p3,, ANN.B ,,other@x.com,,,,",
        // D: tenant t2, name ann → its own person per (provider, tenant, name).
        "4,2026-09-04T10:00:00Z,app1,e1,,p1,t2,ann,,ann@x.com,,,,",
        // E: tenant t2 again, another provider → another person.
        "5,2026-09-04T10:00:00Z,app1,e1,,p2,t2,ann,,ann@x.com,,,,",
        // F: tenant t2, same provider and name as D, another app → the same person as D.
        "6,2026-09-05T10:00:00Z,app2,e2,,p1,t2,ann,,,,,,",
    ];
    // User names compare lowercased here, as OutSystems compares them.
    let fx = portfolio(
        &rows,
        "[identifiers]\ncase = \"insensitive\"\n[dedup]\npolicy = \"username_or_email\"\n",
        &[],
    );
    // Persons: {A,B,C}, {D,F}, {E} = 3.
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=0/0", "multi_app_internal=3/0"]
    );
    let users = fx.report("users", "2026-09");
    let mut apps: Vec<&str> = users
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    apps.sort();
    // {A,B,C} used 3 apps, {D,F} 2, {E} 1.
    assert_eq!(apps, ["1", "2", "3"]);
    let providers = fx.report("providers", "2026-09");
    // Per environment: {A,B,C} in e1 (p1), e2 (p2), e3 (p3); {D,F} in e1 and e2 (p1, t2);
    // {E} in e1 (p2, t2).
    assert_eq!(
        providers,
        "environment_id,user_provider,tenant,internal_users,external_users\n\
         e1,p1,default,1,0\ne1,p1,t2,1,0\ne1,p2,t2,1,0\ne2,p1,t2,1,0\ne2,p2,default,1,0\n\
         e3,p3,default,1,0\n"
    );

    // Under the exact default, C's ' ANN.B ' is not B's ann.b: {A,B}, {C}, {D,F}, {E} = 4.
    fx.configure("[dedup]\npolicy = \"username_or_email\"\n", &[]);
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=0/0", "multi_app_internal=4/0"]
    );

    // The same events under the identifier policy, lowercased: identifiers are user names
    // (no NamedUserIdentifier): ann, ann.b = 2 persons across all tenants.
    fx.configure("[identifiers]\ncase = \"insensitive\"\n", &[]);
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=0/0", "multi_app_internal=2/0"]
    );
}

#[test]
fn named_user_identifier_falls_back_to_the_user_name_and_case_is_configurable() {
    let rows = [
        // NUI ' X@Y.com ' and 'x@y.com' normalize to the same identifier.
        "1,2026-09-01T10:00:00Z,app1,e1,,,,u1, X@Y.com ,,,,,",
        "2,2026-09-01T10:00:00Z,app2,e2,,,,u2,x@y.com,,,,,",
        // No NUI: the user name 'X@y.COM' is the identifier, and normalizes the same.
        "3,2026-09-01T10:00:00Z,app3,e3,,,,X@y.COM,,,,,,",
        // A NUI of white space: a value under exact, absent once trimmed.
        "4,2026-09-01T10:00:00Z,app3,e3,,,,zed,   ,,,,,",
    ];
    let fx = portfolio(&rows, "", &[]);
    // Exact (the default): ' X@Y.com ', 'x@y.com', 'X@y.COM', '   ' = 4.
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=0/0", "multi_app_internal=4/0"]
    );
    // Insensitive: {1,2,3} and zed = 2.
    fx.configure("[identifiers]\ncase = \"insensitive\"\n", &[]);
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=0/0", "multi_app_internal=2/0"]
    );
    // Sensitive: 'X@Y.com', 'x@y.com', 'X@y.COM' differ; zed = 4.
    fx.configure("[identifiers]\ncase = \"sensitive\"\n", &[]);
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=0/0", "multi_app_internal=4/0"]
    );
}

#[test]
fn the_waterfall_with_and_without_an_external_subscription() {
    let rows = [
        // ext: reported External, app a.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,ext,,,External,,,",
        // int: Internal by default (nothing answers), app a.
        "2,2026-09-01T10:00:00Z,a,a-p,,,,int,,,,,,",
    ];
    let fx = portfolio(&rows, "", &[EXTERNAL_2026]);
    // With an External subscription: ext is External, int multi-app.
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=1/10", "multi_app_internal=1/0"]
    );
    // Without one, ext falls through to internal.
    fx.configure("", &["m,multi_app_internal,1,2026-01-01,,"]);
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=0/0", "multi_app_internal=2/1"]
    );
    let users = fx.report("users", "2026-09");
    assert!(!users.contains(",External,"), "{users}");
}

#[test]
fn users_lists_each_app_of_a_person_once_in_order() {
    let rows = [
        // One person (e-mail a@x.com under username_or_email): two accounts in app b, and apps
        // c and a, ingested out of order.
        "1,2026-09-01T10:00:00Z,c,c-p,,,,ann,,a@x.com,,,,",
        "2,2026-09-01T11:00:00Z,b,b-p,,,,ann,,a@x.com,,,,",
        "3,2026-09-01T12:00:00Z,b,b-p,,,,ann2,,a@x.com,,,,",
        "4,2026-09-01T13:00:00Z,a,a-p,,,,ann,,a@x.com,,,,",
        // Another person in app b only.
        "5,2026-09-01T10:00:00Z,b,b-p,,,,bob,,b@x.com,,,,",
    ];
    let fx = portfolio(&rows, "[dedup]\npolicy = \"username_or_email\"\n", &[]);
    let users = fx.report("users", "2026-09");
    let mut apps: Vec<String> = users
        .lines()
        .skip(1)
        .map(|l| l.splitn(3, ',').nth(2).unwrap().to_string())
        .collect();
    apps.sort();
    // ann: a, b (two accounts, one app) and c = 3 apps; bob: b = 1.
    assert_eq!(apps, ["1,b", "3,\"a,b,c\""], "{users}");
}

/// docs/semantics.md "Reports": `users` names each person by their hash. People are grouped by
/// a number made from the hash (`person_key`), so this pins that the name printed is still the
/// person's own full hash, the one `hash_identifier` gives for their normalized identifier.
#[test]
fn users_names_each_person_by_their_hash() {
    let rows = [
        // ann in two apps (a case variant in the second), bob in one.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,ann,,,,,,",
        "2,2026-09-01T11:00:00Z,b,b-p,,,,ANN,,,,,,",
        "3,2026-09-01T12:00:00Z,b,b-p,,,,bob,,,,,,",
    ];
    // Lowercased, so that ann's two spellings are one person whose hash is ann's.
    let fx = portfolio(&rows, "[identifiers]\ncase = \"insensitive\"\n", &[]);
    let hash = |name: &str| {
        let csv = fx.csv(&["sql", &format!("SELECT hash_identifier('{name}') AS h")]);
        csv.lines().nth(1).unwrap().to_string()
    };
    let mut expected = vec![
        format!("{},Internal,2,\"a,b\"", hash("ann")),
        format!("{},Internal,1,b", hash("bob")),
    ];
    expected.sort();
    let users = fx.report("users", "2026-09");
    let listed: Vec<&str> = users.lines().skip(1).collect();
    assert_eq!(listed, expected, "{users}");
}

#[test]
fn single_app_packs_count_per_person_and_app() {
    let rows = [
        // solo uses only the packed app p.
        "1,2026-09-01T10:00:00Z,p,p-prod,,,,solo,,,,,,",
        // both uses p and q (no pack): under waterfall.mixed = single_app (the default), a
        // seat in p's pack only.
        "2,2026-09-01T10:00:00Z,p,p-prod,,,,both,,,,,,",
        "3,2026-09-02T10:00:00Z,q,q-prod,,,,both,,,,,,",
        // other uses q only.
        "4,2026-09-02T10:00:00Z,q,q-prod,,,,other,,,,,,",
        // solo logs in to p twice: still one seat.
        "5,2026-09-03T10:00:00Z,p,p-prod,,,,solo,,,,,,",
    ];
    let fx = portfolio(
        &rows,
        "",
        &[
            "pack-p,single_app_internal,1,2026-09-01,,p",
            // An unassigned pack and a pack for an app nobody used.
            "pack-free,single_app_internal,5,2026-09-01,,",
            "pack-r,single_app_internal,2,2026-09-01,,r",
            "m1,multi_app_internal,1,2026-01-01,,",
            "m2,multi_app_internal,1,2026-06-01,,",
        ],
    );
    // p: solo, both = 2 against 1 → over by 1. r: 0/2. The unassigned pack: 0/5, on a row
    // with an empty app_id. Multi-app: other = 1 against 2.
    let csv = fx.report("usage", "2026-09");
    assert_eq!(
        csv,
        "month,subscription_type,app_id,entitlement,consumption,over_usage\n\
         2026-09,external,,0,0,0\n\
         2026-09,single_app_internal,p,1,2,1\n\
         2026-09,single_app_internal,r,2,0,0\n\
         2026-09,single_app_internal,,5,0,0\n\
         2026-09,multi_app_internal,,2,1,0\n"
    );
}

#[test]
fn conflict_policies() {
    let rows = [
        // One person (NUI p@x.com) External in app a at 10:00, Internal in app b at 11:00.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,u,p@x.com,,External,,,",
        "2,2026-09-01T11:00:00Z,b,b-p,,,,u,p@x.com,,Internal,,,",
        // Another person External in both apps.
        "3,2026-09-01T10:00:00Z,a,a-p,,,,v,q@x.com,,External,,,",
        "4,2026-09-01T12:00:00Z,b,b-p,,,,v,q@x.com,,External,,,",
    ];
    let fx = portfolio(&rows, "", &[EXTERNAL_2026]);
    // internal_wins: p Internal (not External everywhere), q External.
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=1/10", "multi_app_internal=1/0"]
    );
    let hygiene = fx.report("hygiene", "2026-09");
    assert!(
        hygiene.contains("conflicting_classification,1,"),
        "{hygiene}"
    );
    fx.configure(
        "[classification]\nconflict = \"external_wins\"\n",
        &[EXTERNAL_2026],
    );
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=2/10", "multi_app_internal=0/0"]
    );
    // latest: p's latest counted event (11:00, app b) is Internal.
    fx.configure(
        "[classification]\nconflict = \"latest\"\n",
        &[EXTERNAL_2026],
    );
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=1/10", "multi_app_internal=1/0"]
    );
}

/// docs/semantics.md: an account's attributes are those of its latest counted event, so even
/// when two events tie (same instant, no event id) they all come from one of them, whatever the
/// order.
#[test]
fn an_account_takes_every_attribute_from_one_event_even_on_a_tie() {
    let rows = [
        // u: External with a partner address, Internal with a company address, at one instant.
        ",2026-09-01T10:00:00Z,a,a-p,,,,u,,u@partner.com,External,,,",
        ",2026-09-01T10:00:00Z,a,a-p,,,,u,,u@acme.com,Internal,,,",
        // v: the same two events, given in the other order.
        ",2026-09-01T10:00:00Z,a,a-p,,,,v,,v@acme.com,Internal,,,",
        ",2026-09-01T10:00:00Z,a,a-p,,,,v,,v@partner.com,External,,,",
    ];
    let fx = portfolio(&rows, "", &[]);
    let accounts: Vec<String> = fx
        .rows("SELECT classification, email_domain FROM accounts ORDER BY identifier_key")
        .iter()
        .map(|r| format!("{}/{}", r["classification"], r["email_domain"]))
        .collect();
    // The tie goes to the greater classification (Internal), and its event's domain with it;
    // taking each attribute's own greatest value would pair Internal with partner.com.
    assert_eq!(accounts, [r#""Internal"/"acme.com""#; 2]);
}

#[test]
fn latest_policy_takes_the_latest_account_and_internal_on_a_tie() {
    let rows = [
        // r: Internal in app a at 10:00, External in app b at 11:00 -> External.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,r,r@x.com,,Internal,,,",
        "2,2026-09-01T11:00:00Z,b,b-p,,,,r,r@x.com,,External,,,",
        // s: External in a and Internal in b, both at 10:00 -> Internal (the tie).
        "3,2026-09-01T10:00:00Z,a,a-p,,,,s,s@x.com,,External,,,",
        "4,2026-09-01T10:00:00Z,b,b-p,,,,s,s@x.com,,Internal,,,",
        // t: the same tie, given in the other order -> Internal.
        "5,2026-09-01T10:00:00Z,b,b-p,,,,t,t@x.com,,Internal,,,",
        "6,2026-09-01T10:00:00Z,a,a-p,,,,t,t@x.com,,External,,,",
    ];
    let fx = portfolio(
        &rows,
        "[classification]\nconflict = \"latest\"\n",
        &[EXTERNAL_2026],
    );
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=1/10", "multi_app_internal=2/0"]
    );
    // Under the default internal_wins, r is Internal too.
    fx.configure("", &[EXTERNAL_2026]);
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=0/10", "multi_app_internal=3/0"]
    );
}

#[test]
fn an_accounts_attributes_are_its_latest_events() {
    let rows = [
        // The same account was External early in the month and Internal at its last login.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,u,,,External,,,",
        "2,2026-09-20T10:00:00Z,a,a-p,,,,u,,,Internal,,,",
        // An inactive later event does not count, so w stays External.
        "3,2026-09-01T10:00:00Z,a,a-p,,,,w,,,External,,,",
        "4,2026-09-25T10:00:00Z,a,a-p,,,,w,,,Internal,,false,",
    ];
    let fx = portfolio(&rows, "", &[EXTERNAL_2026]);
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=1/10", "multi_app_internal=1/0"]
    );
}

#[test]
fn roles_and_custom_rules_in_order() {
    let rows = [
        // Role Customer → External by roles, whatever the app reported.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,u1,,u1@partner.org,Internal,Customer;Viewer,,",
        // No external role → roles answers Internal and wins over custom.
        "2,2026-09-01T10:00:00Z,a,a-p,,,,u2,,u2@partner.org,External,Viewer,,",
        // Roles are exact and case-sensitive: 'customer' is not 'Customer'.
        "3,2026-09-01T10:00:00Z,a,a-p,,,,u3,,u3@mine.com,,customer,,",
    ];
    let toml = "[classification]\nrules = [\"roles\", \"custom\"]\nexternal_roles = [\"Customer\"]\ncustom_sql = \"email_domain = 'partner.org'\"\n";
    let fx = portfolio(&rows, toml, &[EXTERNAL_2026]);
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=1/10", "multi_app_internal=2/0"]
    );
    // Custom first: u1 and u2 are at partner.org → External; u3 not → Internal.
    let toml = "[classification]\nrules = [\"custom\", \"roles\"]\nexternal_roles = [\"Customer\"]\ncustom_sql = \"email_domain = 'partner.org'\"\n";
    fx.configure(toml, &[EXTERNAL_2026]);
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=2/10", "multi_app_internal=1/0"]
    );
    // A custom rule that is NULL does not answer: reported decides (u2 External).
    let toml = "[classification]\nrules = [\"custom\", \"reported\"]\ncustom_sql = \"CASE WHEN email_domain = 'mine.com' THEN false END\"\n";
    fx.configure(toml, &[EXTERNAL_2026]);
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=1/10", "multi_app_internal=2/0"]
    );
    // Not a boolean: refused naming the key.
    fx.configure("[classification]\ncustom_sql = \"app_id\"\n", &[]);
    let out = fx.cmd().args(["report", "usage"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("classification.custom_sql"));
}

#[test]
fn only_production_active_named_events_count_and_months_are_utc() {
    let rows = [
        "1,2026-09-01T10:00:00Z,a,a-acc,acceptance,,,acc,,,,,,",
        "2,2026-09-01T10:00:00Z,a,a-t,test,,,tst,,,,,,",
        "3,2026-09-01T10:00:00Z,a,a-p,,,,inactive,,,,,false,",
        "4,2026-09-01T10:00:00Z,a,a-p,,,,anon,,,,,,true",
        "5,2026-09-01T10:00:00Z,a,a-p,production,,,counted,,,,,yes,no",
        // 2026-10-01T01:30+02:00 is 2026-09-30T23:30Z: September.
        "6,2026-10-01T01:30:00+02:00,a,a-p,,,,late,,,,,,",
        // 2026-09-30T22:30-02:00 is 2026-10-01T00:30Z: October.
        "7,2026-09-30T22:30:00-02:00,a,a-p,,,,early,,,,,,",
    ];
    let fx = portfolio(&rows, "", &[]);
    assert_eq!(
        usage(&fx, "2026-09"),
        ["external=0/0", "multi_app_internal=2/0"]
    );
    assert_eq!(
        usage(&fx, "2026-10"),
        ["external=0/0", "multi_app_internal=1/0"]
    );
    let named = fx.report("named-users", "2026-09");
    // One row per production environment; a-p has counted, late = 2 named users.
    assert_eq!(
        named,
        "app_name,app_id,environment_name,environment_id,deployment_type,usage_extracted_on,named_users\n\
         ,a,,a-p,,2026-09-30T23:30:00Z,2\n"
    );
}

#[test]
fn subscription_validity_edges() {
    let rows = ["1,2026-09-15T10:00:00Z,a,a-p,,,,u,,,External,,,"];
    // A subscription counts when it is valid on the month's last day (30 September).
    let cases = [
        // Ends on the last day of the month: valid.
        ("x,external,1,2026-01-01,2026-09-30,", 1),
        // Ends the day before the last: not valid, though valid for most of the month.
        ("x,external,1,2026-01-01,2026-09-29,", 0),
        // Ends on the first day of the month: not valid.
        ("x,external,1,2026-01-01,2026-09-01,", 0),
        // Starts on the last day of the month: valid.
        ("x,external,1,2026-09-30,,", 1),
        // Ended the day before the month: not valid.
        ("x,external,1,2026-01-01,2026-08-31,", 0),
        // Starts the day after: not valid.
        ("x,external,1,2026-10-01,,", 0),
    ];
    let fx = portfolio(&rows, "", &[]);
    for (sub, valid) in cases {
        fx.configure("", &[sub]);
        let expected = if valid == 1 {
            vec!["external=1/1", "multi_app_internal=0/0"]
        } else {
            vec!["external=0/0", "multi_app_internal=1/0"]
        };
        assert_eq!(usage(&fx, "2026-09"), expected, "{sub}");
    }
}

#[test]
fn hygiene_finds_what_inflates_the_bill() {
    let rows = [
        // Case/space variants of one user name without NUI: 'Ann' and 'ann '.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,Ann,,ann@corp.com,,,,",
        "2,2026-09-02T10:00:00Z,b,b-p,,,,ann ,,ann@corp.com,,,,",
        // Pairwise identifiers: app c and app d give the same e-mail different NUIs.
        "3,2026-09-01T10:00:00Z,c,c-p,,,,bo,sub-111,bo@corp.com,,,,",
        "4,2026-09-01T10:00:00Z,d,d-p,,,,bo,sub-222,bo@corp.com,,,,",
        // An e-mail seen in one app only says nothing about that app.
        "6,2026-09-01T10:00:00Z,c,c-p,,,,dee,sub-333,dee@corp.com,,,,",
        // App e gives ann's e-mail two identifiers; one matches apps a and b, so e is not
        // pairwise.
        "7,2026-09-01T10:00:00Z,e,e-p,,,,ann,,ann@corp.com,,,,",
        "8,2026-09-01T10:00:00Z,e,e-p,,,,zed,sub-9,ann@corp.com,,,,",
        // Internal by default but at a domain that is not internal.
        "5,2026-09-01T10:00:00Z,a,a-p,,,,cy,cy@other.org,cy@other.org,,,,",
    ];
    // Lowercased identifiers, so that ann's spellings are one person and the pairwise check
    // compares normalized identifiers.
    let fx = portfolio(
        &rows,
        "[identifiers]\ncase = \"insensitive\"\n[classification]\ninternal_domains = [\"corp.com\"]\n",
        &[],
    );
    let h = fx.report("hygiene", "2026-09");
    let rows: Vec<(String, String)> = h
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.splitn(3, ',').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect();
    let get = |check: &str| rows.iter().find(|r| r.0 == check).unwrap().1.clone();
    assert_eq!(rows.len(), 8);
    // ann is spelled 'Ann', 'ann ' and 'ann': two spellings beyond the first.
    assert_eq!(get("case_or_space_variants"), "2");
    // bo@corp.com is shared by c and d, whose identifiers never match (a and b share ann's
    // e-mail with equal identifiers, so they are not pairwise): one e-mail in each of c and d.
    assert_eq!(get("pairwise_identifiers"), "2");
    assert!(h.contains(": c,d\""), "{h}");
    // Ann's two accounts (one person) have no NUI.
    assert_eq!(get("missing_named_user_identifier"), "1");
    assert_eq!(get("conflicting_classification"), "0");
    assert_eq!(get("internal_outside_domains"), "1");
    // No rule answers for anyone (no roles, custom rule or user type configured or given):
    // ann, sub-111, sub-222, sub-333 (dee), sub-9 (zed) and cy = 6.
    assert_eq!(get("unclassified"), "6");
    assert_eq!(get("mixed_pack_users"), "0");
}

#[test]
fn report_commands_and_errors() {
    let fx = portfolio(&["1,2026-09-01T10:00:00Z,a,a-p,,,,u,,,,,,"], "", &[]);
    let list = fx.cmd().arg("reports").output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    for name in [
        "named-users",
        "usage",
        "history",
        "providers",
        "users",
        "hygiene",
    ] {
        assert!(list.contains(name), "{list}");
    }
    // The month defaults to the latest with data.
    let out = fx
        .cmd()
        .args(["report", "usage", "--format", "csv"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("2026-09,multi_app_internal,,0,1,1"));
    for (args, code, text) in [
        (vec!["report", "nope"], 2, "no report named"),
        (
            vec!["report", "usage", "--month", "2026-13"],
            2,
            "not a month",
        ),
        (
            vec!["report", "usage", "--month", "2026-08"],
            2,
            "months with data: 2026-09",
        ),
    ] {
        let out = fx.cmd().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(text),
            "{args:?}"
        );
    }
    let subs = crate::common::entitlements(&["s,external,many,2026-01-01,,"]);
    std::fs::write(fx.wh().join("entitlements.csv"), subs).unwrap();
    let out = fx.cmd().args(["report", "usage"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("entitlements.csv: line 2, column quantity"),
        "{err}"
    );
}

#[test]
fn subscriptions_are_added_assigned_and_listed_by_command() {
    let fx = portfolio(&["1,2026-09-01T10:00:00Z,a,a-p,,,,u,,,,,,"], "", &[]);
    std::fs::remove_file(fx.wh().join("entitlements.csv")).unwrap();
    fx.cmd()
        .args([
            "subscriptions",
            "add",
            "--type",
            "single_app_internal",
            "--quantity",
            "3",
            "--from",
            "2026-09-01",
        ])
        .assert()
        .success()
        .stdout("added subscription sub-1\n");
    fx.cmd()
        .args([
            "subscriptions",
            "add",
            "--type",
            "external",
            "--quantity",
            "2",
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
        ])
        .assert()
        .success();
    // Before assignment the pack counts for no app: its own row with an empty app_id.
    assert_eq!(
        usage(&fx, "2026-09"),
        [
            "external=0/2",
            "single_app_internal=0/3",
            "multi_app_internal=1/0"
        ]
    );
    fx.cmd()
        .args([
            "subscriptions",
            "assign",
            "sub-1",
            "a",
            "--from",
            "2026-09-01",
        ])
        .assert()
        .success()
        .stdout("assigned sub-1 to a from 2026-09-01\n");
    assert_eq!(
        usage(&fx, "2026-09"),
        [
            "external=0/2",
            "single_app_internal:a=1/3",
            "multi_app_internal=0/0"
        ]
    );
    // Moving the pack from October never rewrites September.
    fx.cmd()
        .args([
            "subscriptions",
            "assign",
            "sub-1",
            "b",
            "--from",
            "2026-10-01",
        ])
        .assert()
        .success();
    assert_eq!(
        usage(&fx, "2026-09"),
        [
            "external=0/2",
            "single_app_internal:a=1/3",
            "multi_app_internal=0/0"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(fx.wh().join("assignments.csv")).unwrap(),
        "subscription_id,app_id,assigned_from\nsub-1,a,2026-09-01\nsub-1,b,2026-10-01\n"
    );
    // Without --from the assignment starts today.
    fx.cmd()
        .args(["subscriptions", "assign", "sub-1", "c"])
        .assert()
        .success()
        .stdout(format!(
            "assigned sub-1 to c from {}\n",
            chrono::Utc::now().date_naive()
        ));
    let out = fx
        .cmd()
        .args(["subscriptions", "assign", "sub-2", "a"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = fx
        .cmd()
        .args([
            "subscriptions",
            "add",
            "--type",
            "external",
            "--quantity",
            "1",
            "--from",
            "2026-02-01",
            "--to",
            "2026-01-01",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let list = fx
        .cmd()
        .args(["subscriptions", "list", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(list.stdout).unwrap(),
        "subscription_id,subscription_type,quantity,valid_from,valid_to,app_id\n\
         sub-1,single_app_internal,3,2026-09-01,,\n\
         sub-2,external,2,2026-01-01,2026-12-31,\n"
    );
}

#[test]
fn history_is_each_months_usage_oldest_first() {
    // Five months, computed two at a time: the rows must still come in month order, each
    // month's equal to its own usage report. Month m has m+1 internal people in app a (a pack
    // of 2) and m external ones, so every month's numbers differ.
    let mut rows = Vec::new();
    for m in 1..=5 {
        for p in 0..=m {
            rows.push(format!(
                "{m}-{p},2026-0{m}-10T10:00:00Z,a,a-p,,,,emp{p},,emp{p}@mycompany.com,Internal,,,"
            ));
        }
        for p in 0..m {
            rows.push(format!(
                "{m}-x{p},2026-0{m}-11T10:00:00Z,b,b-p,,,,ext{p},,ext{p}@partner.org,External,,,"
            ));
        }
    }
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let fx = portfolio(
        &rows,
        "",
        &[EXTERNAL_2026, "p,single_app_internal,2,2026-01-01,,a"],
    );
    let history = fx.csv(&["report", "history"]);
    let mut expected = String::new();
    for m in 1..=5 {
        let usage = fx.report("usage", &format!("2026-0{m}"));
        let mut lines = usage.lines();
        let header = lines.next().unwrap();
        if expected.is_empty() {
            expected = format!("{header}\n");
        }
        for line in lines {
            expected.push_str(line);
            expected.push('\n');
        }
    }
    assert_eq!(history, expected);
    assert!(history.contains("2026-05,external,,10,5,0"), "{history}");
    assert!(
        history.contains("2026-03,single_app_internal,a,2,4,2"),
        "{history}"
    );
}
