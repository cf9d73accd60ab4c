//! The stored tables, each written once: [`SealedRecord`] (one row of `devices`) and
//! [`SealedEvent`] (one row of `history`), with their column names and their values as the
//! backends bind and read them. Backends never name a column of their own.

/// The SQL type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `TEXT`.
    Text,
    /// `INTEGER` / `BIGINT`.
    Int,
    /// `BLOB` / `BYTEA`.
    Blob,
}

/// One column's value to bind.
#[derive(Clone, Copy, Debug)]
pub enum ValueRef<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Blob(Option<&'a [u8]>),
}

/// One column's value as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Blob(Option<Vec<u8>>),
}

/// Why a column's value does not fit the table (a damaged or foreign row).
#[derive(Debug)]
pub(crate) struct ColumnMismatch {
    /// The column.
    pub column: &'static str,
}

/// Converts a read [`Value`] into a field's type.
pub(crate) trait FromValue: Sized {
    fn from_value(value: Value) -> Option<Self>;
}

impl FromValue for String {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Text(Some(v)) => Some(v),
            _ => None,
        }
    }
}

impl FromValue for i64 {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Int(Some(v)) => Some(v),
            _ => None,
        }
    }
}

impl FromValue for Option<String> {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Text(v) => Some(v),
            _ => None,
        }
    }
}

impl FromValue for Option<i64> {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Int(v) => Some(v),
            _ => None,
        }
    }
}

impl FromValue for Option<Vec<u8>> {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Blob(v) => Some(v),
            _ => None,
        }
    }
}

/// Converts a field into the [`ValueRef`] bound for it.
pub(crate) trait ToValue {
    fn to_value(&self) -> ValueRef<'_>;
}

impl ToValue for String {
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Text(Some(self))
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Int(Some(*self))
    }
}

impl ToValue for Option<String> {
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Text(self.as_deref())
    }
}

impl ToValue for Option<i64> {
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Int(*self)
    }
}

impl ToValue for Option<Vec<u8>> {
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Blob(self.as_deref())
    }
}

/// Declares a table's row struct, its column names and kinds, and the conversions to and from
/// column values — the one place each column is written.
macro_rules! table {
    (
        $(#[$meta:meta])*
        $name:ident in $table:literal { $( $field:ident : $ty:ty = $kind:ident ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $( pub $field: $ty, )+
        }

        impl $name {
            /// The table's name.
            #[allow(dead_code)]
            pub(crate) const TABLE: &'static str = $table;
            /// The columns, in field order, with their kinds.
            pub(crate) const COLUMNS: &'static [(&'static str, Kind)] =
                &[ $( (stringify!($field), Kind::$kind), )+ ];

            /// The values to bind, in [`Self::COLUMNS`] order.
            #[allow(dead_code)]
            pub(crate) fn values(&self) -> Vec<ValueRef<'_>> {
                vec![ $( ToValue::to_value(&self.$field), )+ ]
            }

            /// A row from values read in [`Self::COLUMNS`] order.
            ///
            /// `read(index, kind)` returns the value of column `index`.
            pub(crate) fn from_values<E>(
                mut read: impl FnMut(usize, Kind) -> Result<Value, E>,
            ) -> Result<Result<Self, ColumnMismatch>, E> {
                let mut index = 0;
                $(
                    let $field: $ty = {
                        let value = read(index, Kind::$kind)?;
                        index += 1;
                        match FromValue::from_value(value) {
                            Some(v) => v,
                            None => {
                                return Ok(Err(ColumnMismatch { column: stringify!($field) }))
                            }
                        }
                    };
                )+
                let _ = index;
                Ok(Ok(Self { $( $field, )+ }))
            }
        }
    };
}

table! {
    /// One row of the `devices` table: plain columns, and secrets as sealed bytes.
    SealedRecord in "devices" {
        udid: String = Text,
        serial_number: Option<String> = Text,
        product_type: Option<String> = Text,
        imei: Option<String> = Text,
        imei2: Option<String> = Text,
        meid: Option<String> = Text,
        enrolled_at: Option<i64> = Int,
        device_code: Option<Vec<u8>> = Blob,
        device_code_at: Option<i64> = Int,
        server_code: Option<Vec<u8>> = Blob,
        server_code_at: Option<i64> = Int,
        server_code_state: Option<String> = Text,
        server_code_state_at: Option<i64> = Int,
        server_code_status: Option<String> = Text,
        accepted_server_code: Option<Vec<u8>> = Blob,
        accepted_server_code_at: Option<i64> = Int,
        accepted_at: Option<i64> = Int,
        unlock_token: Option<Vec<u8>> = Blob,
        unlock_token_at: Option<i64> = Int,
        last_unlock_code: Option<String> = Text,
        last_unlock_outcome: Option<String> = Text,
        last_unlock_at: Option<i64> = Int,
        commands: Option<String> = Text,
        ask_due_at: Option<i64> = Int,
        created_at: i64 = Int,
        updated_at: i64 = Int,
    }
}

table! {
    /// One row of the `history` table (`seq` is assigned by the backend when appended).
    SealedEvent in "history" {
        seq: i64 = Int,
        udid: String = Text,
        at: i64 = Int,
        event: String = Text,
        detail: Option<String> = Text,
        secret: Option<Vec<u8>> = Blob,
    }
}

