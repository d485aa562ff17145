//! Parameter × seed campaigns (`spikesim sweep SWEEP.toml`): a base config,
//! axes over any `--set` key (a grid of every combination, and lists
//! zipped together) and seeds, expanded into runs that are each checked
//! before any starts.
//!
//! ```toml
//! base = "../experiments/seed-demo.toml"   # relative to the sweep file
//! set = ["stimulus.images=4"]               # the same for every run
//! seeds = { from = 1, count = 5 }           # or a list: [1, 2, 3]
//! threads = 1                               # each run's worker threads
//!
//! [grid]                                    # every combination
//! "layers.hidden.threshold.global.target" = [0.5, 1.0, 2.0]
//! "layers.hidden.threshold.global.eta" = [0.01, 0.02]
//!
//! [zip]                                     # equal lengths, taken together
//! "layers.hidden.tau_v_ms" = [10.0, 20.0]
//! "layers.hidden.tau_j_ms" = [5.0, 10.0]
//! ```
//!
//! Each run writes `<name>.h5`, `name` the FNV-1a digest of its resolved
//! config (threads left out), so the same run has the same file whatever
//! the order of the axes or the `--jobs`: a later invocation finds it,
//! skips it when complete and resumes it from its last resume point when
//! not.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

use crate::config::Config;
use crate::param::{deserialize_at, err};
use crate::{ConfigError, resume};

/// A sweep file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    /// The base config, relative to the sweep file's folder.
    base: PathBuf,
    /// `KEY=VALUE` overrides of every run.
    #[serde(default)]
    set: Vec<String>,
    /// The seeds (`simulation.seed`) of every point; default: the base's.
    #[serde(default)]
    seeds: Option<Seeds>,
    /// Worker threads of each run (default 1).
    #[serde(default = "one")]
    threads: usize,
    /// Axes of which every combination runs.
    #[serde(default)]
    grid: IndexMap<String, Vec<toml::Value>>,
    /// Axes of equal length, their `k`-th values run together.
    #[serde(default)]
    zip: IndexMap<String, Vec<toml::Value>>,
}

fn one() -> usize {
    1
}

/// Seeds as a list or a range.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Seeds {
    /// These seeds.
    List(Vec<u64>),
    /// `from, from + 1, …, from + count − 1`.
    Range {
        /// First seed.
        from: u64,
        /// Number of seeds, ≥ 1.
        count: u64,
    },
}

/// One run of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// File stem: the digest of the resolved config, 16 hex digits.
    pub name: String,
    /// The axis values of this run, `(key, value as TOML)`, in axis order.
    pub params: Vec<(String, String)>,
    /// Its seed.
    pub seed: u64,
    /// Every `--set` of the run, the file's `set` first.
    pub overrides: Vec<String>,
}

/// A checked campaign: every run's config resolved and valid.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The base config.
    pub base: PathBuf,
    /// Axis keys, grid then zip.
    pub axes: Vec<String>,
    /// The runs, grid axes varying slowest (last fastest), then zip rows,
    /// then seeds.
    pub runs: Vec<Run>,
    /// Worker threads of each run.
    pub threads: usize,
}

