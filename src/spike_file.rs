//! Spike trains replayed from a file: a layer of `kind = "spike_file"`
//! (NEST's `spike_generator`, Brian2's `SpikeGeneratorGroup`).
//!
//! The file is a SONATA spike file — `/spikes/<population>/node_ids`
//! (integers) and `/spikes/<population>/timestamps` (ms), as spikesim
//! writes its own spikes, so a run's output replays as it was recorded —
//! or a CSV file of lines `node_id,time_ms`. A spike at time `t` (ms) fires
//! at step `n = round(t/dt)`, halves away from zero (`t = 2.5` at dt 1 ms:
//! step 3), so the spikes of a spikesim file (`t = n·dt`) come back at
//! their own steps. A node id must be below the layer's size and a time
//! finite and >= 0; two spikes of one neuron in one step are refused (as
//! Brian2 does; a smaller `dt_ms` tells them apart); spikes at or after
//! the run's last step are left out.
//!
//! The whole file is read when the network is built, into one list of
//! `(step, neuron)` sorted ascending (16 bytes a spike, counted in the
//! memory estimate: [`resident_bytes`]); each step's spikes are found in
//! it from the clock by binary search ([`SpikeTrains::at`]), so the layer
//! has no state of its own: a resumed run finds its place from its step.
//! The file is read again on resume and must not have changed.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use bevy_ecs::prelude::*;
use hdf5::types::TypeDescriptor;

use crate::config::{ConfigError, SpikeFileConfig};
use crate::layer::LayerSpikes;
use crate::record::read::{check_fits, members, render_attr};
use crate::record::schema;
use crate::step::Clock;

/// Bytes a spike of a file takes in memory: its step (8) and neuron (4),
/// padded to 16.
pub const SPIKE_BYTES: u64 = std::mem::size_of::<(u64, u32)>() as u64;

/// Values read from an HDF5 dataset at a time (a bounded buffer whatever
/// the file's length).
const CHUNK: usize = 1 << 20;

/// A spike-file layer's spikes `(step, neuron)`, ascending. Written once by
/// the network builder, on the layer entity; read by [`emit`].
#[derive(Component, Debug, Clone, PartialEq)]
pub struct SpikeTrains(Vec<(u64, u32)>);

impl SpikeTrains {
    /// The neurons that spike at step `n`, ascending.
    pub fn at(&self, n: u64) -> impl Iterator<Item = u32> + '_ {
        let first = self.0.partition_point(|&(s, _)| s < n);
        let len = self.0[first..].partition_point(|&(s, _)| s == n);
        self.0[first..first + len].iter().map(|&(_, i)| i)
    }
}

/// Step `n` (set `Encode`, after `encode` made last step's spikes
/// `previous`): each spike-file layer's spikes of step `n` are its spikes
/// of this step.
pub fn emit(clock: Res<Clock>, mut layers: Query<(&SpikeTrains, &mut LayerSpikes)>) {
    for (trains, mut spikes) in &mut layers {
        let spikes = spikes.bypass_change_detection();
        let before = spikes.current.len();
        spikes.current.extend(trains.at(clock.step));
        spikes.emitted += (spikes.current.len() - before) as u64;
    }
}

