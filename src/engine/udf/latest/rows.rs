//! The input rows `latest` keeps, pointed at rather than copied.
//!
//! Copying a group's best row field by field into strings of its own costs an allocation per
//! field per group: millions a month at scale (BENCHMARKS.md item 34). Instead a group points
//! at its best row in the batch that row came in, and the batch is kept as it came, so offering a row copies nothing;
//! emitting gathers the rows pointed at with one `interleave` per column. When most kept rows
//! are no longer pointed at, the live ones are gathered into one batch and the rest dropped, so
//! what is kept stays within a small multiple of the groups.

use std::sync::Arc;

use datafusion::arrow::array::builder::NullBufferBuilder;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeBinaryArray, LargeStringArray, StringArray, StringViewArray,
    new_null_array,
};
use datafusion::arrow::buffer::Buffer;
use datafusion::arrow::compute::{cast, interleave};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};

/// Where a kept row is: (batch, row within it).
pub type RowRef = (u32, u32);

/// Kept rows beyond twice the live ones, before the store compacts itself.
const SLACK_ROWS: usize = 1 << 16;

/// A column read by row as bytes: text in any of Arrow's string layouts, or fixed-width
/// binary (stored hashes). Text compares as its UTF-8 bytes, which is the order of `str`.
#[derive(Debug, Clone)]
enum Texts {
    Utf8(StringArray),
    Large(LargeStringArray),
    View(StringViewArray),
    Fixed(FixedSizeBinaryArray),
}