/// Reads and checks the sweep file at `path`: an error is one line naming
/// the file and the key (an empty axis, zipped axes of unequal length, a
/// key on two axes, or the first run whose config does not resolve, with
/// the config's own message).
pub fn plan(path: &Path) -> Result<Plan, ConfigError> {
    let name = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read sweep file {name}: {e}")))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError(format!("{name}: {}", e.message())))?;
    let file: SweepFile = deserialize_at(toml::Value::Table(table), "")
        .map_err(|e| ConfigError(format!("{name}: {}", e.0)))?;
    let here = |e: ConfigError| ConfigError(format!("{name}: {}", e.0));
    check_axes(&file).map_err(here)?;
    let base = path.parent().unwrap_or(Path::new("")).join(&file.base);
    let seeds: Vec<Option<u64>> = match &file.seeds {
        None => vec![None],
        Some(Seeds::List(s)) if s.is_empty() => {
            return Err(here(ConfigError("seeds: an empty list".into())));
        }
        Some(Seeds::List(s)) => s.iter().copied().map(Some).collect(),
        Some(Seeds::Range { count: 0, .. }) => {
            return Err(here(ConfigError("seeds.count: at least 1".into())));
        }
        Some(Seeds::Range { from, count }) => (0..*count)
            .map(|k| from.checked_add(k).map(Some))
            .collect::<Option<_>>()
            .ok_or_else(|| here(ConfigError("seeds: past 2^64".into())))?,
    };
    let mut runs = Vec::new();
    for point in points(&file) {
        for &seed in &seeds {
            let mut overrides = file.set.clone();
            overrides.extend(point.iter().map(|(k, v)| format!("{k}={v}")));
            overrides.extend(seed.map(|s| format!("simulation.seed={s}")));
            overrides.push(format!("simulation.threads={}", file.threads));
            let config = Config::load(&base, &overrides).map_err(|e| {
                let mut at: Vec<String> = point.iter().map(|(k, v)| format!("{k}={v}")).collect();
                at.extend(seed.map(|s| format!("seed={s}")));
                let run = if at.is_empty() {
                    String::new()
                } else {
                    format!("run {}: ", at.join(" "))
                };
                ConfigError(format!("{name}: {run}{}", e.0))
            })?;
            runs.push(Run {
                name: run_name(&config),
                params: point.clone(),
                seed: config.simulation.seed,
                overrides,
            });
        }
    }
    Ok(Plan {
        base,
        axes: file.grid.keys().chain(file.zip.keys()).cloned().collect(),
        runs,
        threads: file.threads,
    })
}

/// Refuses empty axes, zipped axes of unequal length, and a key on two
/// axes or an axis over the seed where `seeds` is given.
fn check_axes(file: &SweepFile) -> Result<(), ConfigError> {
    for (table, axes) in [("grid", &file.grid), ("zip", &file.zip)] {
        for (key, values) in axes {
            if values.is_empty() {
                return err(format!("{table}.\"{key}\": an empty axis"));
            }
        }
    }
    if let Some((k0, v0)) = file.zip.first()
        && let Some((k, v)) = file.zip.iter().find(|(_, v)| v.len() != v0.len())
    {
        return err(format!(
            "zip.\"{k}\": {} values, but zip.\"{k0}\" has {}; zipped axes have equal lengths",
            v.len(),
            v0.len()
        ));
    }
    if let Some(k) = file.grid.keys().find(|k| file.zip.contains_key(*k)) {
        return err(format!("\"{k}\": an axis of both grid and zip"));
    }
    if file.seeds.is_some()
        && let Some(k) = file
            .grid
            .keys()
            .chain(file.zip.keys())
            .find(|k| *k == "simulation.seed")
    {
        return err(format!(
            "\"{k}\": an axis over the seed; give seeds = [...] instead"
        ));
    }
    if file.threads > 1024 {
        return err(format!("threads: at most 1024, not {}", file.threads));
    }
    Ok(())
}

/// Every point of the axes: each combination of the grid's values (the
/// last axis fastest), with each row of the zipped axes.
fn points(file: &SweepFile) -> Vec<Vec<(String, String)>> {
    let mut points: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (key, values) in &file.grid {
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push((key.clone(), v.to_string()));
                    q
                })
            })
            .collect();
    }
    let rows = file.zip.first().map_or(1, |(_, v)| v.len());
    points
        .into_iter()
        .flat_map(|p| {
            (0..rows).map(move |r| {
                let mut q = p.clone();
                q.extend(file.zip.iter().map(|(k, v)| (k.clone(), v[r].to_string())));
                q
            })
        })
        .collect()
}

/// The file stem of a run of `config`: the FNV-1a digest of its resolved
/// TOML with the thread count left out (it changes no result).
fn run_name(config: &Config) -> String {
    let mut c = config.clone();
    c.simulation.threads = 1;
    format!("{:016x}", resume::fnv1a(c.to_toml().as_bytes()))
}

/// The file of `run` in `dir`.
pub fn run_file(dir: &Path, run: &Run) -> PathBuf {
    dir.join(format!("{}.h5", run.name))
}

/// What became of a run in one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// It ran to its end now (`resumed`: from an earlier invocation's
    /// resume point).
    Complete {
        /// Whether it continued an interrupted file.
        resumed: bool,
    },
    /// Its file was complete already.
    Skipped,
    /// The run failed: its exit code and the last line it printed.
    Failed(i32, String),
    /// Stopped by a signal; its file keeps a resume point.
    Interrupted,
}

impl Status {
    /// The index's word for it.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Complete { resumed: false } => "complete",
            Status::Complete { resumed: true } => "resumed",
            Status::Skipped => "skipped",
            Status::Failed(..) => "failed",
            Status::Interrupted => "interrupted",
        }
    }
}

