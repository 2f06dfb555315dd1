//! What an export of a file did, added up over its jobs: a line for each failed record as its
//! job ends (so a file of any size is reported without holding its results), and the counts
//! table printed at the end.

use comfy_table::{presets, CellAlignment, Table};
use serde_json::Value;

use super::text_of;
use crate::export::job::Effect;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failed: u64,
    pub jobs: u64,
    /// Records never sent because an earlier job failed as a whole.
    pub not_sent: u64,
    /// Why the export stopped before the end of the file.
    pub stopped: Option<String>,
}

impl Summary {
    /// Adds one job's results (the contract's `Result`s); returns a line for each failed
    /// record with its reason.
    pub fn add_job(&mut self, results: &[Value]) -> String {
        self.jobs += 1;
        let mut failures = String::new();
        for result in results {
            match result["action"].as_str().and_then(Effect::parse) {
                Some(Effect::Created) => self.created += 1,
                Some(Effect::Updated) => self.updated += 1,
                Some(Effect::Skipped) => self.skipped += 1,
                Some(Effect::Failed) | None => {
                    self.failed += 1;
                    failures.push_str(&failure_line(result));
                }
            }
        }
        failures
    }

    /// The export stops: a job failed as a whole and `not_sent` records were not sent.
    pub fn stop(&mut self, why: String, not_sent: u64) {
        self.stopped = Some(why);
        self.not_sent = not_sent;
    }

    /// Records with a result.
    pub fn records(&self) -> u64 {
        self.created + self.updated + self.skipped + self.failed
    }

    /// Every record of the file was exported (or, in a dry run, would be).
    pub fn succeeded(&self) -> bool {
        self.failed == 0 && self.not_sent == 0
    }

    /// The counts per action, then how many jobs, and why the export stopped if it did.
    pub fn table(&self) -> String {
        let mut table = Table::new();
        table.load_style(presets::ASCII_FULL_CONDENSED);
        table.set_header(["action", "records"]);
        let mut rows = vec![
            (Effect::Created.as_str(), self.created),
            (Effect::Updated.as_str(), self.updated),
            (Effect::Skipped.as_str(), self.skipped),
            (Effect::Failed.as_str(), self.failed),
        ];
        if self.not_sent > 0 {
            rows.push(("not sent", self.not_sent));
        }
        rows.push(("total", self.records() + self.not_sent));
        for (action, count) in rows {
            table.add_row([action.to_owned(), count.to_string()]);
        }
        if let Some(column) = table.column_mut(1) {
            column.set_cell_alignment(CellAlignment::Right);
        }
        let mut out = format!("{table}\n");
        if self.jobs > 1 {
            out.push_str(&format!("in {} jobs\n", self.jobs));
        }
        if let Some(why) = &self.stopped {
            out.push_str(&format!("stopped: {why}\n"));
        }
        out
    }
}

fn failure_line(result: &Value) -> String {
    let error = &result["error"];
    let property = error["property"]
        .as_str()
        .map(|p| format!(" [{p}]"))
        .unwrap_or_default();
    format!(
        "failed {}: {}{property}: {}\n",
        text_of(&result["ref"]),
        text_of(&error["code"]),
        text_of(&error["message"])
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn counts_add_up_over_jobs_and_failures_are_listed_as_they_come() {
        let mut summary = Summary::default();
        let failures = summary.add_job(&[
            json!({"ref": "r1", "action": "created", "id": "1"}),
            json!({"ref": "r2", "action": "failed", "error": {"code": "invalid_value", "message": "not an email", "property": "email"}}),
        ]);
        assert_eq!(failures, "failed r2: invalid_value [email]: not an email\n");
        let failures = summary.add_job(&[
            json!({"ref": "r3", "action": "skipped", "reason": "unchanged"}),
            json!({"ref": "r4", "action": "updated", "id": "2"}),
        ]);
        assert_eq!(failures, "");
        assert!(!summary.succeeded());
        summary.stop("job 2 failed (missing_scopes: ...)".into(), 5);
        assert_eq!(summary.records(), 4);
        assert_eq!(
            summary.table(),
            "\
+----------+---------+
| action   | records |
+====================+
| created  |       1 |
| updated  |       1 |
| skipped  |       1 |
| failed   |       1 |
| not sent |       5 |
| total    |       9 |
+----------+---------+
in 2 jobs
stopped: job 2 failed (missing_scopes: ...)
"
        );
    }
}
