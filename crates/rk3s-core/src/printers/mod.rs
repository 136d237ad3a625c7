//! Server-side table printers: the columns and cells `kubectl get` shows for each kind, as the
//! Kubernetes apiserver computes them when asked for `as=Table`. Entry points: [`columns`] and
//! [`cells`].
//!
//! Custom resources whose definition is at hand use [`custom_resource_columns`] and
//! [`custom_resource_cells`] instead; [`columns`] for an unknown kind gives their default table.
//!
//! Cells are always computed for every column, including the priority-1 ("wide") ones: the real
//! server does the same and leaves hiding them to kubectl.

mod access;
mod cluster;
mod custom;
mod duration;
mod fields;
mod jsonpath;
mod network;
mod pod;
mod selector;
mod storage;
mod workloads;

use jiff::Timestamp;
use serde_json::Value;

pub use custom::{
    CustomColumn, custom_resource_cells, custom_resource_column_definitions,
    custom_resource_columns,
};
pub use duration::human_duration;
pub use jsonpath::{JsonPath, JsonPathError};
pub use selector::SelectorError;

/// One column of a `meta.k8s.io/v1` Table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    /// One of `string`, `integer`, `number`, `boolean`, `date`.
    pub type_: &'static str,
    /// `name` for the object-name column, otherwise empty.
    pub format: &'static str,
    pub description: &'static str,
    /// 0 is always shown; 1 only with `-o wide`.
    pub priority: i32,
}

impl Column {
    pub(crate) const fn new(
        name: &'static str,
        type_: &'static str,
        description: &'static str,
    ) -> Self {
        Column {
            name,
            type_,
            format: "",
            description,
            priority: 0,
        }
    }

    /// A column kubectl shows only with `-o wide`.
    pub(crate) const fn wide(
        name: &'static str,
        type_: &'static str,
        description: &'static str,
    ) -> Self {
        Column {
            name,
            type_,
            format: "",
            description,
            priority: 1,
        }
    }
}

/// The `Name` column every table starts with.
pub(crate) const NAME: Column = Column {
    name: "Name",
    type_: "string",
    format: "name",
    description: "Name of the object, unique within its namespace.",
    priority: 0,
};

/// The `Age` column: time since `metadata.creationTimestamp`, already rendered by the server.
pub(crate) const AGE: Column = Column::new(
    "Age",
    "string",
    "Time since the object was created (metadata.creationTimestamp).",
);

/// The `Created At` column of the apiserver's default table, used by kinds without a printer.
pub(crate) const CREATED_AT: Column = Column::new(
    "Created At",
    "date",
    "When the object was created (metadata.creationTimestamp), RFC 3339 in UTC.",
);

/// The `Age` column custom resources get when their definition names no printer columns.
const CUSTOM_RESOURCE_AGE: Column = Column::new(
    "Age",
    "date",
    "Time since the object was created (metadata.creationTimestamp).",
);

type CellsFn = fn(&Value, Timestamp) -> Vec<Value>;

/// The printer of one kind: its column definitions and how one object becomes one row.
pub(crate) struct Printer {
    pub(crate) columns: &'static [Column],
    pub(crate) cells: CellsFn,
}

/// Kinds the apiserver serves with its default table (Name, Created At).
const DEFAULT_TABLE: Printer = Printer {
    columns: &[NAME, CREATED_AT],
    cells: name_and_created_at,
};

/// Kinds unknown here are assumed to be custom resources without printer columns: Name, Age.
const CUSTOM_RESOURCE: Printer = Printer {
    columns: &[NAME, CUSTOM_RESOURCE_AGE],
    cells: name_and_age,
};

fn name_and_created_at(obj: &Value, _now: Timestamp) -> Vec<Value> {
    vec![fields::name(obj).into(), fields::created_at(obj).into()]
}

fn name_and_age(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![fields::name(obj).into(), fields::age(obj, now).into()]
}

fn printer(group: &str, plural: &str) -> &'static Printer {
    let found = match group {
        "" => cluster::core_printer(plural)
            .or_else(|| workloads::core_printer(plural))
            .or_else(|| network::core_printer(plural))
            .or_else(|| storage::core_printer(plural)),
        "apps" | "batch" | "autoscaling" | "policy" => workloads::printer(group, plural),
        "networking.k8s.io" | "discovery.k8s.io" => network::printer(group, plural),
        "storage.k8s.io" => storage::printer(plural),
        "events.k8s.io" | "coordination.k8s.io" | "scheduling.k8s.io" | "node.k8s.io" => {
            cluster::printer(group, plural)
        }
        "apiextensions.k8s.io" if plural == "customresourcedefinitions" => Some(&DEFAULT_TABLE),
        _ => access::printer(group, plural),
    };
    found.unwrap_or(&CUSTOM_RESOURCE)
}

/// The columns the server returns for `group`/`plural` (`""` is the core group).
pub fn columns(group: &str, plural: &str) -> Vec<Column> {
    printer(group, plural).columns.to_vec()
}

/// One row's cells for `obj`, one per entry of [`columns`] for the same kind. `now` is the clock
/// the ages are measured against. Odd or incomplete objects give placeholder cells, never a panic.
pub fn cells(group: &str, plural: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    let printer = printer(group, plural);
    let mut row = (printer.cells)(obj, now);
    // A printer and its column list are written side by side; this keeps a slip from producing a
    // row kubectl would reject.
    row.resize(printer.columns.len(), Value::Null);
    row
}

/// The `columnDefinitions` array of a Table.
pub fn to_json_column_definitions(cols: &[Column]) -> Value {
    Value::Array(
        cols.iter()
            .map(|c| {
                serde_json::json!({
                    "name": c.name,
                    "type": c.type_,
                    "format": c.format,
                    "description": c.description,
                    "priority": c.priority,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests;
