//! An uploaded export file between its dry run and the admin's confirmation: kept in the
//! session (memory only), so confirming queues exactly the records that were reviewed.

use crate::export::file;
use crate::export::job::{Outcome, Row};
use crate::export::submit;
use crate::object::ObjectType;

#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: ObjectType,
    pub user_email: String,
    pub file_name: String,
    pub rows: Vec<Row>,
    /// The dry run's outcome of each row.
    pub outcomes: Vec<Outcome>,
}

/// The records of an uploaded CSV (or JSON Lines) file, read the way the CLI reads them.
pub fn rows(bytes: &[u8]) -> Result<Vec<Row>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_owned())?;
    let inputs = file::parse(text).map_err(|error| error.to_string())?;
    if inputs.is_empty() {
        return Err(
            "the file has no records (a CSV needs a header row and at least one record)".into(),
        );
    }
    submit::rows_of(&inputs)
}