/// A run's outcome: its status and wall time in this invocation.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// What became of it.
    pub status: Status,
    /// Wall seconds of this invocation's process (0 when skipped).
    pub wall_s: f64,
}

/// How the runs of a plan are carried out.
pub struct Execution<'a> {
    /// The `spikesim` binary that runs each (`spikesim run`).
    pub exe: &'a Path,
    /// Folder of the runs' files, logs and index.
    pub dir: &'a Path,
    /// Runs at a time.
    pub jobs: usize,
    /// `--checkpoint-every` of each run (s).
    pub checkpoint_every: f64,
}

impl Execution<'_> {
    /// Runs every run of `plan` not complete yet, `jobs` at a time, each as
    /// its own `spikesim run` process writing `<name>.h5` and its messages
    /// to `<name>.log`: a new run from the base config, or `--resume` of an
    /// incomplete file with a resume point (one without is run anew).
    /// `done(k, outcome)` is called as run `k` ends. Once `stop()` is true
    /// no run starts, and the running ones get SIGINT (they write a resume
    /// point and stop).
    pub fn run(
        &self,
        plan: &Plan,
        stop: &(dyn Fn() -> bool + Sync),
        done: &(dyn Fn(usize, &Outcome) + Sync),
    ) -> Vec<Outcome> {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let outcomes = std::sync::Mutex::new(vec![None; plan.runs.len()]);
        std::thread::scope(|s| {
            for _ in 0..self.jobs.max(1) {
                s.spawn(|| {
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if k >= plan.runs.len() || stop() {
                            break;
                        }
                        let o = self.one(plan, &plan.runs[k], stop);
                        done(k, &o);
                        outcomes.lock().expect("no panic")[k] = Some(o);
                    }
                });
            }
        });
        outcomes
            .into_inner()
            .expect("no panic")
            .into_iter()
            .map(|o| {
                o.unwrap_or(Outcome {
                    status: Status::Interrupted,
                    wall_s: 0.0,
                })
            })
            .collect()
    }

    /// Carries out one run.
    fn one(&self, plan: &Plan, run: &Run, stop: &(dyn Fn() -> bool + Sync)) -> Outcome {
        let file = run_file(self.dir, run);
        let mut args: Vec<std::ffi::OsString> = vec!["run".into()];
        let mut resumed = false;
        if file.exists() {
            if crate::record::inspect::summarize(&file).is_ok_and(|s| s.complete) {
                return Outcome {
                    status: Status::Skipped,
                    wall_s: 0.0,
                };
            }
            resumed = resume::open(&file).is_ok();
        }
        if resumed {
            args.extend(["--resume".into(), file.clone().into()]);
        } else {
            args.extend([
                plan.base.clone().into(),
                "-o".into(),
                file.clone().into(),
                "--force".into(),
            ]);
            for o in &run.overrides {
                args.extend(["--set".into(), o.into()]);
            }
        }
        args.extend([
            "--checkpoint-every".into(),
            self.checkpoint_every.to_string().into(),
        ]);
        let log = self.dir.join(format!("{}.log", run.name));
        let started = std::time::Instant::now();
        let child = std::fs::File::create(&log).and_then(|log| {
            std::process::Command::new(self.exe)
                .args(&args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
        });
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                return Outcome {
                    status: Status::Failed(-1, format!("cannot start {}: {e}", self.exe.display())),
                    wall_s: 0.0,
                };
            }
        };
        let mut signalled = false;
        let code = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status.code().unwrap_or(-1),
                Ok(None) => {}
                Err(_) => break -1,
            }
            if stop() && !signalled {
                // SAFETY: kill(2) on our own child's pid runs no code here.
                unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
                signalled = true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let wall_s = started.elapsed().as_secs_f64();
        let status = match code {
            0 => Status::Complete { resumed },
            c if signalled || c > 128 => Status::Interrupted,
            c => {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let last = text.lines().rev().find(|l| !l.trim().is_empty());
                Status::Failed(c, last.unwrap_or("").to_owned())
            }
        };
        Outcome { status, wall_s }
    }
}

