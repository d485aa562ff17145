//! The summary as text: the status line and the tables `spikesim inspect`
//! prints.

use std::fmt;

use super::Summary;
use crate::record::schema;

/// `x` with at most 6 decimals and no trailing zeros: 1.7000000000000002 -> "1.7".
pub(super) fn short_float(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// One section after a blank line: `title: empty` without rows, else
/// `title (counted)` and the table. `columns` are (header, right-aligned).
fn write_section(
    f: &mut fmt::Formatter<'_>,
    (title, empty, counted): (&str, &str, String),
    columns: &[(&str, bool)],
    rows: Vec<Vec<String>>,
) -> fmt::Result {
    writeln!(f)?;
    if rows.is_empty() {
        return writeln!(f, "{title}: {empty}");
    }
    writeln!(f, "{title} ({counted})")?;
    let headers: Vec<&str> = columns.iter().map(|c| c.0).collect();
    let right: Vec<bool> = columns.iter().map(|c| c.1).collect();
    write_table(f, &headers, &right, &rows)
}

/// Writes an indented table; `right[i]` right-aligns column `i` (numbers).
fn write_table(
    f: &mut fmt::Formatter<'_>,
    headers: &[&str],
    right: &[bool],
    rows: &[Vec<String>],
) -> fmt::Result {
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([headers[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::from(" ");
        for (c, cell) in row.iter().enumerate() {
            let w = widths[c];
            if right[c] {
                line.push_str(&format!(" {cell:>w$}"));
            } else {
                line.push_str(&format!(" {cell:<w$}"));
            }
            line.push(' ');
        }
        writeln!(f, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `n thing` or `n things`.
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("{n} {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

impl Summary {
    /// The completion status as one line: `complete: yes`, `complete: no
    /// (stopped after N of M steps: reason)`, or, for a file whose writer never
    /// ended, `complete: no (interrupted, or still being written)`.
    pub fn status_line(&self) -> String {
        if self.complete {
            return "complete: yes".to_owned();
        }
        let Some(done) = self.steps_done else {
            return "complete: no (interrupted, or still being written)".to_owned();
        };
        let stopped = format!("stopped after {done} of {} steps", self.steps);
        match &self.error {
            Some(reason) => format!("complete: no ({stopped}: {})", reason.replace('\n', " ")),
            None => format!("complete: no ({stopped})"),
        }
    }
}

impl fmt::Display for Summary {
    /// A readable multi-line text: the completion status, header attributes,
    /// the duration, a table of spike layers (name, neurons, spikes, mean rate
    /// in Hz), then the traces, rates, weight snapshots and samples, and last
    /// (where the file has any) the datasets below `/results` and `/state`:
    /// scalars as `path = value`, arrays as `path  dtype [shape]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.status_line())?;
        writeln!(f)?;
        // The status line already says these.
        let shown = [
            schema::ATTR_COMPLETE,
            schema::ATTR_STEPS_DONE,
            schema::ATTR_ERROR,
        ];
        let duration = ("duration_ms".to_owned(), short_float(self.duration_ms));
        let lines: Vec<&(String, String)> = self
            .attrs
            .iter()
            .filter(|(k, _)| !shown.contains(&k.as_str()))
            .chain([&duration])
            .collect();
        let key_width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in lines {
            writeln!(f, "{key:<key_width$}  {value}")?;
        }

        let layers = self.layers.iter().map(|l| {
            let rate = format!("{:.2}", l.mean_rate_hz);
            vec![
                l.name.clone(),
                l.n_nodes.to_string(),
                l.n_spikes.to_string(),
                rate,
            ]
        });
        write_section(
            f,
            (
                "spikes",
                "no layers recorded",
                count(self.layers.len(), "layer"),
            ),
            &[
                ("layer", false),
                ("neurons", true),
                ("spikes", true),
                ("mean rate (Hz)", true),
            ],
            layers.collect(),
        )?;
        let traces = self.traces.iter().map(|t| {
            let (n, frames) = (t.n_recorded.to_string(), t.n_frames.to_string());
            vec![t.layer.clone(), t.var.clone(), n, frames, t.units.clone()]
        });
        write_section(
            f,
            ("traces", "none recorded", self.traces.len().to_string()),
            &[
                ("layer", false),
                ("variable", false),
                ("neurons", true),
                ("frames", true),
                ("units", false),
            ],
            traces.collect(),
        )?;
        let rates = self.rates.iter().map(|r| {
            let (n, bins) = (r.n_nodes.to_string(), r.bins.to_string());
            vec![r.layer.clone(), n, bins, short_float(r.bin_ms)]
        });
        write_section(
            f,
            ("rates", "none recorded", count(self.rates.len(), "layer")),
            &[
                ("layer", false),
                ("neurons", true),
                ("bins", true),
                ("bin (ms)", true),
            ],
            rates.collect(),
        )?;
        let weights = self.weights.iter().map(|w| {
            let (n, snaps) = (w.synapses.to_string(), w.snapshots.to_string());
            vec![
                w.projection.clone(),
                format!("{} -> {}", w.pre, w.post),
                n,
                snaps,
            ]
        });
        write_section(
            f,
            (
                "weights",
                "none recorded",
                count(self.weights.len(), "projection"),
            ),
            &[
                ("projection", false),
                ("pre -> post", false),
                ("synapses", true),
                ("snapshots", true),
            ],
            weights.collect(),
        )?;

        writeln!(f)?;
        match &self.samples {
            None => writeln!(f, "samples: none recorded")?,
            Some(s) => {
                let layers = if s.layers.is_empty() {
                    "no per-neuron counts".to_owned()
                } else {
                    format!("counts of {}", s.layers.join(", "))
                };
                writeln!(f, "samples: {} from {} ({layers})", s.count, s.dataset)?;
            }
        }

        // Files without results or state (all but trained runs) end above.
        if !self.datasets.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "results and state ({})",
                count(self.datasets.len(), "dataset")
            )?;
            for d in &self.datasets {
                match &d.value {
                    Some(value) => writeln!(f, "  {} = {value}", d.path)?,
                    None => {
                        let dims: Vec<String> = d.shape.iter().map(u64::to_string).collect();
                        writeln!(f, "  {}  {} [{}]", d.path, d.dtype, dims.join(", "))?
                    }
                }
            }
        }
        Ok(())
    }
}
