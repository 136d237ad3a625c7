//! The figures of one run, printed as they are measured and again as a table at the end.

/// One measured figure beside the goal it is compared with (never asserted).
pub struct Row {
    pub figure: String,
    pub value: String,
    pub goal: String,
}

#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
}

impl Report {
    pub fn add(
        &mut self,
        figure: impl Into<String>,
        value: impl Into<String>,
        goal: impl Into<String>,
    ) {
        let row = Row {
            figure: figure.into(),
            value: value.into(),
            goal: goal.into(),
        };
        println!(
            "  {:<58} {:>22}   (goal: {})",
            row.figure, row.value, row.goal
        );
        self.rows.push(row);
    }

    pub fn markdown(&self) -> String {
        let mut out = String::from("| Figure | Measured | Goal |\n|---|---:|---|\n");
        for r in &self.rows {
            out.push_str(&format!("| {} | {} | {} |\n", r.figure, r.value, r.goal));
        }
        out
    }
}
