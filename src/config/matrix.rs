//! `[matrices.<name>]`: many projections as one table — a matrix of values
//! with one row per post layer and one column per pre layer, as the
//! connectivity tables of the literature are printed (Potjans & Diesmann
//! 2014, Table 5). The matrix is expanded into ordinary
//! `[projections.<pre>_to_<post>]` before anything else reads the config,
//! so the stored config lists every projection it made.
//!
//! ```toml
//! [matrices.recurrent]
//! post = ["E", "I"]                 # rows
//! pre = ["E", "I"]                  # columns
//! cell = "connectivity.p"           # the key each value sets
//! values = [[0.1, 0.2],             # row E: E -> E, I -> E
//!           [0.3, 0.0]]             # row I: E -> I (0: no projection)
//! connectivity = { kind = "bernoulli" }   # any projection key, for every cell
//! [[matrices.recurrent.by_pre]]     # keys for the cells of some columns
//! pre = ["I"]
//! weights = { kind = "constant", value = -0.5 }
//! [[matrices.recurrent.cells]]      # keys for one cell
//! pre = "E"
//! post = "I"
//! weights = { kind = "constant", value = 0.2 }
//! ```
//!
//! A cell's projection is the matrix's common keys, then those of every
//! `by_pre` entry naming its column, then those of its `cells` entries,
//! then `pre`, `post` and the value at `cell`; a later table's key
//! replaces an earlier one's, and tables (as `connectivity`) are merged key
//! by key. A value of 0 makes no projection.

use crate::param::{ConfigError, err};

/// The keys of a matrix that are not projection keys.
const OWN_KEYS: [&str; 6] = ["post", "pre", "cell", "values", "by_pre", "cells"];

