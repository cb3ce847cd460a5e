//! `connected_components(member, key, ...)`: the transitive closure SQL cannot do well.
//!
//! The `username_or_email` dedup policy merges accounts that share a user name or an e-mail,
//! transitively. A recursive query would be unbounded; a union-find over the group's rows is
//! near-linear. Each row names a member (an account) and any number of keys; members sharing a
//! key in the same argument position are joined (each position is its own namespace, so a user
//! name never matches an e-mail that happens to hash the same). The result is one list per group
//! of `{member, component}` structs, `component` being the smallest member of the component, so
//! the answer does not depend on row order.
//!
//! DataFusion computes an aggregate in two steps when its input has several partitions: each
//! partition's rows into a state, then the states into the answer. A union-find of each
//! partition would be built and then built again from its nodes in the final step, so the
//! partial step only gathers the rows, as the state, and the union-find is built once, over
//! every row, when the answer is asked for (BENCHMARKS.md run AE).

use datafusion::common::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray, StringBuilder, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{cast, concat};
use datafusion::arrow::datatypes::FieldRef;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};

/// The aggregate, ready to register.
pub fn connected_components() -> AggregateUDF {
    AggregateUDF::from(ConnectedComponents {
        signature: Signature::variadic_any(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ConnectedComponents {
    signature: Signature,
}

fn pair_fields() -> Fields {
    Fields::from(vec![
        Field::new("member", DataType::Utf8, false),
        Field::new("component", DataType::Utf8, false),
    ])
}

fn result_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(pair_fields()),
        true,
    )))
}

/// Partial state: the rows gathered, each a member and its keys, so the final step builds one
/// union-find over every row.
fn row_fields(key_positions: usize) -> Fields {
    let member = Field::new("member", DataType::Utf8, true);
    let keys = (0..key_positions).map(|i| Field::new(format!("key_{i}"), DataType::Utf8, true));
    std::iter::once(member).chain(keys).collect()
}

fn state_type(key_positions: usize) -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(row_fields(key_positions)),
        true,
    )))
}

/// Wraps one struct array as a one-element list scalar.
fn list_scalar(structs: StructArray) -> ScalarValue {
    let item = Arc::new(Field::new("item", structs.data_type().clone(), true));
    let list = ListArray::new(
        item,
        OffsetBuffer::from_lengths([structs.len()]),
        Arc::new(structs),
        None,
    );
    ScalarValue::List(Arc::new(list))
}

impl AggregateUDFImpl for ConnectedComponents {
    fn name(&self) -> &str {
        "connected_components"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if args.len() < 2 {
            return exec_err!("connected_components takes a member and at least one key");
        }
        Ok(result_type())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Gathered::new(args.exprs.len() - 1)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "rows"),
            state_type(args.input_fields.len() - 1),
            true,
        ))])
    }
}

/// Union-find over members and keys. Members and each key position intern their strings to
/// dense node ids; a string is copied once, when first seen.
#[derive(Debug)]
struct UnionFind {
    parent: Vec<u32>,
    rank: Vec<u8>,
    members: HashMap<String, u32>,
    keys: Vec<HashMap<String, u32>>,
}

impl UnionFind {
    fn new(key_positions: usize) -> Self {
        UnionFind {
            parent: Vec::new(),
            rank: Vec::new(),
            members: HashMap::new(),
            keys: (0..key_positions).map(|_| HashMap::new()).collect(),
        }
    }

    fn node(&mut self, namespace: Option<usize>, s: &str) -> u32 {
        let UnionFind {
            parent,
            rank,
            members,
            keys,
        } = self;
        let map = match namespace {
            None => members,
            Some(i) => &mut keys[i],
        };
        // One lookup a row, and the string copied only when it is new.
        *map.entry_ref(s).or_insert_with(|| {
            let id = parent.len() as u32;
            parent.push(id);
            rank.push(0);
            id
        })
    }

