//! The `spikesim` binary: parses the command line, runs, and maps errors to
//! exit codes: 2 for bad input (config, dataset, output path; nothing is
//! written), 1 for a failure during the run (or a stdout that cannot be
//! written), 128 + the signal number when SIGINT, SIGTERM or SIGHUP stopped
//! it. A run that stops early keeps its file, marked `complete = 0` with the
//! steps done and the reason.
//!
//! Nothing here panics on a closed or full stdout or stderr: stdout is
//! written through [`print_out`], which turns a closed pipe into a quiet exit
//! 0 and any other error into `error:` and exit 1; stderr through [`note!`],
//! which ignores errors.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use spikesim::protocol;
use spikesim::record::output::{self, FileId};
use spikesim::record::{RecordError, inspect, layout, writer};
use spikesim::{
    Config, ConfigError, Error, Simulation, bench, footprint, os_memory, stimulus, sweep,
};

#[derive(Parser)]
#[command(
    name = "spikesim",
    version,
    about = "Spiking neural network simulator (LIF, Izhikevich and AdEx neurons, Bernoulli/Poisson encoders, HDF5 output)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Overrides {
    /// Override a config key, e.g. --set layers.hidden.size=400 (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Seed of every random stream, 0 to 2^63 - 1 (same as --set simulation.seed=N)
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads, 0 = all cores, at most 1024 (same as --set simulation.threads=N)
    #[arg(long)]
    threads: Option<usize>,
    /// Build the network even if its estimated memory exceeds what is available
    #[arg(long)]
    ignore_memory: bool,
}

