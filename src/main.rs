//! The `spikesim` binary: parses the command line, runs, and maps errors to
//! exit codes (2: bad input — config, dataset, output path; 1: a failure
//! during the run).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use spikesim::record::{inspect, writer};
use spikesim::{Config, Error, Simulation, protocol};

#[derive(Parser)]
#[command(
    name = "spikesim",
    version,
    about = "Spiking neural network simulator (LIF layers, Bernoulli/Poisson encoders, HDF5 output)"
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
    /// Seed of every random stream (same as --set simulation.seed=N)
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads, 0 = all cores (same as --set simulation.threads=N)
    #[arg(long)]
    threads: Option<usize>,
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
}

/// Why the program stops: the message and the exit code.
struct Failure(String, u8);

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
            overrides,
        } => run(&config, out, &overrides.list()),
        Command::Validate { config, overrides } => validate(&config, &overrides.list()),
        Command::Inspect { file } => inspect::summarize(&file)
            .map(|s| print!("{s}"))
            .map_err(|e| Failure(e.to_string(), 2)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg, code)) => {
            eprintln!("error: {msg}");
            ExitCode::from(code)
        }
    }
}

/// Loads and validates the config, loads its images and builds the network.
fn prepare(config_path: &Path, overrides: &[String]) -> Result<(Config, Simulation), Error> {
    let config = Config::load(config_path, overrides)?;
    let images = match &config.stimulus {
        Some(s) => {
            let (images, note) = protocol::load_images(s, config.simulation.seed)?;
            if let Some(note) = note {
                eprintln!("{note}");
            }
            Some(images)
        }
        None => None,
    };
    let sim = Simulation::new(&config, images)?;
    Ok((config, sim))
}

fn validate(config_path: &Path, overrides: &[String]) -> Result<(), Failure> {
    let (config, _) = prepare(config_path, overrides)?;
    let neurons: usize = config.layers.values().map(|l| l.size()).sum();
    println!(
        "ok: {} layers ({neurons} neurons), {} projections, {} steps of {} ms",
        config.layers.len(),
        config.projections.len(),
        config.steps(),
        config.simulation.dt_ms
    );
    Ok(())
}

fn run(config_path: &Path, out: Option<PathBuf>, overrides: &[String]) -> Result<(), Failure> {
    let (config, mut sim) = prepare(config_path, overrides)?;
    let out = out.unwrap_or_else(|| {
        let stem = config_path.file_stem().unwrap_or_default();
        Path::new("runs").join(stem).with_extension("h5")
    });
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure(
                format!("cannot create output directory {}: {e}", dir.display()),
                2,
            )
        })?;
    }
    let threads = spikesim::sim::init_threads(config.simulation.threads);
    let header = writer::RunHeader {
        spikesim_version: env!("CARGO_PKG_VERSION").into(),
        seed: config.simulation.seed,
        dt_ms: config.simulation.dt_ms,
        steps: sim.total_steps(),
        threads: threads as u64,
        config_toml: config.to_toml(),
    };
    let w = writer::Writer::create(&out, &header, &sim.spike_layers(), &sim.trace_specs(), 8)
        .map_err(|e| Failure(e.to_string(), 2))?;

    let progress = progress_bar(sim.total_steps());
    let started = Instant::now();
    let ran = sim.run(&w, &progress);
    progress.finish_and_clear();
    let finished = ran.and_then(|()| w.finish(sim.steps_done()));
    if let Err(e) = finished {
        // The file is incomplete: remove it rather than pass it off as a run.
        let _ = std::fs::remove_file(&out);
        return Err(Failure(format!("run failed, no output kept: {e}"), 1));
    }
    eprintln!(
        "{} steps in {:.2} s on {threads} thread(s); {} synaptic events",
        sim.steps_done(),
        started.elapsed().as_secs_f64(),
        sim.synapse_events()
    );
    println!("wrote {}", out.display());
    Ok(())
}

/// A progress bar with an ETA on a terminal; hidden otherwise.
fn progress_bar(steps: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} steps  {per_sec}  ETA {eta}")
            .expect("valid template"),
    );
    pb
}