/// Replaces the `matrices` table of `table` (the whole config) by the
/// projections it describes, appended to `projections` row by row.
pub(crate) fn expand(table: &mut toml::Table) -> Result<(), ConfigError> {
    let Some(matrices) = table.remove("matrices") else {
        return Ok(());
    };
    let toml::Value::Table(matrices) = matrices else {
        return err("matrices: expected tables [matrices.<name>]");
    };
    let projections = table
        .entry("projections")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let toml::Value::Table(projections) = projections else {
        return err("projections: expected tables [projections.<name>]");
    };
    for (name, m) in &matrices {
        let key = |f: &str| format!("matrices.{name}.{f}");
        let toml::Value::Table(m) = m else {
            return err(format!("matrices.{name}: expected a table"));
        };
        let post = names(m, "post", &key("post"))?;
        let pre = names(m, "pre", &key("pre"))?;
        let Some(toml::Value::String(cell)) = m.get("cell") else {
            return err(format!(
                "{}: required, the dotted projection key each value sets (e.g. \"connectivity.p\")",
                key("cell")
            ));
        };
        let values = rows(m, &key("values"), post.len(), pre.len())?;
        let common: toml::Table = m
            .iter()
            .filter(|(k, _)| !OWN_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let by_pre = entries(m, "by_pre", &key("by_pre"))?;
        let cells = entries(m, "cells", &key("cells"))?;
        for (i, entry) in by_pre.iter().enumerate() {
            let k = format!("{}[{i}].pre", key("by_pre"));
            for p in names(entry, "pre", &k)? {
                known(&k, &p, &pre)?;
            }
        }
        for (i, entry) in cells.iter().enumerate() {
            for (f, axis) in [("pre", &pre), ("post", &post)] {
                let k = format!("{}[{i}].{f}", key("cells"));
                match entry.get(f) {
                    Some(toml::Value::String(s)) => known(&k, s, axis)?,
                    _ => return err(format!("{k}: required, a layer name of the matrix")),
                }
            }
        }
        for (r, post_name) in post.iter().enumerate() {
            for (c, pre_name) in pre.iter().enumerate() {
                let value = &values[r][c];
                if is_zero(value) {
                    continue;
                }
                let mut p = common.clone();
                for entry in &by_pre {
                    if names(entry, "pre", "")?.contains(pre_name) {
                        merge(&mut p, entry, &["pre"]);
                    }
                }
                for entry in &cells {
                    let is = |f: &str, n: &str| entry.get(f).and_then(|v| v.as_str()) == Some(n);
                    if is("pre", pre_name) && is("post", post_name) {
                        merge(&mut p, entry, &["pre", "post"]);
                    }
                }
                p.insert("pre".into(), toml::Value::String(pre_name.clone()));
                p.insert("post".into(), toml::Value::String(post_name.clone()));
                set_dotted(&mut p, cell, value.clone(), &key("cell"))?;
                let projection = format!("{pre_name}_to_{post_name}");
                if projections.contains_key(&projection) {
                    return err(format!(
                        "matrices.{name}: makes projection '{projection}', which already exists"
                    ));
                }
                projections.insert(projection, toml::Value::Table(p));
            }
        }
    }
    Ok(())
}

/// The list of layer names `m[field]`, whose key is `key`.
fn names(m: &toml::Table, field: &str, key: &str) -> Result<Vec<String>, ConfigError> {
    let list = match m.get(field) {
        Some(toml::Value::Array(a)) => a,
        _ => return err(format!("{key}: required, a list of layer names")),
    };
    list.iter()
        .map(|v| match v {
            toml::Value::String(s) => Ok(s.clone()),
            other => err(format!("{key}: expected layer names, got {other}")),
        })
        .collect()
}

/// `name` is one of `axis`.
fn known(key: &str, name: &str, axis: &[String]) -> Result<(), ConfigError> {
    if axis.iter().any(|a| a == name) {
        return Ok(());
    }
    err(format!(
        "{key}: '{name}' is not one of the matrix's layers: {}",
        axis.join(", ")
    ))
}

/// The `values` rows: `n_rows` lists of `n_cols` numbers.
fn rows(
    m: &toml::Table,
    key: &str,
    n_rows: usize,
    n_cols: usize,
) -> Result<Vec<Vec<toml::Value>>, ConfigError> {
    let shape = || format!("{n_rows} rows (post) of {n_cols} numbers (pre)");
    let Some(toml::Value::Array(rows)) = m.get("values") else {
        return err(format!("{key}: required, {}", shape()));
    };
    if rows.len() != n_rows {
        return err(format!("{key}: {} rows, expected {}", rows.len(), shape()));
    }
    rows.iter()
        .enumerate()
        .map(|(r, row)| match row {
            toml::Value::Array(row) if row.len() == n_cols => {
                for (c, v) in row.iter().enumerate() {
                    if !matches!(v, toml::Value::Integer(_) | toml::Value::Float(_)) {
                        return err(format!("{key}[{r}][{c}]: expected a number, got {v}"));
                    }
                }
                Ok(row.clone())
            }
            _ => err(format!(
                "{key}[{r}]: expected {n_cols} numbers (one per pre layer)"
            )),
        })
        .collect()
}

/// The tables of the array of tables `m[field]` (none if absent), whose
/// key is `key`.
fn entries(m: &toml::Table, field: &str, key: &str) -> Result<Vec<toml::Table>, ConfigError> {
    match m.get(field) {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                toml::Value::Table(t) => Ok(t.clone()),
                _ => err(format!("{key}[{i}]: expected a table")),
            })
            .collect(),
        Some(_) => err(format!("{key}: expected an array of tables [[{key}]]")),
    }
}

/// Whether a value is the number 0.
fn is_zero(v: &toml::Value) -> bool {
    match v {
        toml::Value::Integer(i) => *i == 0,
        toml::Value::Float(f) => *f == 0.0,
        _ => false,
    }
}