    fn find(&mut self, x: u32) -> u32 {
        find_in(&mut self.parent, x)
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (ra_rank, rb_rank) = (self.rank[ra as usize], self.rank[rb as usize]);
        if ra_rank < rb_rank {
            self.parent[ra as usize] = rb;
        } else {
            self.parent[rb as usize] = ra;
            if ra_rank == rb_rank {
                self.rank[ra as usize] += 1;
            }
        }
    }

    /// Joins each row's member to the row's keys, each key position its own namespace; every
    /// column is text, as [`Gathered`] keeps it.
    fn add_rows(&mut self, member: &ArrayRef, keys: &[ArrayRef]) {
        let member = member.as_string::<i32>();
        let keys: Vec<_> = keys.iter().map(|k| k.as_string::<i32>()).collect();
        for row in 0..member.len() {
            if member.is_null(row) {
                continue;
            }
            let m = self.node(None, member.value(row));
            for (position, key) in keys.iter().enumerate() {
                if key.is_valid(row) {
                    let k = self.node(Some(position), key.value(row));
                    self.union(m, k);
                }
            }
        }
    }

    /// Points every node straight at its root, so the answer can be read without mutation.
    fn flatten(&mut self) {
        for x in 0..self.parent.len() as u32 {
            let root = find_in(&mut self.parent, x);
            self.parent[x as usize] = root;
        }
    }

    /// The smallest member name of every component, by root; call after [`Self::flatten`].
    fn representatives(&self) -> HashMap<u32, &str> {
        let mut smallest: HashMap<u32, &str> = HashMap::with_capacity(self.members.len());
        for (name, &id) in &self.members {
            smallest
                .entry(self.parent[id as usize])
                .and_modify(|current| {
                    if name.as_str() < *current {
                        *current = name;
                    }
                })
                .or_insert(name);
        }
        smallest
    }

    /// Every member with the smallest member of its component, sorted by member.
    fn pairs(&mut self) -> ScalarValue {
        self.flatten();
        let reps = self.representatives();
        let mut rows: Vec<(&str, &str)> = self
            .members
            .iter()
            .map(|(name, &id)| (name.as_str(), reps[&self.parent[id as usize]]))
            .collect();
        rows.sort_unstable();
        let mut member_col = StringBuilder::with_capacity(rows.len(), rows.len() * 64);
        let mut component_col = StringBuilder::with_capacity(rows.len(), rows.len() * 64);
        for (member, component) in &rows {
            member_col.append_value(member);
            component_col.append_value(component);
        }
        list_scalar(StructArray::new(
            pair_fields(),
            vec![
                Arc::new(member_col.finish()) as ArrayRef,
                Arc::new(component_col.finish()) as ArrayRef,
            ],
            None,
        ))
    }
}

fn find_in(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let grandparent = parent[parent[x as usize] as usize];
        parent[x as usize] = grandparent;
        x = grandparent;
    }
    x
}

/// The accumulator: the rows of one group, as text, until the answer is asked for.
#[derive(Debug)]
struct Gathered {
    key_positions: usize,
    /// Batches of columns: the member, then each key position.
    batches: Vec<Vec<ArrayRef>>,
    bytes: usize,
}

impl Gathered {
    fn new(key_positions: usize) -> Self {
        Gathered {
            key_positions,
            batches: Vec::new(),
            bytes: 0,
        }
    }

    /// Keeps `columns`, counting the bytes of their rows: DataFusion hands each group a slice
    /// of one batch of every group's rows, and the buffers' whole size, counted for each of
    /// two hundred groups, made the final step think it had outgrown any pool and spill.
    fn push(&mut self, columns: Vec<ArrayRef>) {
        self.bytes += columns
            .iter()
            .map(|c| {
                c.to_data()
                    .get_slice_memory_size()
                    .unwrap_or_else(|_| c.get_array_memory_size())
            })
            .sum::<usize>();
        self.batches.push(columns);
    }
}

