//! Named, typed columns.

use std::sync::Arc;

use arrow::datatypes::{Field as ArrowField, Schema as ArrowSchema, SchemaRef};

use crate::DataType;

/// A named, typed column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// Column name as written (lookups are case-insensitive, see [`Schema::index_of`]).
    pub name: String,
    /// Column type.
    pub data_type: DataType,
    /// Whether the column may hold NULL.
    pub nullable: bool,
}

impl Field {
    /// A nullable column.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Field {
        Field {
            name: name.into(),
            data_type,
            nullable: true,
        }
    }

    /// The Arrow field for this column.
    pub fn to_arrow(&self) -> ArrowField {
        ArrowField::new(&self.name, self.data_type.to_arrow(), self.nullable)
    }
}

/// An ordered list of columns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Schema {
    /// The columns, in order.
    pub fields: Vec<Field>,
}

impl Schema {
    /// A schema of the given columns.
    pub fn new(fields: Vec<Field>) -> Schema {
        Schema { fields }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there are no columns.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Finds a column by name: an exact match wins, else the one column whose
    /// name matches ignoring ASCII case (as SQL treats unquoted identifiers).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        if let Some(i) = self.fields.iter().position(|f| f.name == name) {
            return Some(i);
        }
        let mut found = self
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.name.eq_ignore_ascii_case(name));
        match (found.next(), found.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    /// The column called `name` (see [`Schema::index_of`]).
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.index_of(name).map(|i| &self.fields[i])
    }

    /// Column names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.fields.iter().map(|f| f.name.as_str()).collect()
    }

    /// The Arrow schema for this schema.
    pub fn to_arrow(&self) -> SchemaRef {
        Arc::new(ArrowSchema::new(
            self.fields.iter().map(Field::to_arrow).collect::<Vec<_>>(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_prefers_exact_then_unique_case_insensitive() {
        let s = Schema::new(vec![
            Field::new("Amount", DataType::Float64),
            Field::new("id", DataType::Int64),
        ]);
        assert_eq!(s.index_of("amount"), Some(0));
        assert_eq!(s.index_of("ID"), Some(1));
        let dup = Schema::new(vec![
            Field::new("a", DataType::Int64),
            Field::new("A", DataType::Int64),
        ]);
        assert_eq!(dup.index_of("A"), Some(1));
        assert_eq!(dup.index_of("a"), Some(0));
        assert_eq!(dup.index_of("b"), None);
    }
}