/// One row of the index: a run's parameters, outcome and key results.
fn index_row(run: &Run, o: &Outcome, dir: &Path, layers: &[String]) -> Vec<String> {
    let summary = crate::record::inspect::summarize(&run_file(dir, run)).ok();
    let mut row = vec![
        run.name.clone(),
        o.status.word().to_owned(),
        run.seed.to_string(),
    ];
    row.extend(run.params.iter().map(|(_, v)| v.clone()));
    row.push(format!("{:.3}", o.wall_s));
    row.push(
        summary
            .as_ref()
            .map(|s| s.steps_done.unwrap_or(s.steps).to_string())
            .unwrap_or_default(),
    );
    for l in layers {
        let rate = summary
            .as_ref()
            .and_then(|s| s.layers.iter().find(|x| &x.name == l))
            .map(|x| format!("{:.6}", x.mean_rate_hz));
        row.push(rate.unwrap_or_default());
    }
    let accuracy = summary.as_ref().and_then(|s| {
        s.datasets
            .iter()
            .find(|d| d.path == "results/evaluate/accuracy")
            .and_then(|d| d.value.clone())
    });
    row.push(accuracy.unwrap_or_default());
    row.push(match &o.status {
        Status::Failed(code, line) => format!("exit {code}: {line}"),
        _ => String::new(),
    });
    row
}

/// Writes `dir/index.csv`: one row per run (name, status, seed, each axis,
/// wall_s, steps_done, the mean rate of each spike layer, the accuracy of
/// a protocol run, and a failure's message), and the same columns as
/// datasets of `dir/index.h5` (numbers as float64, NaN where empty; text
/// as strings). Each is written to a temporary name and renamed, so a
/// reader never sees half of one.
pub fn write_index(plan: &Plan, outcomes: &[Outcome], dir: &Path) -> std::io::Result<PathBuf> {
    let layers: Vec<String> = plan
        .runs
        .iter()
        .find_map(|r| crate::record::inspect::summarize(&run_file(dir, r)).ok())
        .map(|s| s.layers.iter().map(|l| l.name.clone()).collect())
        .unwrap_or_default();
    let mut header = vec!["name".to_owned(), "status".into(), "seed".into()];
    header.extend(plan.axes.iter().cloned());
    header.extend(["wall_s".into(), "steps_done".into()]);
    header.extend(layers.iter().map(|l| format!("rate_hz.{l}")));
    header.extend(["accuracy".into(), "message".into()]);
    let rows: Vec<Vec<String>> = plan
        .runs
        .iter()
        .zip(outcomes)
        .map(|(run, o)| index_row(run, o, dir, &layers))
        .collect();
    let mut text = csv_line(&header);
    rows.iter().for_each(|r| text.push_str(&csv_line(r)));
    let path = dir.join("index.csv");
    let part = dir.join("index.csv.part");
    std::fs::write(&part, text)?;
    std::fs::rename(&part, &path)?;
    let h5 = dir.join("index.h5");
    let h5_part = dir.join("index.h5.part");
    write_h5_columns(&h5_part, &header, &rows).map_err(|e| std::io::Error::other(e.to_string()))?;
    std::fs::rename(&h5_part, &h5)?;
    Ok(path)
}

/// The index's columns as datasets of a new HDF5 file at `path`: a column
/// whose fields all read as numbers (or are empty) as float64 (NaN where
/// empty), the others as strings; `name`, `status` and `message` always
/// as strings.
fn write_h5_columns(path: &Path, header: &[String], rows: &[Vec<String>]) -> hdf5::Result<()> {
    let file = hdf5::File::create(path)?;
    for (c, key) in header.iter().enumerate() {
        let fields: Vec<&str> = rows.iter().map(|r| r[c].as_str()).collect();
        let numbers: Option<Vec<f64>> = fields
            .iter()
            .map(|f| {
                if f.is_empty() {
                    Some(f64::NAN)
                } else {
                    f.parse().ok()
                }
            })
            .collect();
        match numbers.filter(|_| !["name", "status", "message"].contains(&key.as_str())) {
            Some(x) => file
                .new_dataset_builder()
                .with_data(&x)
                .create(key.as_str())?,
            None => {
                let text: Vec<_> = fields
                    .iter()
                    .map(|f| crate::record::hdf5::h5_string(f))
                    .collect();
                file.new_dataset_builder()
                    .with_data(&text)
                    .create(key.as_str())?
            }
        };
    }
    Ok(())
}

/// A CSV line (RFC 4180: a field with a comma, quote or line break is
/// quoted, its quotes doubled).
fn csv_line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect();
    quoted.join(",") + "\n"
}
