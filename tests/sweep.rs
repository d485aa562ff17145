//! `spikesim sweep`: the expansion of axes and seeds, names that do not
//! depend on order or threads, bad sweep files, runs equal to `spikesim
//! run`, skipping complete runs, and resuming a killed campaign.

use std::path::{Path, PathBuf};
use std::process::Command;

use spikesim::sweep;

mod common;

use common::{datasets, repo, run, temp};

/// A fresh folder with `sweep.toml` holding `text`; returns its path.
fn sweep_file(name: &str, text: &str) -> PathBuf {
    let dir = temp(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sweep.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn single_neuron() -> String {
    repo("experiments/single-neuron.toml").display().to_string()
}

#[test]
fn a_grid_with_seeds_expands_slowest_axis_first_with_names_of_the_resolved_config() {
    let text = format!(
        "base = \"{}\"\nseeds = {{ from = 1, count = 2 }}\n[grid]\n\"layers.neuron.sigma\" = [1.0, 2.0]\n\"layers.neuron.tau_v_ms\" = [10.0, 20.0, 30.0]\n",
        single_neuron()
    );
    let plan = sweep::plan(&sweep_file("grid", &text)).unwrap();
    // 2 × 3 points × 2 seeds; sigma slowest, seeds fastest.
    assert_eq!(plan.runs.len(), 12);
    assert_eq!(plan.axes, ["layers.neuron.sigma", "layers.neuron.tau_v_ms"]);
    let at = |k: usize| {
        let r = &plan.runs[k];
        (r.params[0].1.clone(), r.params[1].1.clone(), r.seed)
    };
    assert_eq!(at(0), ("1.0".into(), "10.0".into(), 1));
    assert_eq!(at(1), ("1.0".into(), "10.0".into(), 2));
    assert_eq!(at(2), ("1.0".into(), "20.0".into(), 1));
    assert_eq!(at(11), ("2.0".into(), "30.0".into(), 2));
    let mut names: Vec<&str> = plan.runs.iter().map(|r| r.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 12);
    // The axes in the other order, and 2 threads per run: the same runs,
    // so the same names.
    let other = format!(
        "base = \"{}\"\nthreads = 2\nseeds = [2, 1]\n[grid]\n\"layers.neuron.tau_v_ms\" = [30.0, 20.0, 10.0]\n\"layers.neuron.sigma\" = [2.0, 1.0]\n",
        single_neuron()
    );
    let again = sweep::plan(&sweep_file("grid-other", &other)).unwrap();
    let mut again_names: Vec<&str> = again.runs.iter().map(|r| r.name.as_str()).collect();
    again_names.sort();
    assert_eq!(again_names, names);
}

#[test]
fn zipped_axes_take_their_values_together() {
    let text = format!(
        "base = \"{}\"\n[zip]\n\"layers.neuron.tau_v_ms\" = [10.0, 20.0]\n\"layers.neuron.tau_j_ms\" = [5.0, 7.0]\n",
        single_neuron()
    );
    let plan = sweep::plan(&sweep_file("zip", &text)).unwrap();
    let rows: Vec<Vec<String>> = plan
        .runs
        .iter()
        .map(|r| r.params.iter().map(|(_, v)| v.clone()).collect())
        .collect();
    assert_eq!(rows, [["10.0", "5.0"], ["20.0", "7.0"]]);
    // No seeds given: the base's seed.
    assert!(plan.runs.iter().all(|r| r.seed == 1));
}

#[test]
fn bad_sweep_files_are_refused_with_one_line_naming_the_key_and_nothing_run() {
    let base = format!("base = \"{}\"\n", single_neuron());
    for (text, needle) in [
        (
            format!("{base}[grid]\n\"layers.neuron.sigma\" = []\n"),
            "grid.\"layers.neuron.sigma\": an empty axis",
        ),
        (
            format!("{base}[grid]\n\"layers.neuron.nope\" = [1.0]\n"),
            "nope",
        ),
        (
            format!("{base}[grid]\n\"layers.neuron.size\" = [\"many\"]\n"),
            "layers.neuron.size",
        ),
        (
            format!(
                "{base}[zip]\n\"layers.neuron.sigma\" = [1.0, 2.0]\n\"layers.neuron.r\" = [1.0]\n"
            ),
            "zipped axes have equal lengths",
        ),
        (format!("{base}sed = 3\n"), "sed"),
        (format!("{base}seeds = []\n"), "seeds: an empty list"),
        (
            format!("{base}seeds = [1]\n[grid]\n\"simulation.seed\" = [1, 2]\n"),
            "an axis over the seed",
        ),
        ("base = \"nowhere.toml\"\n".to_owned(), "nowhere.toml"),
    ] {
        let path = sweep_file("bad", &text);
        let out = path.parent().unwrap().join("out");
        let o = run(&["sweep", path.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{text}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{needle}: {err}"
        );
        assert!(!out.exists(), "{text}: created {}", out.display());
    }
}

/// `index.csv` of `dir` as rows of fields (no field here has a comma).
fn index(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("index.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

/// The seed network on one synthetic image (250 steps), two thresholds'
/// targets × two seeds.
fn seed_demo_sweep(name: &str) -> PathBuf {
    sweep_file(
        name,
        &format!(
            "base = \"{}\"\nset = [\"stimulus.images=1\", \"stimulus.dataset=synthetic\"]\nseeds = [3, 4]\n[grid]\n\"layers.hidden.threshold.global.target\" = [0.5, 2.0]\n",
            repo("experiments/seed-demo.toml").display()
        ),
    )
}

#[test]
fn each_run_writes_what_spikesim_run_writes_and_a_second_sweep_skips_them() {
    let path = seed_demo_sweep("runs");
    let dir = path.parent().unwrap().join("out");
    let (p, d) = (path.to_str().unwrap(), dir.to_str().unwrap());
    let o = run(&["sweep", p, "--jobs", "2", "-o", d]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = index(&dir);
    assert_eq!(
        rows[0],
        [
            "name",
            "status",
            "seed",
            "layers.hidden.threshold.global.target",
            "wall_s",
            "steps_done",
            "rate_hz.input",
            "rate_hz.hidden",
            "accuracy",
            "message"
        ]
    );
    assert_eq!(rows.len(), 5);
    assert!(
        rows[1..]
            .iter()
            .all(|r| r[1] == "complete" && r[5] == "250"),
        "{rows:?}"
    );
    // The second point's first seed, as `spikesim run` with the same --set.
    let plan = sweep::plan(&path).unwrap();
    let r = &plan.runs[2];
    assert_eq!((r.params[0].1.as_str(), r.seed), ("2.0", 3));
    let alone = temp("sweep-alone.h5");
    let mut args = vec![
        "run".to_owned(),
        repo("experiments/seed-demo.toml").display().to_string(),
    ];
    args.extend(["-o".into(), alone.display().to_string()]);
    for s in &r.overrides {
        args.extend(["--set".into(), s.clone()]);
    }
    let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(datasets(&sweep::run_file(&dir, r)), datasets(&alone));
    // A higher target rate gives a higher rate (the threshold adapts to it).
    let rate = |k: usize| rows[k + 1][7].parse::<f64>().unwrap();
    assert!(rate(2) > rate(0), "{rows:?}");
    // index.h5 holds the same columns: numbers as float64, text as strings.
    let h5 = hdf5::File::open(dir.join("index.h5")).unwrap();
    let rates = h5
        .dataset("rate_hz.hidden")
        .unwrap()
        .read_raw::<f64>()
        .unwrap();
    assert_eq!(rates, (0..4).map(rate).collect::<Vec<_>>());
    let status = h5.dataset("status").unwrap();
    let status = status.read_raw::<hdf5::types::VarLenUnicode>().unwrap();
    assert!(status.iter().all(|s| s.as_str() == "complete"));
    assert!(
        h5.dataset("accuracy")
            .unwrap()
            .read_raw::<f64>()
            .unwrap()
            .iter()
            .all(|a| a.is_nan())
    );
    drop(h5);
    // Again: nothing to do.
    let o = run(&["sweep", p, "--jobs", "2", "-o", d]);
    assert!(o.status.success());
    assert!(index(&dir)[1..].iter().all(|r| r[1] == "skipped"));
}

#[test]
fn a_killed_sweep_resumes_its_runs_from_their_resume_points() {
    // Two long runs of a small CUBA network, resume points every 0.2 s;
    // the sweep and its runs are killed (SIGKILL, the whole process group)
    // after 2.5 s, then swept again: both runs resume and end with the
    // datasets of an uninterrupted run.
    let path = sweep_file(
        "kill",
        &format!(
            "base = \"{}\"\nset = [\"layers.exc.size=400\", \"layers.inh.size=100\", \"simulation.steps=5000000\"]\nseeds = [1, 2]\n",
            repo("experiments/cuba.toml").display()
        ),
    );
    let dir = path.parent().unwrap().join("out");
    let mut child = {
        use std::os::unix::process::CommandExt;
        Command::new(env!("CARGO_BIN_EXE_spikesim"))
            .args([
                "sweep",
                path.to_str().unwrap(),
                "-j",
                "2",
                "--checkpoint-every",
                "0.2",
            ])
            .args(["-o", dir.to_str().unwrap()])
            .process_group(0)
            .spawn()
            .unwrap()
    };
    std::thread::sleep(std::time::Duration::from_millis(2500));
    // SAFETY: kill(2) of the child's own process group runs no code here.
    unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
    child.wait().unwrap();
    let plan = sweep::plan(&path).unwrap();
    for r in &plan.runs {
        let s = spikesim::record::inspect::summarize(&sweep::run_file(&dir, r)).unwrap();
        assert!(
            !s.complete,
            "finished before the kill: make the runs longer"
        );
    }
    let o = run(&[
        "sweep",
        path.to_str().unwrap(),
        "-j",
        "2",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        index(&dir)[1..].iter().all(|r| r[1] == "resumed"),
        "{:?}",
        index(&dir)
    );
    let alone = temp("sweep-kill-alone.h5");
    let mut args = vec![
        "run".to_owned(),
        repo("experiments/cuba.toml").display().to_string(),
    ];
    args.extend(["-o".into(), alone.display().to_string()]);
    for s in &plan.runs[1].overrides {
        args.extend(["--set".into(), s.clone()]);
    }
    let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        datasets(&sweep::run_file(&dir, &plan.runs[1])),
        datasets(&alone)
    );
}