impl Accumulator for Gathered {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let columns = values
            .iter()
            .map(|a| cast(a, &DataType::Utf8))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.push(columns);
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut uf = UnionFind::new(self.key_positions);
        for columns in std::mem::take(&mut self.batches) {
            uf.add_rows(&columns[0], &columns[1..]);
        }
        self.bytes = 0;
        Ok(uf.pairs())
    }

    /// The rows kept. The union-find built from them at the end is not counted: it holds each
    /// distinct text once, so it is about the size of the rows it is built from, and this group
    /// lets go of them batch by batch as it grows.
    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.bytes
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let batches = std::mem::take(&mut self.batches);
        self.bytes = 0;
        let columns = (0..=self.key_positions)
            .map(|i| {
                let parts: Vec<&dyn Array> = batches.iter().map(|b| b[i].as_ref()).collect();
                if parts.is_empty() {
                    Ok(datafusion::arrow::array::new_empty_array(&DataType::Utf8))
                } else {
                    Ok(concat(&parts)?)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = StructArray::new(row_fields(self.key_positions), columns, None);
        Ok(vec![list_scalar(rows)])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_null(i) {
                continue;
            }
            let rows = lists.value(i);
            self.push(rows.as_struct().columns().to_vec());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;

    fn run(rows: &[(&str, Option<&str>, Option<&str>)]) -> Vec<(String, String)> {
        let mut uf = Gathered::new(2);
        let member: ArrayRef = Arc::new(StringArray::from(
            rows.iter().map(|r| Some(r.0)).collect::<Vec<_>>(),
        ));
        let a: ArrayRef = Arc::new(StringArray::from(
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        ));
        let b: ArrayRef = Arc::new(StringArray::from(
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        ));
        uf.update_batch(&[member, a, b]).unwrap();
        let ScalarValue::List(list) = uf.evaluate().unwrap() else {
            panic!()
        };
        let pairs = list.value(0);
        let pairs = pairs.as_struct();
        let m = pairs.column(0).as_string::<i32>();
        let c = pairs.column(1).as_string::<i32>();
        (0..m.len())
            .map(|i| (m.value(i).to_string(), c.value(i).to_string()))
            .collect()
    }

    #[test]
    fn transitive_chain_and_namespaces() {
        // A~B by name, B~C by e-mail; D's e-mail equals A's name string but in another position.
        let out = run(&[
            ("A", Some("n1"), Some("e1")),
            ("B", Some("n1"), Some("e2")),
            ("C", Some("n3"), Some("e2")),
            ("D", Some("n4"), Some("n1")),
            ("E", None, None),
        ]);
        let expect = [("A", "A"), ("B", "A"), ("C", "A"), ("D", "D"), ("E", "E")];
        let expect: Vec<(String, String)> = expect
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(out, expect);
    }

    /// A row as the tests write it: member, name key, e-mail key.
    type Row<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

    /// The answer by definition: repeat "two members sharing a key in one position are one
    /// component" until nothing changes, then name each component by its smallest member.
    fn brute_force(rows: &[(String, Option<String>, Option<String>)]) -> Vec<(String, String)> {
        let mut members: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        members.sort();
        members.dedup();
        let mut label: HashMap<&str, &str> = members.iter().map(|m| (*m, *m)).collect();
        let linked = |a: &(String, Option<String>, Option<String>),
                      b: &(String, Option<String>, Option<String>)| {
            (a.1.is_some() && a.1 == b.1) || (a.2.is_some() && a.2 == b.2)
        };
        loop {
            let mut changed = false;
            for a in rows {
                for b in rows {
                    let (la, lb) = (label[a.0.as_str()], label[b.0.as_str()]);
                    if (linked(a, b) || a.0 == b.0) && la != lb {
                        let low = la.min(lb);
                        for l in label.values_mut() {
                            if *l == la || *l == lb {
                                *l = low;
                            }
                        }
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        members
            .iter()
            .map(|m| (m.to_string(), label[m].to_string()))
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn union_find_equals_the_brute_force_closure(
            rows in proptest::collection::vec(
                ("[a-h]", proptest::option::of("[n-q]"), proptest::option::of("[n-q]")),
                0..24,
            ),
            split in 0..24usize,
        ) {
            let rows: Vec<(String, Option<String>, Option<String>)> = rows;
            let mut expected = brute_force(&rows);
            expected.sort();
            // Whole, and as two partial states merged, as DataFusion does across partitions.
            let as_ref: Vec<Row> = rows
                .iter()
                .map(|r| (r.0.as_str(), r.1.as_deref(), r.2.as_deref()))
                .collect();
            let mut whole = run(&as_ref);
            whole.sort();
            proptest::prop_assert_eq!(&whole, &expected);

            let split = split.min(rows.len());
            let mut total = Gathered::new(2);
            for part in [&as_ref[..split], &as_ref[split..]] {
                let mut uf = Gathered::new(2);
                let col = |f: &dyn Fn(&Row) -> Option<String>| {
                    Arc::new(StringArray::from(part.iter().map(f).collect::<Vec<_>>())) as ArrayRef
                };
                uf.update_batch(&[
                    col(&|r| Some(r.0.to_string())),
                    col(&|r| r.1.map(str::to_string)),
                    col(&|r| r.2.map(str::to_string)),
                ])
                .unwrap();
                let ScalarValue::List(list) = uf.state().unwrap().remove(0) else {
                    panic!()
                };
                total.merge_batch(&[list as ArrayRef]).unwrap();
            }
            let ScalarValue::List(list) = total.evaluate().unwrap() else {
                panic!()
            };
            let pairs = list.value(0);
            let pairs = pairs.as_struct();
            let (m, c) = (pairs.column(0).as_string::<i32>(), pairs.column(1).as_string::<i32>());
            let mut merged: Vec<(String, String)> = (0..m.len())
                .map(|i| (m.value(i).to_string(), c.value(i).to_string()))
                .collect();
            merged.sort();
            proptest::prop_assert_eq!(merged, expected);
        }
    }

    #[test]
    fn a_group_counts_the_bytes_of_its_rows_not_of_the_batch_they_are_sliced_from() {
        // DataFusion gives each group a slice of one batch of all the groups' rows.
        let names: Vec<String> = (0..10_000).map(|i| format!("account-{i:08}")).collect();
        let batch: ArrayRef = Arc::new(StringArray::from(names));
        let mut one = Gathered::new(1);
        one.update_batch(&[batch.slice(100, 10), batch.slice(200, 10)])
            .unwrap();
        let whole = batch.get_array_memory_size();
        assert!(one.size() < whole / 100, "{} of {whole}", one.size());
        assert!(one.size() > 2 * 10 * "account-00000000".len());
    }

    #[test]
    fn merging_partial_states_joins_components() {
        let mut left = Gathered::new(1);
        let mut right = Gathered::new(1);
        let s = |v: Vec<&str>| Arc::new(StringArray::from(v)) as ArrayRef;
        // D and E share only the key k3, and meet only in the merge.
        left.update_batch(&[s(vec!["A", "B", "D"]), s(vec!["k1", "k1", "k3"])])
            .unwrap();
        right
            .update_batch(&[s(vec!["B", "C", "E"]), s(vec!["k2", "k2", "k3"])])
            .unwrap();
        let mut total = Gathered::new(1);
        for part in [&mut left, &mut right] {
            let ScalarValue::List(list) = part.state().unwrap().remove(0) else {
                panic!()
            };
            total.merge_batch(&[list as ArrayRef]).unwrap();
        }
        let ScalarValue::List(list) = total.evaluate().unwrap() else {
            panic!()
        };
        let pairs = list.value(0);
        let c = pairs.as_struct().column(1).as_string::<i32>().clone();
        let expect = [Some("A"), Some("A"), Some("A"), Some("D"), Some("D")];
        assert_eq!(c.iter().collect::<Vec<_>>(), expect);
    }
}