/// Reads the spike file of a layer for a run of `steps` steps of `dt` ms;
/// `key(field)` is the field's dotted key. An error names `path`'s key and
/// the file: a file that cannot be read, a node id not below `size`, a
/// time that is negative or not finite, two spikes of one neuron in one
/// step.
pub fn load(
    c: &SpikeFileConfig,
    key: &dyn Fn(&str) -> String,
    dt: f64,
    steps: u64,
) -> Result<SpikeTrains, ConfigError> {
    let file = c.path.display();
    let fail = |why: String| ConfigError(format!("{}: {file}: {why}", key("path")));
    let mut spikes = Vec::new();
    spikes
        .try_reserve_exact(count(c).map_err(fail)? as usize)
        .map_err(|e| fail(format!("no memory for its spikes: {e}")))?;
    let mut add = |id: u64, t: f64| -> Result<(), String> {
        if id >= c.size as u64 {
            return Err(format!(
                "node id {id} is not below the layer's size ({}); allowed: 0 to {}",
                c.size,
                c.size - 1
            ));
        }
        if !(t.is_finite() && t >= 0.0) {
            return Err(format!(
                "spike time {t} ms of node {id}; allowed: a finite time >= 0"
            ));
        }
        let step = (t / dt).round();
        if step < steps as f64 {
            spikes.push((step as u64, id as u32));
        }
        Ok(())
    };
    if c.is_csv() {
        read_csv(&c.path, &mut add)
    } else {
        read_sonata(&c.path, c.population.as_deref(), &mut add)
    }
    .map_err(fail)?;
    spikes.sort_unstable();
    if let Some(w) = spikes.windows(2).find(|w| w[0] == w[1]) {
        let (n, id) = w[0];
        return Err(fail(format!(
            "node {id} spikes twice in step {n} (times in [{}, {}) ms at dt {dt} ms); one spike per neuron per step is allowed: use a smaller simulation.dt_ms",
            (n as f64 - 0.5) * dt,
            (n as f64 + 0.5) * dt
        )));
    }
    Ok(SpikeTrains(spikes))
}

/// The memory the spikes of `c`'s file take once read, in bytes
/// ([`SPIKE_BYTES`] per spike of the file); 0 where the file cannot be
/// read (building the network then fails naming it).
pub fn resident_bytes(c: &SpikeFileConfig) -> u64 {
    count(c).map_or(0, |n| n.saturating_mul(SPIKE_BYTES))
}

/// The number of spikes in `c`'s file: the length of its `node_ids`, or
/// the lines of a CSV file (its header included).
fn count(c: &SpikeFileConfig) -> Result<u64, String> {
    if c.is_csv() {
        let mut f = File::open(&c.path).map_err(|e| e.to_string())?;
        let (mut lines, mut last) = (0u64, b'\n');
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            last = buf[n - 1];
        }
        Ok(lines + u64::from(last != b'\n'))
    } else {
        let (ids, _, _) = population(&c.path, c.population.as_deref())?;
        Ok(ids.size() as u64)
    }
}

/// Calls `add(node_id, time_ms)` for each line `node_id,time_ms` of the CSV
/// file at `path` (blank lines skipped; the first line may be the header
/// `node_id,time_ms`); an error names the line.
fn read_csv(
    path: &Path,
    add: &mut impl FnMut(u64, f64) -> Result<(), String>,
) -> Result<(), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    for (k, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("line {}: {e}", k + 1))?;
        let line = line.trim();
        if line.is_empty() || (k == 0 && line.replace(' ', "") == "node_id,time_ms") {
            continue;
        }
        let parsed = line.split_once(',').and_then(|(id, t)| {
            Some((
                id.trim().parse::<u64>().ok()?,
                t.trim().parse::<f64>().ok()?,
            ))
        });
        let (id, t) = parsed.ok_or_else(|| {
            format!(
                "line {}: '{line}' is not node_id,time_ms (a node id >= 0 and a time in ms)",
                k + 1
            )
        })?;
        add(id, t).map_err(|e| format!("line {}: {e}", k + 1))?;
    }
    Ok(())
}

