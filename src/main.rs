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
use std::time::Instant;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use spikesim::protocol;
use spikesim::record::output::{self, FileId};
use spikesim::record::{inspect, layout, writer};
use spikesim::{Config, ConfigError, Error, Simulation, bench, footprint, stimulus};

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
        /// TOML config file
        config: PathBuf,
        /// Output file [default: runs/<config name>.h5]
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Overwrite the output file if it exists
        #[arg(long)]
        force: bool,
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
    /// Summarize a run's HDF5 file: layers, spike counts, rates, traces
    Inspect {
        /// HDF5 file written by `spikesim run`
        file: PathBuf,
    },
    /// Time a scaling workload (W1: the seed network, W2: CUBA) and print
    /// one `RESULT ...` line per repetition, in the benchmark peers' format
    Bench {
        /// Workload
        #[arg(value_enum)]
        workload: bench::Workload,
        /// LIF neurons (W1: hidden layer; W2: whole network, 80% excitatory)
        #[arg(long, default_value_t = 400)]
        neurons: usize,
        /// Worker threads (0 = all cores)
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Repetitions (each builds the network anew)
        #[arg(long, default_value_t = 1)]
        reps: usize,
        /// W1 images (default 20)
        #[arg(long)]
        images: Option<usize>,
        /// Steps (default: W1 images × 250, W2 10,000)
        #[arg(long)]
        steps: Option<u64>,
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
            timings,
            overrides,
        } => run(&config, out, force, timings, &overrides),
        Command::Validate { config, overrides } => validate(&config, &overrides),
        Command::Bench {
            workload,
            neurons,
            threads,
            reps,
            images,
            steps,
            seed,
            timings,
            quiet: _,
        } => {
            let o = bench::Options {
                workload,
                neurons,
                threads,
                images,
                steps,
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
    // Refuse before anything large is allocated.
    let need = footprint::estimate(&config);
    if let Some(free) = footprint::available()
        && need > free
        && !overrides.ignore_memory
    {
        return Err(ConfigError(format!(
            "{}: the run needs an estimated {} of memory and {} is available; make the network smaller, or pass --ignore-memory to try anyway",
            config_path.display(),
            footprint::human(need),
            footprint::human(free)
        ))
        .into());
    }
    let inputs = protocol::load(&config)?;
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
    let sim = protocol::restored(Simulation::new(&config, images)?, inputs.as_ref())?;
    Ok((config, sim, inputs))
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
        footprint::human(footprint::estimate(&config))
    ))
}

fn run(
    config_path: &Path,
    out: Option<PathBuf>,
    force: bool,
    timings: bool,
    overrides: &Overrides,
) -> Result<(), Failure> {
    let (config, mut sim, inputs) = prepare(config_path, overrides)?;
    if timings {
        sim.enable_timings();
    }
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
    let threads = sim.threads();
    let header = layout::RunHeader {
        spikesim_version: env!("CARGO_PKG_VERSION").into(),
        seed: config.simulation.seed,
        dt_ms: config.simulation.dt_ms,
        steps: sim.total_steps(),
        threads: threads as u64,
        config_toml: config.to_toml(),
    };
    if force && out.is_file() {
        output::remove_unless_written(&out).map_err(|e| Failure(e, 2))?;
    }
    let w = writer::Writer::create(&out, &header, sim.layout(), 4)
        .map_err(|e| Failure(e.to_string(), 2))?;
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
            let r = protocol::run(&mut sim, inputs, &w, &progress, &stop);
            progress.finish_and_clear();
            r.map(|s| {
                let done = s.is_some();
                summary = s;
                done
            })
            .map_err(|e| e.to_string())
        }
        _ => {
            let progress = progress_bar(sim.total_steps(), "steps");
            let r = sim.run(&w, &progress, stop);
            progress.finish_and_clear();
            r.map_err(|e| e.to_string())
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
            let why = format!("run failed after {steps} steps: {e}");
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
        (Err(e), _) => Err(Failure(format!("{e} ({} is incomplete)", out.display()), 1)),
        (Ok(()), Some(Failure(why, code))) => Err(Failure(
            format!(
                "{why}; {} holds the steps done and is marked incomplete",
                out.display()
            ),
            code,
        )),
        (Ok(()), None) => {
            note!(
                "{steps} steps in {elapsed:.2} s on {threads} thread(s); {} synaptic events{}",
                sim.synapse_events(),
                peak_rss()
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

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if known.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
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