impl Overrides {
    fn list(&self) -> Vec<String> {
        let mut v = self.set.clone();
        v.extend(self.seed.map(|s| format!("simulation.seed={s}")));
        v.extend(self.threads.map(|t| format!("simulation.threads={t}")));

        v
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a simulation and write its spikes and traces to an HDF5 file
    Run {
        /// TOML config file (with --resume: optional, and must be the run's)
        #[arg(required_unless_present = "resume")]
        config: Option<PathBuf>,
        /// Output file [default: runs/<config name>.h5]
        #[arg(long, short, conflicts_with = "resume")]
        out: Option<PathBuf>,
        /// Overwrite the output file if it exists
        #[arg(long, conflicts_with = "resume")]
        force: bool,
        /// Continue the interrupted run of this file from its last resume
        /// point, appending to it
        #[arg(long, value_name = "FILE")]
        resume: Option<PathBuf>,
        /// Seconds of wall time between resume points, which a stop by a
        /// signal also writes (0: no resume points)
        #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
        checkpoint_every: f64,
        /// Print the wall time of each stage of the step and of the writer
        #[arg(long)]
        timings: bool,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Check a config (and its dataset) without running it
    Validate {
        /// TOML config file
        config: PathBuf,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Run a campaign: a base config over axes of `--set` keys and seeds,
    /// one HDF5 file per run and an index.csv; a second invocation skips
    /// complete runs and resumes interrupted ones
    Sweep {
        /// Sweep file (TOML: base, set, seeds, threads, [grid], [zip])
        file: PathBuf,
        /// Runs at a time, each with the sweep file's `threads`
        #[arg(long, short, default_value_t = 1)]
        jobs: usize,
        /// Folder of the runs' files, logs and index [default: runs/<sweep file name>]
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Seconds of wall time between each run's resume points
        #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
        checkpoint_every: f64,
    },
    /// Summarize a run's HDF5 file: layers, spike counts, rates, traces
    Inspect {
        /// HDF5 file written by `spikesim run`
        file: PathBuf,
    },
    /// Time a scaling workload (W1: the seed network, W2: CUBA, W3: the
    /// Potjans-Diesmann microcircuit, W4: Brunel's model A) and print one
    /// `RESULT ...` line per repetition, in the benchmark peers' format
    Bench {
        /// Workload
        #[arg(value_enum)]
        workload: bench::Workload,
        /// LIF neurons (W1: hidden layer; W2: whole network, 80% excitatory;
        /// W3 and W4: not used)
        #[arg(long, default_value_t = 400)]
        neurons: usize,
        /// W3: N and K scaling of the microcircuit, in (0, 1] (1: 77,169 neurons)
        #[arg(long, default_value_t = 0.1)]
        scale: f64,
        /// W4: state of Brunel's network (12,500 neurons)
        #[arg(long, value_enum, ignore_case = true, default_value = "AI")]
        state: bench::BrunelState,
        /// Worker threads (0 = all cores)
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Repetitions (each builds the network anew)
        #[arg(long, default_value_t = 1)]
        reps: usize,
        /// W1 images (default 20)
        #[arg(long)]
        images: Option<usize>,
        /// Timed steps (default: W1 images × 250, W2 to W4 10,000 = 1 s)
        #[arg(long)]
        steps: Option<u64>,
        /// Untimed steps before the timed ones, out of every count (default:
        /// W3 and W4 1000 = 100 ms, as the NEST peers; W1 and W2 0)
        #[arg(long)]
        presim_steps: Option<u64>,
        /// Seed
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print the wall time of each stage of the step after each `RESULT`
        #[arg(long)]
        timings: bool,
        /// Accepted for the peers' command line; spikesim prints nothing else anyway
        #[arg(long)]
        quiet: bool,
    },
}

/// Why the program stops: the message and the exit code. An empty message
/// ([`Failure::quiet`]) stops without printing anything.
struct Failure(String, u8);

impl Failure {
    /// Stop quietly with exit code 0: whoever read stdout went away.
    fn quiet() -> Failure {
        Failure(String::new(), 0)
    }
}

/// Writes a line to stderr, ignoring errors (a closed terminal must not turn
/// a run's orderly end into a panic).
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Writes `text` to stdout and flushes it. A closed pipe (`spikesim inspect
/// x.h5 | head`) ends the program quietly with exit code 0, like `rg`; any
/// other error (a full disk) is a failure with exit code 1.
fn print_out(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => Failure::quiet(),
            _ => Failure(format!("cannot write to stdout: {e}"), 1),
        })
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(e.to_string(), 2)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            config,
            out,
            force,
            resume,
            checkpoint_every,
            timings,
            overrides,
        } => checkpoint_interval(checkpoint_every).and_then(|every| {
            let start = match resume {
                Some(file) => Start::Resume { file, config },
                None => Start::New {
                    config: config.expect("clap requires a config without --resume"),
                    out,
                    force,
                },
            };
            run(start, every, timings, &overrides)
        }),
        Command::Validate { config, overrides } => validate(&config, &overrides),
        Command::Bench {
            workload,
            neurons,
            scale,
            state,
            threads,
            reps,
            images,
            steps,
            presim_steps,
            seed,
            timings,
            quiet: _,
        } => {
            let o = bench::Options {
                workload,
                neurons,
                scale,
                state,
                threads,
                images,
                steps,
                presim_steps,
                seed,
                timings,
            };
            (0..reps).try_for_each(|_| {
                let m = bench::measure(&o)?;
                let mut text = format!("{}\n", m.result_line(&o));
                if let Some(t) = &m.timings {
                    text.push_str(&t.table());
                }
                print_out(&text)
            })
        }
        Command::Sweep {
            file,
            jobs,
            out,
            checkpoint_every,
        } => sweep(&file, jobs, out, checkpoint_every),
        Command::Inspect { file } => inspect::summarize(&file)
            .map_err(|e| Failure(e.to_string(), 2))
            .and_then(|s| print_out(&s.to_string())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg, code)) => {
            if !msg.is_empty() {
                note!("error: {msg}");
            }
            ExitCode::from(code)
        }
    }
}

/// Loads and validates the config, loads its images (and a protocol's
/// sets and checkpoint) and builds the network.
fn prepare(
    config_path: &Path,
    overrides: &Overrides,
) -> Result<(Config, Simulation, Option<protocol::Inputs>), Error> {
    let config = Config::load(config_path, &overrides.list())?;
    let (sim, inputs) = build(&config, &config_path.display().to_string(), overrides)?;
    Ok((config, sim, inputs))
}

/// Builds the network of `config` (named `what` in errors) and loads what
/// it reads, after checking that its estimated memory fits.
fn build(
    config: &Config,
    what: &str,
    overrides: &Overrides,
) -> Result<(Simulation, Option<protocol::Inputs>), Error> {
    // Refuse before anything large is allocated.
    let need = footprint::estimate(config);
    if let Some(free) = os_memory::available()
        && need > free
        && !overrides.ignore_memory
    {
        return Err(ConfigError(format!(
            "{what}: the run needs an estimated {} of memory and {} is available; make the network smaller, or pass --ignore-memory to try anyway",
            os_memory::human(need),
            os_memory::human(free)
        ))
        .into());
    }
    let inputs = protocol::load(config)?;
    let images = match &config.stimulus {
        Some(s) => {
            let (images, note) = stimulus::load_images(s, config.simulation.seed)?;
            if let Some(text) = note {
                note!("{text}");
            }
            Some(images)
        }
        None => None,
    };
    let sim = protocol::restored(Simulation::new(config, images)?, inputs.as_ref())?;
    Ok((sim, inputs))
}

