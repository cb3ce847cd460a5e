//! `entitlements.csv` (docs/semantics.md "Subscriptions"): the subscriptions bought, edited by
//! hand or by command.
//!
//! The file is validated whole on every load, because a typo in a quantity or a date silently
//! changes a licence bill; every problem is reported with its line and column.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::{Warehouse, table};
use crate::error::Result;

/// The header of the file, in order.
pub const COLUMNS: [&str; 6] = [
    "subscription_id",
    "subscription_type",
    "quantity",
    "valid_from",
    "valid_to",
    "app_id",
];

/// The columns that may follow [`COLUMNS`]: what one user costs for one month, and in what
/// currency (the `cost` report). A file either has both or neither.
pub const PRICE_COLUMNS: [&str; 2] = ["unit_price", "currency"];

/// Decimal places a unit price may have, and the scale it is kept at.
pub(crate) const PRICE_SCALE: i8 = 4;

/// Digits of a unit price (as an Arrow decimal): up to 10^14 a seat.
pub(crate) const PRICE_PRECISION: u8 = 18;

/// The most users one subscription may hold: more than any licence, and small enough that
/// the sum of every subscription of a month cannot overflow.
pub(crate) const MAX_QUANTITY: i64 = 1_000_000_000;

/// The kinds of subscription (docs/semantics.md "Subscriptions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum SubscriptionType {
    /// External users, portfolio-wide.
    External,
    /// A pack of internal users of one app.
    SingleAppInternal,
    /// Internal users of any app (the default bucket).
    MultiAppInternal,
    /// Internal users when the waterfall is off (OutSystems).
    Internal,
}

impl SubscriptionType {
    /// The name used in the file and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionType::External => "external",
            SubscriptionType::SingleAppInternal => "single_app_internal",
            SubscriptionType::MultiAppInternal => "multi_app_internal",
            SubscriptionType::Internal => "internal",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            SubscriptionType::External,
            SubscriptionType::SingleAppInternal,
            SubscriptionType::MultiAppInternal,
            SubscriptionType::Internal,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// One subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Unique id, as the vendor names it.
    pub id: String,
    /// What it entitles.
    pub kind: SubscriptionType,
    /// How many users.
    pub quantity: i64,
    /// First valid day.
    pub valid_from: NaiveDate,
    /// Last valid day; `None` is open-ended.
    pub valid_to: Option<NaiveDate>,
    /// The app a single-app pack is assigned to from `valid_from`; later assignments are in
    /// `assignments.csv` ([`super::assignments`]).
    pub app_id: Option<String>,
    /// What one user costs for one month, if the file says.
    pub price: Option<Price>,
}

/// A unit price and its currency. Kept as the text given (so the file is written back as it
/// was) and as a number of ten-thousandths, which SQL sums exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// As written: digits, with at most [`PRICE_SCALE`] decimals.
    pub text: String,
    /// `text` in ten-thousandths.
    pub scaled: i128,
    /// Three capital letters (ISO 4217), such as `EUR`.
    pub currency: String,
}

impl Price {
    /// Parses a unit price and its currency; the error names the column at fault.
    pub fn parse(
        amount: &str,
        currency: &str,
    ) -> std::result::Result<Price, (&'static str, String)> {
        let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let scale = PRICE_SCALE as usize;
        if whole.is_empty()
            || whole.len() > usize::from(PRICE_PRECISION) - scale
            || !digits(whole)
            || !digits(fraction)
            || fraction.len() > scale
            || (amount.contains('.') && fraction.is_empty())
        {
            return Err((
                PRICE_COLUMNS[0],
                format!(
                    "{amount:?} is not a price (digits, with at most {scale} decimals, such as 12.50)"
                ),
            ));
        }
        let scaled = format!("{whole}{fraction:0<scale$}")
            .parse::<i128>()
            .map_err(|e| (PRICE_COLUMNS[0], e.to_string()))?;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err((
                PRICE_COLUMNS[1],
                format!("{currency:?} is not a currency code (three capitals, such as EUR)"),
            ));
        }
        Ok(Price {
            text: amount.to_string(),
            scaled,
            currency: currency.to_string(),
        })
    }
}

/// Reads and validates `<warehouse>/entitlements.csv`; a missing file is no subscriptions.
pub fn load(wh: &Warehouse) -> Result<Vec<Subscription>> {
    let path = wh.entitlements_path();
    match table::read(&path)? {
        Some(bytes) => parse(&bytes, &path),
        None => Ok(Vec::new()),
    }
}

