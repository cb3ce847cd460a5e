//! Who the synthetic people and apps are. Every attribute is a pure function of the seed
//! and an index, so the generator keeps no table of users: memory does not grow with the
//! portfolio, and any event can be drawn without knowing the ones before it.

use std::fmt::Write;

/// SplitMix64's finalizer: a well-mixed 64-bit value from any input, used to derive
/// independent attributes from (seed, index, purpose).
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A value in `0..n` from a mixed 64-bit value, without modulo bias worth mentioning.
pub fn below(x: u64, n: u64) -> u64 {
    ((u128::from(x) * u128::from(n.max(1))) >> 64) as u64
}

/// True with probability `percent`/100.
pub(crate) fn chance(x: u64, percent: u64) -> bool {
    below(x, 100) < percent
}

/// Internal people's e-mail domains: the company, a subdomain (a different domain under
/// the `domains` rule) and a sister company.
pub(crate) const INTERNAL_DOMAINS: &[&str] = &[
    "acme.com",
    "acme.com",
    "acme.com",
    "eu.acme.com",
    "acme-corp.com",
];
/// External people's domains.
pub(crate) const EXTERNAL_DOMAINS: &[&str] = &[
    "partner.org",
    "supplier.net",
    "gmail.com",
    "outlook.com",
    "customer.io",
];
/// Identity providers an account may come from.
pub(crate) const PROVIDERS: &[&str] = &["entra", "entra", "okta", "local"];

/// How many apps people use: the portfolio's shape. The default is the generator's own
/// spread (most people in one to three apps, one in twenty in up to twelve more); setting
/// either field draws instead from a plain rule, so benchmarks can vary the shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    /// The most apps one person uses (3 when only the share is set).
    pub max_apps: Option<u64>,
    /// Percent of people in more than one app, each in 2 to `max_apps` apps, uniformly (67
    /// when only the maximum is set). Apps are drawn with popular ones more likely, so two of
    /// a person's draws can be one app: fewer people are seen in several.
    pub multi_app_percent: Option<u64>,
}

/// The default spread: 1 to `FEW_APPS` apps each, and `MANY_PERCENT` of people in up to
/// `MORE_APPS` more.
const FEW_APPS: u64 = 3;
const MANY_PERCENT: u64 = 5;
const MORE_APPS: u64 = 12;

impl Shape {
    /// The plain rule's parameters, or `None` for the default spread.
    fn rule(&self) -> Option<(u64, u64)> {
        if self.max_apps.is_none() && self.multi_app_percent.is_none() {
            return None;
        }
        Some((
            self.max_apps.unwrap_or(3).max(1),
            self.multi_app_percent.unwrap_or(67).min(100),
        ))
    }

    /// How many apps a person uses, from three independent draws.
    fn apps(&self, a: u64, b: u64, c: u64) -> u64 {
        match self.rule() {
            None => {
                let many = chance(b, MANY_PERCENT);
                1 + below(a, FEW_APPS) + if many { below(c, MORE_APPS) } else { 0 }
            }
            Some((1, _)) => 1,
            Some((max, percent)) => match chance(b, percent) {
                true => 2 + below(c, max - 1),
                false => 1,
            },
        }
    }

    /// The mean number of apps a person uses, so that a number of events per account can be
    /// turned into a number of events.
    pub fn mean_apps(&self) -> f64 {
        match self.rule() {
            // The mean of 1 + below(n) is 1 + (n - 1) / 2.
            None => {
                let mean_below = |n: u64| (n - 1) as f64 / 2.0;
                1.0 + mean_below(FEW_APPS) + MANY_PERCENT as f64 / 100.0 * mean_below(MORE_APPS)
            }
            Some((1, _)) => 1.0,
            Some((max, percent)) => 1.0 + percent as f64 / 100.0 * (max as f64 / 2.0),
        }
    }
}

/// One synthetic person. Text attributes are written into caller buffers, so drawing an
/// event allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct Person {
    /// Their index.
    pub index: u64,
    /// Employees are internal; customers and partners external.
    pub external: bool,
    /// Their e-mail domain.
    pub domain: &'static str,
    /// The value of their cross-app NamedUserIdentifier, when their apps have one.
    pub named_user_identifier: Option<u64>,
    /// How many apps they use.
    pub apps: u64,
    /// Which provider their accounts live in.
    pub provider: &'static str,
    /// 0 for tenant `default` (most people); otherwise the number of their tenant.
    pub tenant: u64,
}

