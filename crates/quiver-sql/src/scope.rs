//! Name resolution: which column an identifier in the SQL refers to.

use quiver_types::{DataType, Schema};

use crate::plan::LogicalPlan;

/// A visible column of a relation: its qualifier (table name or alias) and name.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnRef {
    /// `t` in `t.a`.
    pub qualifier: Option<String>,
    /// The column name.
    pub name: String,
    /// Its type.
    pub data_type: DataType,
}

/// A bound relation: a plan plus what the query can call its columns.
#[derive(Debug, Clone)]
pub struct Relation {
    /// The plan producing the rows.
    pub plan: LogicalPlan,
    /// Visible columns, one per plan output column.
    pub columns: Vec<ColumnRef>,
    /// The visible column that holds the event time, if any.
    pub time_attr: Option<usize>,
    /// Visible columns that carry a GROUP BY key of the last aggregation.
    pub keys: Vec<usize>,
}

/// Why a name did not resolve to exactly one column.
pub enum Unresolved {
    /// No column has that name.
    Missing,
    /// Several columns have it.
    Ambiguous(Vec<String>),
}

impl Relation {
    /// A relation over `plan` whose columns are all qualified by `qualifier`.
    pub fn new(plan: LogicalPlan, qualifier: Option<&str>) -> Relation {
        let columns = plan
            .schema()
            .fields
            .iter()
            .map(|f| ColumnRef {
                qualifier: qualifier.map(str::to_string),
                name: f.name.clone(),
                data_type: f.data_type,
            })
            .collect();
        Relation {
            plan,
            columns,
            time_attr: None,
            keys: Vec::new(),
        }
    }

    /// Re-qualifies every column (a derived table or CTE used under an alias).
    pub fn with_qualifier(mut self, qualifier: &str) -> Relation {
        for c in &mut self.columns {
            c.qualifier = Some(qualifier.to_string());
        }
        self
    }

    /// Whether rows carry an event time.
    pub fn is_stream(&self) -> bool {
        self.plan.is_stream()
    }

    /// The plan's schema.
    pub fn schema(&self) -> &Schema {
        self.plan.schema()
    }

    /// Resolves `[qualifier.]name`. Quoted names match exactly; unquoted ones
    /// match exactly first, then ignoring ASCII case.
    pub fn resolve(
        &self,
        qualifier: Option<&str>,
        name: &str,
        quoted: bool,
    ) -> Result<usize, Unresolved> {
        let qual_ok = |c: &ColumnRef| match qualifier {
            None => true,
            Some(q) => c
                .qualifier
                .as_deref()
                .is_some_and(|cq| cq == q || (!quoted && cq.eq_ignore_ascii_case(q))),
        };
        let exact: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| qual_ok(c) && c.name == name)
            .map(|(i, _)| i)
            .collect();
        let found = if !exact.is_empty() || quoted {
            exact
        } else {
            self.columns
                .iter()
                .enumerate()
                .filter(|(_, c)| qual_ok(c) && c.name.eq_ignore_ascii_case(name))
                .map(|(i, _)| i)
                .collect()
        };
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(Unresolved::Missing),
            many => Err(Unresolved::Ambiguous(
                many.iter()
                    .map(|&i| {
                        let c = &self.columns[i];
                        match &c.qualifier {
                            Some(q) => format!("{q}.{}", c.name),
                            None => c.name.clone(),
                        }
                    })
                    .collect(),
            )),
        }
    }

    /// The visible column names, for "did you mean" hints.
    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }
}