/// Validates the CSV text of an entitlements file.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Vec<Subscription>> {
    let bad = |line: u64, column: &str, reason: String| table::bad_row(path, line, column, reason);
    let mut out: Vec<Subscription> = Vec::new();
    for (line, record) in table::records_with(bytes, path, &COLUMNS, &PRICE_COLUMNS)? {
        let field = |i: usize| record.get(i).unwrap_or("");
        let id = field(0).to_string();
        if id.is_empty() {
            return Err(bad(line, COLUMNS[0], "a subscription needs an id".into()));
        }
        let kind = SubscriptionType::parse(&field(1).to_ascii_lowercase()).ok_or_else(|| {
            bad(
                line,
                COLUMNS[1],
                format!(
                    "{:?} is not external, single_app_internal, multi_app_internal or internal",
                    field(1)
                ),
            )
        })?;
        let quantity = field(2)
            .parse::<i64>()
            .ok()
            .filter(|q| (0..=MAX_QUANTITY).contains(q))
            .ok_or_else(|| {
                bad(
                    line,
                    COLUMNS[2],
                    format!(
                        "{:?} is not a whole number of users from 0 to {MAX_QUANTITY}",
                        field(2)
                    ),
                )
            })?;
        let date = |i: usize| {
            NaiveDate::parse_from_str(field(i), "%Y-%m-%d").map_err(|_| {
                bad(
                    line,
                    COLUMNS[i],
                    format!("{:?} is not a date (YYYY-MM-DD)", field(i)),
                )
            })
        };
        let valid_from = date(3)?;
        let valid_to = if field(4).is_empty() {
            None
        } else {
            Some(date(4)?)
        };
        let price = match (field(6), field(7)) {
            ("", "") => None,
            ("", _) => {
                return Err(bad(
                    line,
                    PRICE_COLUMNS[0],
                    "a currency needs a unit_price".into(),
                ));
            }
            (amount, currency) => Some(
                Price::parse(amount, currency)
                    .map_err(|(column, reason)| bad(line, column, reason))?,
            ),
        };
        let sub = Subscription {
            id,
            kind,
            quantity,
            valid_from,
            valid_to,
            app_id: Some(field(5).to_string()).filter(|a| !a.is_empty()),
            price,
        };
        check(&sub, &out).map_err(|(column, reason)| bad(line, column, reason))?;
        out.push(sub);
    }
    Ok(out)
}

/// The rules between fields and across subscriptions, shared by the file and the commands:
/// the offending column and why.
pub fn check(
    sub: &Subscription,
    others: &[Subscription],
) -> std::result::Result<(), (&'static str, String)> {
    if others.iter().any(|s| s.id == sub.id) {
        return Err((COLUMNS[0], format!("{} appears twice", sub.id)));
    }
    if !(0..=MAX_QUANTITY).contains(&sub.quantity) {
        return Err((
            COLUMNS[2],
            format!("{} users is more than {MAX_QUANTITY}", sub.quantity),
        ));
    }
    if sub.valid_to.is_some_and(|to| to < sub.valid_from) {
        return Err((COLUMNS[4], "valid_to is before valid_from".into()));
    }
    if sub.app_id.is_some() && sub.kind != SubscriptionType::SingleAppInternal {
        return Err((
            COLUMNS[5],
            "only single_app_internal subscriptions are assigned to an app".into(),
        ));
    }
    // One bill, one currency: costs of two currencies cannot be summed.
    if let Some(price) = &sub.price
        && let Some(other) = others
            .iter()
            .filter_map(|s| s.price.as_ref())
            .find(|p| p.currency != price.currency)
    {
        return Err((
            PRICE_COLUMNS[1],
            format!(
                "every priced subscription must be in one currency: {} here, {} above",
                price.currency, other.currency
            ),
        ));
    }
    Ok(())
}
/// Applies `change` to the subscriptions and writes the file back atomically, under the
/// tables' lock so two edits never lose one another.
pub fn update(
    wh: &Warehouse,
    change: impl FnOnce(&mut Vec<Subscription>) -> Result<()>,
) -> Result<()> {
    table::locked(wh, || {
        let mut subs = load(wh)?;
        change(&mut subs)?;
        // The price columns are written only when a subscription has a price, so a file
        // without them keeps its shape.
        let priced = subs.iter().any(|s| s.price.is_some());
        let columns: Vec<&str> = if priced {
            COLUMNS.iter().chain(&PRICE_COLUMNS).copied().collect()
        } else {
            COLUMNS.to_vec()
        };
        table::write(
            &wh.entitlements_path(),
            &columns,
            subs.iter().map(|s| {
                let mut row = vec![
                    s.id.clone(),
                    s.kind.as_str().to_string(),
                    s.quantity.to_string(),
                    s.valid_from.to_string(),
                    s.valid_to.map(|d| d.to_string()).unwrap_or_default(),
                    s.app_id.clone().unwrap_or_default(),
                ];
                if priced {
                    row.push(s.price.as_ref().map(|p| p.text.clone()).unwrap_or_default());
                    row.push(
                        s.price
                            .as_ref()
                            .map(|p| p.currency.clone())
                            .unwrap_or_default(),
                    );
                }
                row
            }),
        )
    })
}