/// Copies the keys of `from` (except `skip`) into `into`, merging tables
/// key by key.
fn merge(into: &mut toml::Table, from: &toml::Table, skip: &[&str]) {
    for (k, v) in from {
        if skip.contains(&k.as_str()) {
            continue;
        }
        match (into.get_mut(k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b, &[]),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Sets the dotted key `path` of `t` to `value`, making tables on the way.
fn set_dotted(
    t: &mut toml::Table,
    path: &str,
    value: toml::Value,
    key: &str,
) -> Result<(), ConfigError> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or_default();
    let mut at = t;
    for p in parts {
        let next = at
            .entry(p)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(next) = next else {
            return err(format!("{key}: '{p}' of '{path}' is not a table"));
        };
        at = next;
    }
    if last.is_empty() {
        return err(format!("{key}: expected a dotted key, got '{path}'"));
    }
    at.insert(last.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matrix_becomes_one_projection_per_nonzero_cell() {
        let text = r#"
            [matrices.m]
            post = ["E", "I"]
            pre = ["E", "I"]
            cell = "connectivity.p"
            values = [[0.1, 0.2], [0.3, 0]]
            connectivity = { kind = "bernoulli" }
            weights = { kind = "constant", value = 1.0 }
            [[matrices.m.by_pre]]
            pre = ["I"]
            weights = { kind = "constant", value = -0.5 }
            [[matrices.m.cells]]
            pre = "E"
            post = "I"
            weights = { kind = "constant", value = 0.2 }
            delay = 3
        "#;
        let mut t: toml::Table = text.parse().unwrap();
        expand(&mut t).unwrap();
        assert!(!t.contains_key("matrices"));
        let p = t["projections"].as_table().unwrap();
        let names: Vec<&str> = p.keys().map(String::as_str).collect();
        assert_eq!(names, ["E_to_E", "I_to_E", "E_to_I"]);
        let want = |pre: &str, post: &str, p_: f64, w: f64, delay: Option<i64>| {
            let mut s = format!(
                "pre = \"{pre}\"\npost = \"{post}\"\nconnectivity = {{ kind = \"bernoulli\", p = {p_:?} }}\nweights = {{ kind = \"constant\", value = {w:?} }}\n"
            );
            if let Some(d) = delay {
                s += &format!("delay = {d}\n");
            }
            s.parse::<toml::Table>().unwrap()
        };
        assert_eq!(
            p["E_to_E"].as_table().unwrap(),
            &want("E", "E", 0.1, 1.0, None)
        );
        assert_eq!(
            p["I_to_E"].as_table().unwrap(),
            &want("I", "E", 0.2, -0.5, None)
        );
        assert_eq!(
            p["E_to_I"].as_table().unwrap(),
            &want("E", "I", 0.3, 0.2, Some(3))
        );
    }

    #[test]
    fn bad_matrices_are_named() {
        for (text, start) in [
            (
                "[matrices.m]\npost = [\"E\"]\npre = [\"E\"]\ncell = \"x\"\nvalues = [[1, 2]]",
                "matrices.m.values[0]: expected 1 numbers",
            ),
            (
                "[matrices.m]\npost = [\"E\"]\npre = [\"E\"]\nvalues = [[1]]",
                "matrices.m.cell: required",
            ),
            (
                "[matrices.m]\npost = [\"E\"]\npre = [\"E\"]\ncell = \"x\"\nvalues = [[1]]\n[[matrices.m.by_pre]]\npre = [\"Q\"]",
                "matrices.m.by_pre[0].pre: 'Q' is not one of",
            ),
            (
                "[matrices.m]\npost = [\"E\"]\npre = [\"E\"]\ncell = \"x\"\nvalues = [[\"a\"]]",
                "matrices.m.values[0][0]: expected a number",
            ),
        ] {
            let mut t: toml::Table = text.parse().unwrap();
            let e = expand(&mut t).unwrap_err().0;
            assert!(e.starts_with(start), "{e}");
        }
    }
}