fn validate(config_path: &Path, overrides: &Overrides) -> Result<(), Failure> {
    let (config, _, _) = prepare(config_path, overrides)?;
    let neurons: usize = config.layers.values().map(|l| l.size()).sum();
    print_out(&format!(
        "ok: {} layers ({neurons} neurons), {} projections, {} steps of {} ms; estimated memory {}\n",
        config.layers.len(),
        config.projections.len(),
        config.steps(),
        config.simulation.dt_ms,
        os_memory::human(footprint::estimate(&config))
    ))
}

/// How a run starts: a new one, or an interrupted one resumed.
enum Start {
    /// A new run of `config` writing `out` (replacing it with `force`).
    New {
        config: PathBuf,
        out: Option<PathBuf>,
        force: bool,
    },
    /// The interrupted run of `file`, checked against `config` if given.
    Resume {
        file: PathBuf,
        config: Option<PathBuf>,
    },
}

/// `--checkpoint-every` as an interval (`None`: no periodic resume points).
fn checkpoint_interval(seconds: f64) -> Result<Option<Duration>, Failure> {
    if !(seconds.is_finite() && (0.0..=1e9).contains(&seconds)) {
        return Err(Failure(
            format!("--checkpoint-every: seconds from 0 to 1e9, got {seconds}"),
            2,
        ));
    }
    Ok((seconds > 0.0).then(|| Duration::from_secs_f64(seconds)))
}

/// A run's network, what it reads, its file and the writer on it.
struct Started {
    config: Config,
    sim: Simulation,
    inputs: Option<protocol::Inputs>,
    out: PathBuf,
    writer: writer::Writer,
    /// The resume point a resumed run started from (a protocol continues
    /// from its progress there).
    resumed: Option<spikesim::resume::state::Columns>,
}

/// Starts a new run: checks the output path, replaces an existing file
/// only with `force` (and never one that is an input or open elsewhere),
/// and creates the file.
fn start_new(
    config_path: &Path,
    out: Option<PathBuf>,
    force: bool,
    overrides: &Overrides,
) -> Result<Started, Failure> {
    let (config, sim, inputs) = prepare(config_path, overrides)?;
    let out = out.unwrap_or_else(|| {
        let stem = config_path.file_stem().unwrap_or_default();
        Path::new("runs").join(stem).with_extension("h5")
    });
    output::refuse_inputs(&out, &output::inputs(config_path, &config))
        .map_err(|e| Failure(e, 2))?;
    if out.exists() && !force {
        return Err(Failure(
            format!("{} exists; pass --force to overwrite it", out.display()),
            2,
        ));
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure(
                format!("cannot create output directory {}: {e}", dir.display()),
                2,
            )
        })?;
    }
    if force && out.is_file() {
        output::remove_unless_written(&out).map_err(|e| Failure(e, 2))?;
    }
    ignore_file_size_signal();
    let writer = writer::Writer::create(&out, &header(&config, &sim), sim.layout(), 4)
        .map_err(|e| Failure(e.to_string(), 2))?;
    Ok(Started {
        config,
        sim,
        inputs,
        out,
        writer,
        resumed: None,
    })
}

/// Resumes the interrupted run of `file`: the same config (the file's, or
/// `config_path`'s, which must resolve to the same), version and binary;
/// the network is rebuilt, set to the last resume point, and the file
/// reopened and cut back to it.
fn start_resumed(
    file: &Path,
    config_path: Option<&Path>,
    overrides: &Overrides,
) -> Result<Started, Failure> {
    let refuse = |e: String| Failure(e, 2);
    let saved = spikesim::resume::open(file).map_err(refuse)?;
    let config = match config_path {
        Some(p) => Config::load(p, &overrides.list()),
        None => Config::from_toml(&saved.config_toml, &overrides.list())
            .map_err(|e| ConfigError(format!("{} (config_toml): {}", file.display(), e.0))),
    }
    .map_err(|e| refuse(e.to_string()))?;
    if let Some(diff) = spikesim::resume::config_difference(&saved.config_toml, &config.to_toml()) {
        return Err(refuse(format!(
            "{} was written by another config: {diff}; resume it with the config it was started with",
            file.display()
        )));
    }
    let what = config_path.map_or_else(|| file.display().to_string(), |p| p.display().to_string());
    let (mut sim, inputs) = build(&config, &what, overrides)?;
    let inputs_read = output::inputs(config_path.unwrap_or(Path::new("")), &config);
    output::refuse_inputs(file, &inputs_read).map_err(refuse)?;
    sim.restore_resume_state(&saved.point.columns)
        .map_err(|e| refuse(format!("cannot resume {}: {e}", file.display())))?;
    ignore_file_size_signal();
    let writer =
        writer::Writer::resume(file, &header(&config, &sim), sim.layout(), &saved.point, 4)
            .map_err(|e| refuse(e.to_string()))?;
    note!(
        "resuming {} at step {} of {}",
        file.display(),
        saved.point.steps_done,
        sim.total_steps()
    );
    Ok(Started {
        config,
        sim,
        inputs,
        out: file.to_owned(),
        writer,
        resumed: Some(saved.point.columns),
    })
}