/// `col1, col2, ...` of `columns`.
pub(crate) fn column_list(columns: &[(&str, Kind)]) -> String {
    columns
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SELECT <every devices column> FROM devices`.
pub(crate) fn select_records_sql() -> String {
    format!(
        "SELECT {} FROM {}",
        column_list(SealedRecord::COLUMNS),
        SealedRecord::TABLE
    )
}

/// `INSERT ... ON CONFLICT (udid) DO UPDATE` of a whole device row, with placeholders written
/// by `placeholder(1..)` (`?1` for SQLite, `$1` for PostgreSQL).
#[cfg(any(feature = "sqlite", test))]
pub(crate) fn upsert_record_sql(placeholder: impl Fn(usize) -> String) -> String {
    let columns = SealedRecord::COLUMNS;
    let values: Vec<String> = (1..=columns.len()).map(placeholder).collect();
    let updates: Vec<String> = columns[1..]
        .iter()
        .map(|(c, _)| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (udid) DO UPDATE SET {}",
        SealedRecord::TABLE,
        column_list(columns),
        values.join(", "),
        updates.join(", ")
    )
}

/// [`upsert_record_sql`] of `rows` rows in one statement (their UDIDs distinct), with
/// placeholders numbered on from row to row.
#[cfg(feature = "postgres")]
pub(crate) fn upsert_records_sql(rows: usize, placeholder: impl Fn(usize) -> String) -> String {
    let columns = SealedRecord::COLUMNS;
    let updates: Vec<String> = columns[1..]
        .iter()
        .map(|(c, _)| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {} ON CONFLICT (udid) DO UPDATE SET {}",
        SealedRecord::TABLE,
        column_list(columns),
        value_rows(rows, columns.len(), placeholder),
        updates.join(", ")
    )
}

/// [`insert_event_sql`] of `rows` events in one statement (appended in their order).
#[cfg(feature = "postgres")]
pub(crate) fn insert_events_sql(rows: usize, placeholder: impl Fn(usize) -> String) -> String {
    let columns = &SealedEvent::COLUMNS[1..];
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        SealedEvent::TABLE,
        column_list(columns),
        value_rows(rows, columns.len(), placeholder)
    )
}

/// `(p1, ..., pn), (pn+1, ...)...`: `rows` tuples of `width` placeholders.
#[cfg(feature = "postgres")]
fn value_rows(rows: usize, width: usize, placeholder: impl Fn(usize) -> String) -> String {
    (0..rows)
        .map(|r| {
            let values: Vec<String> = (1..=width).map(|c| placeholder(r * width + c)).collect();
            format!("({})", values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `DELETE FROM devices WHERE udid = <placeholder(1)>`.
#[cfg(any(feature = "sqlite", test))]
pub(crate) fn delete_record_sql(placeholder: impl Fn(usize) -> String) -> String {
    format!(
        "DELETE FROM {} WHERE udid = {}",
        SealedRecord::TABLE,
        placeholder(1)
    )
}

/// `SELECT <every history column> FROM history`.
pub(crate) fn select_events_sql() -> String {
    format!(
        "SELECT {} FROM {}",
        column_list(SealedEvent::COLUMNS),
        SealedEvent::TABLE
    )
}

/// `INSERT INTO history (<every column but seq>) VALUES (...)`: `seq` is the backend's.
#[cfg(any(feature = "sqlite", test))]
pub(crate) fn insert_event_sql(placeholder: impl Fn(usize) -> String) -> String {
    let columns = &SealedEvent::COLUMNS[1..];
    let values: Vec<String> = (1..=columns.len()).map(placeholder).collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        SealedEvent::TABLE,
        column_list(columns),
        values.join(", ")
    )
}

impl SealedEvent {
    /// The values [`insert_event_sql`] binds (every column but `seq`).
    pub(crate) fn insert_values(&self) -> Vec<ValueRef<'_>> {
        let mut values = self.values();
        values.remove(0);
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_their_values() {
        let record = SealedRecord {
            udid: "U".into(),
            serial_number: Some("S".into()),
            device_code: Some(vec![0, 1]),
            enrolled_at: Some(7),
            created_at: 1,
            updated_at: 2,
            ..SealedRecord::default()
        };
        let owned: Vec<Value> = record
            .values()
            .into_iter()
            .map(|v| match v {
                ValueRef::Text(t) => Value::Text(t.map(str::to_owned)),
                ValueRef::Int(i) => Value::Int(i),
                ValueRef::Blob(b) => Value::Blob(b.map(<[u8]>::to_vec)),
            })
            .collect();
        assert_eq!(owned.len(), SealedRecord::COLUMNS.len());
        let back = SealedRecord::from_values::<()>(|i, _| Ok(owned[i].clone()))
            .unwrap()
            .unwrap();
        assert_eq!(back, record);
        // A NULL where the table has NOT NULL is a mismatch naming the column.
        let broken = SealedRecord::from_values::<()>(|i, kind| {
            Ok(if i == 0 {
                Value::Text(None)
            } else {
                match kind {
                    Kind::Text => Value::Text(None),
                    Kind::Int => Value::Int(Some(0)),
                    Kind::Blob => Value::Blob(None),
                }
            })
        })
        .unwrap();
        assert_eq!(broken.unwrap_err().column, "udid");
    }

    #[test]
    fn statements_name_every_column_once() {
        assert_eq!(SealedRecord::COLUMNS.len(), 26);
        let upsert = upsert_record_sql(|i| format!("?{i}"));
        assert!(upsert.contains("?26)"), "{upsert}");
        assert!(!upsert.contains("udid = excluded.udid"));
        assert_eq!(
            insert_event_sql(|i| format!("${i}")),
            "INSERT INTO history (udid, at, event, detail, secret) VALUES ($1, $2, $3, $4, $5)"
        );
    }
}