/// The `subscriptions` table the SQL sees.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("subscription_id", DataType::Utf8, false),
        Field::new("subscription_type", DataType::Utf8, false),
        Field::new("quantity", DataType::Int64, false),
        Field::new("valid_from", DataType::Date32, false),
        Field::new("valid_to", DataType::Date32, true),
        Field::new("app_id", DataType::Utf8, true),
        Field::new(
            "unit_price",
            DataType::Decimal128(PRICE_PRECISION, PRICE_SCALE),
            true,
        ),
        Field::new("currency", DataType::Utf8, true),
    ]))
}

/// Days since 1970-01-01: Arrow's `Date32`.
pub(crate) fn day_number(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    (d - epoch).num_days() as i32
}

/// The subscriptions as one Arrow batch of [`schema`].
pub(crate) fn to_batch(subs: &[Subscription]) -> Result<RecordBatch> {
    let day = day_number;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            subs.iter().map(|s| s.id.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            subs.iter().map(|s| s.kind.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            subs.iter().map(|s| s.quantity),
        )),
        Arc::new(Date32Array::from_iter_values(
            subs.iter().map(|s| day(s.valid_from)),
        )),
        Arc::new(Date32Array::from_iter(
            subs.iter().map(|s| s.valid_to.map(day)),
        )),
        Arc::new(StringArray::from_iter(
            subs.iter().map(|s| s.app_id.as_deref()),
        )),
        Arc::new(
            Decimal128Array::from_iter(subs.iter().map(|s| s.price.as_ref().map(|p| p.scaled)))
                .with_precision_and_scale(PRICE_PRECISION, PRICE_SCALE)?,
        ),
        Arc::new(StringArray::from_iter(
            subs.iter()
                .map(|s| s.price.as_ref().map(|p| p.currency.as_str())),
        )),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Vec<Subscription>> {
        parse(text.as_bytes(), Path::new("entitlements.csv"))
    }

    #[test]
    fn valid_file() {
        let subs = parse_text(
            "subscription_id,subscription_type,quantity,valid_from,valid_to,app_id\n\
             s1,external,100,2026-01-01,,\n\
             s2,single_app_internal,25,2026-01-01,2026-12-31,field\n",
        )
        .unwrap();
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[1].app_id.as_deref(), Some("field"));
        assert_eq!(subs[0].valid_to, None);
    }

    #[test]
    fn every_problem_names_line_and_column() {
        let head = "subscription_id,subscription_type,quantity,valid_from,valid_to,app_id\n";
        let cases = [
            (
                "s1,gold,1,2026-01-01,,\n",
                "line 2, column subscription_type",
            ),
            ("s1,external,-1,2026-01-01,,\n", "column quantity"),
            ("s1,external,ten,2026-01-01,,\n", "column quantity"),
            (
                "s1,external,9223372036854775807,2026-01-01,,\n",
                "column quantity",
            ),
            ("s1,external,1000000001,2026-01-01,,\n", "column quantity"),
            ("s1,external,1,01/01/2026,,\n", "column valid_from"),
            ("s1,external,1,2026-02-01,2026-01-31,\n", "column valid_to"),
            ("s1,external,1,2026-01-01,,app\n", "column app_id"),
            // Truncated: not an open-ended subscription.
            ("s1,external,1,2026-01-01\n", "column valid_to"),
            ("s1,external,1,2026-01-01,,,,\n", "column app_id"),
            (
                "s1,external,1,2026-01-01,,\ns1,external,1,2026-01-01,,\n",
                "line 3, column subscription_id",
            ),
        ];
        for (body, expected) in cases {
            let err = parse_text(&format!("{head}{body}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{body}: {err}");
            assert!(err.starts_with("entitlements.csv: line"), "{err}");
        }
        assert!(parse_text("id,type\n").is_err());
    }

    #[test]
    fn prices_are_optional_exact_and_in_one_currency() {
        let head = "subscription_id,subscription_type,quantity,valid_from,valid_to,app_id,unit_price,currency\n";
        let subs = parse_text(&format!(
            "{head}s1,external,10,2026-01-01,,,12.5,EUR\ns2,internal,5,2026-01-01,,,,\n"
        ))
        .unwrap();
        let price = subs[0].price.as_ref().unwrap();
        assert_eq!((price.scaled, price.currency.as_str()), (125_000, "EUR"));
        assert_eq!(subs[1].price, None);
        for (body, expected) in [
            (
                "s1,external,1,2026-01-01,,,12.50001,EUR\n",
                "column unit_price",
            ),
            ("s1,external,1,2026-01-01,,,-3,EUR\n", "column unit_price"),
            ("s1,external,1,2026-01-01,,,3.,EUR\n", "column unit_price"),
            ("s1,external,1,2026-01-01,,,3,eur\n", "column currency"),
            ("s1,external,1,2026-01-01,,,3,\n", "column currency"),
            ("s1,external,1,2026-01-01,,,,EUR\n", "column unit_price"),
            (
                "s1,external,1,2026-01-01,,,3,EUR\ns2,internal,1,2026-01-01,,,3,USD\n",
                "line 3, column currency",
            ),
        ] {
            let err = parse_text(&format!("{head}{body}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{body}: {err}");
        }
    }
}