/// The root attributes of a run of `config` on `sim`.
fn header(config: &Config, sim: &Simulation) -> layout::RunHeader {
    layout::RunHeader {
        spikesim_version: env!("CARGO_PKG_VERSION").into(),
        seed: config.simulation.seed,
        dt_ms: config.simulation.dt_ms,
        steps: sim.total_steps(),
        threads: sim.threads() as u64,
        config_toml: config.to_toml(),
    }
}

/// Under a file size limit (`ulimit -f`) a write past it fails with EFBIG,
/// which the writer handles as a full disk, instead of killing the process
/// with SIGXFSZ.
fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to SIG_IGN runs no handler code.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
}

fn run(
    start: Start,
    resume_every: Option<Duration>,
    timings: bool,
    overrides: &Overrides,
) -> Result<(), Failure> {
    let Started {
        config,
        mut sim,
        inputs,
        out,
        writer: w,
        resumed,
    } = match start {
        Start::New { config, out, force } => start_new(&config, out, force, overrides)?,
        Start::Resume { file, config } => start_resumed(&file, config.as_deref(), overrides)?,
    };
    if timings {
        sim.enable_timings();
    }
    // A resumed run starts at its point's step.
    let first_step = sim.steps_done();
    let threads = sim.threads();
    // The file this run writes; another one at `out` at the end means that
    // this one was removed or replaced under it.
    let created = FileId::of(&out);

    // SIGINT / SIGTERM / SIGHUP (terminal closed) ask the loop to stop at the
    // end of the current step.
    let signal = Arc::new(AtomicUsize::new(0));
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)
            .map_err(|e| Failure(format!("cannot install a signal handler: {e}"), 1))?;
    }
    let stop = || signal.load(Ordering::Relaxed) != 0;
    let started = Instant::now();
    let mut summary = None;
    let ran = match (&config.protocol, inputs) {
        (Some(p), Some(inputs)) => {
            let progress = progress_bar(p.planned_images(), "images");
            let r = protocol::run(
                &mut sim,
                inputs,
                &w,
                &progress,
                &stop,
                resume_every,
                resumed.as_ref(),
            );
            progress.finish_and_clear();
            r.map(|s| {
                let done = s.is_some();
                summary = s;
                done
            })
        }
        _ => {
            let progress = progress_bar(sim.total_steps(), "steps");
            progress.set_position(sim.steps_done());
            let r = sim.run(&w, &progress, stop, resume_every);
            progress.finish_and_clear();
            r
        }
    };
    let steps = sim.steps_done();
    let closing = Instant::now();
    let (closed, failure) = match ran {
        Ok(true) => (w.finish(steps), None),
        Ok(false) => {
            let sig = signal.load(Ordering::Relaxed);
            let why = format!(
                "interrupted by signal {sig} after {steps} steps (of {} planned)",
                sim.total_steps()
            );
            (w.abort(steps, &why), Some(Failure(why, 128 + sig as u8)))
        }
        Err(e) => {
            let why = match e {
                // It says how many steps the file keeps.
                Error::Record(e @ RecordError::DiskFull { .. }) => e.to_string(),
                e => format!("run failed after {steps} steps: {e}"),
            };
            (w.abort(steps, &why), Some(Failure(why, 1)))
        }
    };
    if let Some(mut t) = sim.timings() {
        t.writer += closing.elapsed();
        let _ = write!(
            std::io::stderr(),
            "stage timings over {} steps:\n{}",
            t.steps,
            t.table()
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    if created.is_none() || FileId::of(&out) != created {
        let why = failure
            .map(|Failure(why, _)| format!("{why}; "))
            .unwrap_or_default();
        return Err(Failure(
            format!(
                "{why}{} is no longer the file this run wrote (removed or replaced by another process?); its data is not there",
                out.display()
            ),
            1,
        ));
    }
    match (closed, failure) {
        (Err(e @ RecordError::DiskFull { .. }), _) => Err(Failure(e.to_string(), 1)),
        (Err(e), _) => Err(Failure(format!("{e} ({} is incomplete)", out.display()), 1)),
        (Ok(()), Some(Failure(why, code))) => Err(Failure(
            format!(
                "{why}; {} holds the steps done and is marked incomplete",
                out.display()
            ),
            code,
        )),
        (Ok(()), None) => {
            let resumed = if first_step > 0 {
                format!(" (resumed at step {first_step})")
            } else {
                String::new()
            };
            note!(
                "{} steps{resumed} in {elapsed:.2} s on {threads} thread(s); {} synaptic events{}",
                steps - first_step,
                sim.synapse_events(),
                os_memory::peak_rss_mib()
                    .map(|mb| format!("; peak RSS {mb} MiB"))
                    .unwrap_or_default()
            );
            let mut text = String::new();
            if let Some(s) = summary {
                for (phase, seconds) in &s.seconds {
                    note!("{phase}: {seconds:.1} s");
                }
                text = match s.accuracy {
                    Some(a) => format!(
                        "accuracy {:.2}% on {} images ({} training presentations)\n",
                        100.0 * a,
                        s.evaluated,
                        s.trained
                    ),
                    None => format!("{} training presentations, no evaluation\n", s.trained),
                };
            }
            text.push_str(&format!("wrote {}\n", out.display()));
            // The exit code is the file's: complete, whatever became of stdout.
            match print_out(&text) {
                Err(Failure(e, _)) if !e.is_empty() => {
                    note!("warning: {e}; {} is complete", out.display())
                }
                _ => {}
            }
            Ok(())
        }
    }
}

/// `spikesim sweep`: checks every run before any starts (exit 2, nothing
/// created, on a bad sweep file), runs them, writes the index; exit 0 when
/// every run is complete, 1 when one failed, 128 + the signal when stopped.
fn sweep(file: &Path, jobs: usize, out: Option<PathBuf>, every: f64) -> Result<(), Failure> {
    if jobs == 0 {
        return Err(Failure("--jobs: at least 1".into(), 2));
    }
    if every.is_nan() || every <= 0.0 {
        return Err(Failure(
            format!("--checkpoint-every: a number of seconds > 0, not {every}"),
            2,
        ));
    }
    let plan = sweep::plan(file).map_err(|e| Failure(e.to_string(), 2))?;
    let dir = out.unwrap_or_else(|| Path::new("runs").join(file.file_stem().unwrap_or_default()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure(format!("cannot create {}: {e}", dir.display()), 2))?;
    let exe = std::env::current_exe()
        .map_err(|e| Failure(format!("cannot find the spikesim binary: {e}"), 1))?;
    let signal = Arc::new(AtomicUsize::new(0));
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)
            .map_err(|e| Failure(format!("cannot install a signal handler: {e}"), 1))?;
    }
    let progress = progress_bar(plan.runs.len() as u64, "runs");
    let outcomes = sweep::Execution {
        exe: &exe,
        dir: &dir,
        jobs,
        checkpoint_every: every,
    }
    .run(&plan, &|| signal.load(Ordering::Relaxed) != 0, &|_, _| {
        progress.inc(1)
    });
    progress.finish_and_clear();
    let index = sweep::write_index(&plan, &outcomes, &dir).map_err(|e| {
        Failure(
            format!("cannot write the index in {}: {e}", dir.display()),
            1,
        )
    })?;
    let count = |word: &str| outcomes.iter().filter(|o| o.status.word() == word).count();
    note!(
        "{} runs: {} complete, {} resumed, {} skipped (complete before), {} failed, {} interrupted",
        outcomes.len(),
        count("complete"),
        count("resumed"),
        count("skipped"),
        count("failed"),
        count("interrupted")
    );
    print_out(&format!("wrote {}\n", index.display()))?;
    match signal.load(Ordering::Relaxed) {
        0 if count("failed") > 0 => Err(Failure(
            format!(
                "{} runs failed; see their .log files in {}",
                count("failed"),
                dir.display()
            ),
            1,
        )),
        0 => Ok(()),
        sig => Err(Failure(
            format!("interrupted by signal {sig}; run the sweep again to resume"),
            128 + sig as u8,
        )),
    }
}

/// A progress bar with an ETA on a terminal; hidden otherwise.
/// `len` counts `unit`s (steps, images); the message shows the phase.
fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let template = format!("{{msg}} {{bar:40}} {{pos}}/{{len}} {unit}  {{per_sec}}  ETA {{eta}}");
    pb.set_style(ProgressStyle::with_template(&template).expect("valid template"));
    pb
}