impl Person {
    /// Person `index` of the portfolio made from `seed`, in a portfolio of `shape`.
    pub fn new(seed: u64, index: u64, shape: &Shape) -> Person {
        let h = |purpose: u64| mix(seed ^ mix(index.wrapping_mul(31).wrapping_add(purpose)));
        let external = chance(h(1), 30);
        let domains = if external {
            EXTERNAL_DOMAINS
        } else {
            INTERNAL_DOMAINS
        };
        Person {
            index,
            external,
            domain: domains[below(h(2), domains.len() as u64) as usize],
            named_user_identifier: chance(h(3), 60).then(|| h(4)),
            apps: shape.apps(h(5), h(6), h(7)),
            provider: PROVIDERS[below(h(8), PROVIDERS.len() as u64) as usize],
            tenant: if chance(h(9), 5) {
                below(h(10), 4) + 2
            } else {
                0
            },
        }
    }

    /// Appends their user name where apps do not log in by e-mail.
    pub(crate) fn write_handle(&self, out: &mut String) {
        let _ = write!(out, "user{}", self.index);
    }

    /// Appends their canonical e-mail address.
    pub(crate) fn write_email(&self, out: &mut String) {
        let _ = write!(out, "user{}@{}", self.index, self.domain);
    }

    /// Appends their NamedUserIdentifier; false when they have none.
    pub(crate) fn write_named_user_identifier(&self, out: &mut String) -> bool {
        match self.named_user_identifier {
            Some(v) => {
                let _ = write!(out, "nui-{v:016x}");
                true
            }
            None => false,
        }
    }

    /// Appends their tenant's name.
    pub(crate) fn write_tenant(&self, out: &mut String) {
        match self.tenant {
            0 => out.push_str("default"),
            n => {
                let _ = write!(out, "tenant-{n}");
            }
        }
    }

    /// The `k`-th app this person uses, among `apps` apps: popular apps are chosen more.
    pub fn app(&self, seed: u64, k: u64, apps: u64) -> u64 {
        let x = mix(seed ^ mix(self.index ^ (k + 1).wrapping_mul(0xA24B_AED4_963E_E407)));
        // Squaring a uniform value skews choices towards low app numbers.
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u) * apps as f64) as u64 % apps.max(1)
    }
}

/// One synthetic app.
#[derive(Debug, Clone)]
pub struct App {
    /// Its index.
    pub index: u64,
    /// Its id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Where it runs.
    pub deployment_type: &'static str,
    /// Apps with pairwise identifiers give each user an app-specific opaque id.
    pub pairwise: bool,
    /// Whether it records a user type.
    pub reports_user_type: bool,
    /// Whether it gives users roles.
    pub has_roles: bool,
    /// Whether user names are e-mail addresses there.
    pub email_login: bool,
}

impl App {
    /// App `index` of the portfolio made from `seed`.
    pub fn new(seed: u64, index: u64) -> App {
        let h = |purpose: u64| {
            mix(seed ^ mix(index.wrapping_mul(0x1000_0000_01B3).wrapping_add(purpose)))
        };
        App {
            index,
            id: format!("app-{index:04}"),
            name: format!("App {index}"),
            deployment_type: ["mendix_cloud", "private_cloud", "on_premises"]
                [below(h(1), 3) as usize],
            pairwise: chance(h(2), 5),
            reports_user_type: chance(h(3), 40),
            has_roles: chance(h(4), 60),
            email_login: chance(h(5), 50),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_depend_only_on_seed_and_index() {
        let email = |seed, i| {
            let mut s = String::new();
            Person::new(seed, i, &Shape::default()).write_email(&mut s);
            s
        };
        assert_eq!(email(7, 42), email(7, 42));
        assert_eq!(
            Person::new(7, 42, &Shape::default()).named_user_identifier,
            Person::new(7, 42, &Shape::default()).named_user_identifier
        );
        assert!((0..100).any(|i| email(8, i) != email(7, i)));
        assert_eq!(App::new(7, 3).pairwise, App::new(7, 3).pairwise);
    }

    #[test]
    fn below_stays_in_range_and_spreads() {
        let mut seen = [0u32; 10];
        for i in 0..10_000 {
            let v = below(mix(i), 10);
            seen[v as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
    }

    #[test]
    fn about_thirty_percent_are_external() {
        let external = (0..10_000)
            .filter(|i| Person::new(1, *i, &Shape::default()).external)
            .count();
        assert!((2_700..3_300).contains(&external), "{external}");
    }
}