impl Texts {
    fn of(array: &ArrayRef) -> Result<Self> {
        Ok(match array.data_type() {
            DataType::Utf8 => Texts::Utf8(array.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Texts::Large(array.as_string::<i64>().clone()),
            DataType::Utf8View => Texts::View(array.as_string_view().clone()),
            DataType::FixedSizeBinary(_) => Texts::Fixed(array.as_fixed_size_binary().clone()),
            other => return exec_err!("latest takes text or hashes, not {other}"),
        })
    }

    fn get(&self, i: usize) -> Option<&[u8]> {
        match self {
            Texts::Utf8(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Texts::Large(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Texts::View(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Texts::Fixed(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }

    fn array(&self) -> &dyn Array {
        match self {
            Texts::Utf8(a) => a,
            Texts::Large(a) => a,
            Texts::View(a) => a,
            Texts::Fixed(a) => a,
        }
    }

    fn len(&self) -> usize {
        self.array().len()
    }
}

/// Batches of text columns, all of one shape, kept for the rows groups point at.
#[derive(Debug)]
pub struct KeptRows {
    /// The type each column comes out as.
    out: Vec<DataType>,
    batches: Vec<Vec<Texts>>,
    /// Each column's type, fixed by the first batch, so every batch can be interleaved.
    types: Vec<DataType>,
    rows: usize,
    bytes: usize,
}

impl KeptRows {
    /// A store for batches of columns that come out as `out`: text as `Utf8`, hashes in
    /// their own fixed width.
    pub fn new(out: Vec<DataType>) -> Self {
        KeptRows {
            out,
            batches: Vec::new(),
            types: Vec::new(),
            rows: 0,
            bytes: 0,
        }
    }

    /// Keeps a batch of columns (NULL-typed ones read as all-NULL text) and returns its number.
    pub fn push(&mut self, columns: &[ArrayRef]) -> Result<u32> {
        if self.types.is_empty() {
            self.types = columns.iter().map(|c| text_type(c.data_type())).collect();
        }
        let batch = columns
            .iter()
            .zip(&self.types)
            .map(|(column, to)| {
                let column = if column.data_type() == to {
                    column.clone()
                } else {
                    cast(column, to)?
                };
                Texts::of(&column)
            })
            .collect::<Result<Vec<_>>>()?;
        let (rows, bytes) = size_of_batch(&batch);
        self.rows += rows;
        self.bytes += bytes;
        self.batches.push(batch);
        Ok((self.batches.len() - 1) as u32)
    }

    /// Forgets the batch pushed last, when no group points at any of its rows.
    pub fn pop(&mut self) {
        if let Some(batch) = self.batches.pop() {
            let (rows, bytes) = size_of_batch(&batch);
            self.rows -= rows;
            self.bytes -= bytes;
        }
    }

    /// One column of a kept row, as bytes.
    pub fn bytes_of(&self, (batch, row): RowRef, column: usize) -> Option<&[u8]> {
        self.batches[batch as usize][column].get(row as usize)
    }

    /// How many rows are kept.
    #[cfg(test)]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The bytes kept, for the memory pool.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Each column of the rows `refs` point at, in its out type; `None` gives a NULL row.
    pub fn gather(&self, refs: &[Option<RowRef>]) -> Result<Vec<ArrayRef>> {
        self.interleaved(refs)?
            .into_iter()
            .zip(&self.out)
            .map(|(column, out)| match column.data_type() == out {
                true => Ok(column),
                false => Ok(cast(&column, out)?),
            })
            .collect()
    }

    /// When more than twice the `live` rows (plus some slack) are kept, gathers the live rows
    /// into one batch, points `refs` at it and drops every other batch.
    pub fn compact_unless_small(&mut self, refs: &mut [Option<RowRef>], live: usize) -> Result<()> {
        if self.rows <= 2 * live + SLACK_ROWS {
            return Ok(());
        }
        let live_refs: Vec<Option<RowRef>> = refs.iter().copied().filter(Option::is_some).collect();
        let columns = self
            .interleaved(&live_refs)?
            .into_iter()
            .map(|column| match column.data_type() {
                // Gathered views still point into every old batch's buffers; copy them out.
                DataType::Utf8View => Arc::new(column.as_string_view().gc()) as ArrayRef,
                _ => column,
            })
            .collect::<Vec<_>>();
        self.clear();
        let batch = self.push(&columns)?;
        for (row, slot) in refs.iter_mut().filter(|r| r.is_some()).enumerate() {
            *slot = Some((batch, row as u32));
        }
        Ok(())
    }

    /// Forgets every kept row (the column types stay).
    pub fn clear(&mut self) {
        self.batches.clear();
        self.rows = 0;
        self.bytes = 0;
    }

    /// The rows `refs` point at, in the kept types.
    fn interleaved(&self, refs: &[Option<RowRef>]) -> Result<Vec<ArrayRef>> {
        if self.types.is_empty() {
            // Nothing was ever kept, so every group saw nothing.
            return Ok(self
                .out
                .iter()
                .map(|t| new_null_array(t, refs.len()))
                .collect());
        }
        // Source 0 is one NULL row of each column, for the groups that saw nothing.
        let indices: Vec<(usize, usize)> = refs
            .iter()
            .map(|r| r.map_or((0, 0), |(b, row)| (b as usize + 1, row as usize)))
            .collect();
        self.types
            .iter()
            .enumerate()
            .map(|(c, data_type)| {
                if let DataType::FixedSizeBinary(width) = data_type {
                    return self.gathered_fixed(c, *width, refs);
                }
                let null = new_null_array(data_type, 1);
                let mut sources: Vec<&dyn Array> = vec![null.as_ref()];
                sources.extend(self.batches.iter().map(|b| b[c].array()));
                Ok(interleave(&sources, &indices)?)
            })
            .collect()
    }

    /// Column `c` (fixed-width binary: a stored hash) of the rows `refs` point at. Arrow's
    /// `interleave` has no fast path for this type and extends a generic builder row by row,
    /// which was 3% of a cold `usage` (BENCHMARKS.md run Y); here each row is one copy.
    fn gathered_fixed(&self, c: usize, width: i32, refs: &[Option<RowRef>]) -> Result<ArrayRef> {
        let size = width as usize;
        let mut values = Vec::with_capacity(refs.len() * size);
        let mut nulls = NullBufferBuilder::new(refs.len());
        for r in refs {
            match r.and_then(|r| self.bytes_of(r, c)) {
                Some(value) => {
                    values.extend_from_slice(value);
                    nulls.append_non_null();
                }
                None => {
                    values.resize(values.len() + size, 0);
                    nulls.append_null();
                }
            }
        }
        let array = FixedSizeBinaryArray::try_new(width, Buffer::from_vec(values), nulls.finish())?;
        Ok(Arc::new(array))
    }
}

/// A kept batch's rows and the bytes its arrays hold.
fn size_of_batch(batch: &[Texts]) -> (usize, usize) {
    let rows = batch.first().map_or(0, Texts::len);
    let bytes = batch
        .iter()
        .map(|c| c.array().get_array_memory_size())
        .sum();
    (rows, bytes)
}

/// The type a column is kept as: its own, or text for a column of NULLs.
fn text_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Null => DataType::Utf8,
        other => other.clone(),
    }
}