/// The `node_ids` and `timestamps` datasets of a population of the SONATA
/// spike file at `path` (`population`, or the file's only one), with the
/// population's path for messages.
fn population(
    path: &Path,
    population: Option<&str>,
) -> Result<(hdf5::Dataset, hdf5::Dataset, String), String> {
    std::fs::metadata(path).map_err(|e| e.to_string())?;
    // Without HDF5's file lock, so that the file of a run still being
    // written can be read, as `spikesim inspect` does.
    let file = hdf5::File::with_options()
        .with_fapl(|p| p.file_locking(false))
        .open(path)
        .map_err(|e| format!("not a readable HDF5 file ({e})"))?;
    let spikes = file.group(schema::SPIKES_GROUP).map_err(|_| {
        "no /spikes group; a SONATA spike file has /spikes/<population>/node_ids and timestamps"
            .to_owned()
    })?;
    let names: Vec<String> = members(&spikes)?
        .into_iter()
        .filter(|n| spikes.group(n).is_ok())
        .collect();
    let name = match (population, names.as_slice()) {
        (Some(p), _) if names.iter().any(|n| n == p) => p.to_owned(),
        (Some(p), _) => {
            return Err(format!(
                "no population '{p}' under /spikes; it has: {}",
                names.join(", ")
            ));
        }
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(format!(
                "{} populations under /spikes ({}); choose one with population = \"<name>\"",
                names.len(),
                names.join(", ")
            ));
        }
    };
    let group = spikes.group(&name).map_err(|e| e.to_string())?;
    let at = format!("/{}/{name}", schema::SPIKES_GROUP);
    let dataset = |ds: &str| {
        let d = group
            .dataset(ds)
            .map_err(|_| format!("no dataset {at}/{ds}"))?;
        if d.ndim() != 1 {
            return Err(format!("{at}/{ds} is not one-dimensional"));
        }
        Ok(d)
    };
    let (ids, times) = (
        dataset(schema::DS_NODE_IDS)?,
        dataset(schema::DS_TIMESTAMPS)?,
    );
    if ids.size() != times.size() {
        return Err(format!(
            "{at} has {} node ids and {} timestamps",
            ids.size(),
            times.size()
        ));
    }
    Ok((ids, times, at))
}

/// Calls `add(node_id, time_ms)` for each spike of a population of the
/// SONATA file at `path`, in file order, reading [`CHUNK`] spikes at a
/// time. Node ids may be of any integer type (a negative one is an
/// error); timestamps must be in ms (a `units` attribute, if there, says
/// `ms`).
fn read_sonata(
    path: &Path,
    population: Option<&str>,
    add: &mut impl FnMut(u64, f64) -> Result<(), String>,
) -> Result<(), String> {
    let (ids, times, at) = self::population(path, population)?;
    check_fits(
        &format!("{at}/node_ids"),
        &[ids.size()],
        SPIKE_BYTES as usize,
    )?;
    if let Ok(a) = times.attr(schema::ATTR_UNITS) {
        let units = render_attr(&a).map_err(|e| format!("{at}/timestamps units: {e}"))?;
        if units != schema::TIME_UNITS {
            return Err(format!(
                "{at}/timestamps are in '{units}'; allowed: {}",
                schema::TIME_UNITS
            ));
        }
    }
    let signed = match ids.dtype().and_then(|t| t.to_descriptor()) {
        Ok(TypeDescriptor::Integer(_)) => true,
        Ok(TypeDescriptor::Unsigned(_)) => false,
        Ok(t) => return Err(format!("{at}/node_ids are {t}, not integers")),
        Err(e) => return Err(format!("{at}/node_ids: {e}")),
    };
    let read = |e: hdf5::Error| format!("reading {at}: {e}");
    for start in (0..ids.size()).step_by(CHUNK) {
        let r = start..(start + CHUNK).min(ids.size());
        let node: Vec<u64> = if signed {
            let v = ids.read_slice_1d::<i64, _>(r.clone()).map_err(read)?;
            (v.iter().map(|&i| u64::try_from(i)))
                .collect::<Result<_, _>>()
                .map_err(|_| format!("{at}/node_ids holds a negative node id"))?
        } else {
            ids.read_slice_1d::<u64, _>(r.clone())
                .map_err(read)?
                .to_vec()
        };
        let t = times.read_slice_1d::<f64, _>(r).map_err(read)?;
        for (&id, &t) in node.iter().zip(&t) {
            add(id, t)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::SpikeTrains;

    #[test]
    fn each_step_finds_its_own_spikes() {
        let t = SpikeTrains(vec![(0, 1), (0, 4), (3, 0), (3, 2), (3, 9), (7, 5)]);
        let at = |n| t.at(n).collect::<Vec<_>>();
        assert_eq!(at(0), vec![1, 4]);
        assert_eq!(at(1), Vec::<u32>::new());
        assert_eq!(at(3), vec![0, 2, 9]);
        assert_eq!(at(7), vec![5]);
        assert_eq!(at(8), Vec::<u32>::new());
    }
}
