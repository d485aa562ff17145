//! The `spikesim` Python module: a [`spikesim::sim::Simulation`] built from
//! the same config schema as the command line (a dict, TOML text or a
//! path), stepped from Python with the GIL released, its state read and
//! set as NumPy arrays, and small runs recorded in memory.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray3};
use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use spikesim::config::Config;
use spikesim::data::ImageSet;
use spikesim::sim::Simulation as Core;
use spikesim::synapse::Weights;

create_exception!(
    _spikesim,
    ConfigError,
    PyValueError,
    "A config that cannot run: the message names the key and what is allowed, as the command line's."
);

/// How often a running `run` looks for Ctrl-C (and so how soon
/// `KeyboardInterrupt` is raised).
const SIGNAL_EVERY: Duration = Duration::from_millis(50);

/// A TOML value of a Python object: dict, list/tuple, bool, int, float or
/// str; `key` names it in errors.
fn toml_value(obj: &Bound<'_, PyAny>, key: &str) -> PyResult<toml::Value> {
    let at = |k: &str| {
        if key.is_empty() {
            k.to_owned()
        } else {
            format!("{key}.{k}")
        }
    };
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut t = toml::Table::new();
        for (k, v) in d.iter() {
            let k: String = k
                .extract()
                .map_err(|_| ConfigError::new_err(format!("{key}: keys must be strings")))?;
            t.insert(k.clone(), toml_value(&v, &at(&k))?);
        }
        return Ok(toml::Value::Table(t));
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(toml::Value::Boolean(obj.extract()?));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(toml::Value::Integer(obj.extract().map_err(|_| {
            ConfigError::new_err(format!("{key}: integer out of range"))
        })?));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(toml::Value::Float(obj.extract()?));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(toml::Value::String(obj.extract()?));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let items: Vec<Bound<'_, PyAny>> = obj.try_iter()?.collect::<PyResult<_>>()?;
        let values = items
            .iter()
            .enumerate()
            .map(|(i, v)| toml_value(v, &format!("{key}[{i}]")))
            .collect::<PyResult<_>>()?;
        return Ok(toml::Value::Array(values));
    }
    // NumPy scalars and the like: as float, else refused.
    if let Ok(x) = obj.extract::<f64>() {
        return Ok(toml::Value::Float(x));
    }
    Err(ConfigError::new_err(format!(
        "{key}: a {} is not a config value (dict, list, bool, int, float or str)",
        obj.get_type().name()?
    )))
}

/// The validated config of `config` (a dict, TOML text, or a path to a
/// TOML file as `str` or `os.PathLike`) with `overrides` (`KEY=VALUE`,
/// as `--set`).
fn load_config(config: &Bound<'_, PyAny>, overrides: &[String]) -> PyResult<Config> {
    let err = |e: spikesim::ConfigError| ConfigError::new_err(e.0);
    if config.is_instance_of::<PyDict>() {
        let table = toml_value(config, "")?;
        let text = toml::to_string(&table).map_err(|e| ConfigError::new_err(e.to_string()))?;
        return Config::from_toml(&text, overrides).map_err(err);
    }
    if let Ok(text) = config.extract::<String>()
        && (text.contains('\n') || text.contains('='))
    {
        return Config::from_toml(&text, overrides).map_err(err);
    }
    if let Ok(path) = config.extract::<PathBuf>() {
        return Config::load(&path, overrides).map_err(err);
    }
    Err(PyTypeError::new_err(
        "config: a dict, TOML text, or a path to a TOML file",
    ))
}

/// The images of `images` (`(pixels, labels)`: uint8 `n × rows × cols`
/// and uint8 `n`), or those the config's `[stimulus]` names.
fn load_images(
    config: &Config,
    images: Option<(PyReadonlyArray3<'_, u8>, PyReadonlyArray1<'_, u8>)>,
) -> PyResult<Option<ImageSet>> {
    if let Some((pixels, labels)) = images {
        let (pixels, labels) = (pixels.as_array(), labels.as_array());
        let shape = pixels.shape();
        if labels.len() != shape[0] {
            return Err(PyValueError::new_err(format!(
                "images: {} images and {} labels",
                shape[0],
                labels.len()
            )));
        }
        return Ok(Some(ImageSet {
            name: "python".into(),
            rows: shape[1],
            cols: shape[2],
            pixels: pixels.iter().copied().collect(),
            labels: labels.to_vec(),
        }));
    }
    match &config.stimulus {
        Some(s) => spikesim::stimulus::load_images(s, config.simulation.seed)
            .map(|(set, _)| Some(set))
            .map_err(|e| ConfigError::new_err(e.to_string())),
        None => Ok(None),
    }
}

/// Spikes kept in memory for one layer: step and neuron of each.
#[derive(Default)]
struct SpikeMonitor {
    layer: String,
    steps: Vec<u64>,
    neurons: Vec<u32>,
}

/// A variable of one layer kept in memory every `every` steps.
struct TraceMonitor {
    layer: String,
    var: String,
    every: u64,
    steps: Vec<u64>,
    /// Frames one after another, `neurons` values each.
    values: Vec<f32>,
    neurons: usize,
}

/// A network built from a spikesim config, ready to step.
///
/// ``Simulation(config, images=None, set=())``: ``config`` is a dict with
/// the TOML config's tables (``{"simulation": {"seed": 1}, "layers":
/// {...}}``), TOML text, or a path to a TOML file; ``set`` holds
/// ``"KEY=VALUE"`` overrides as ``spikesim run --set``. ``images`` is
/// ``(pixels, labels)`` (uint8 arrays ``n × rows × cols`` and ``n``); by
/// default the images are those the config's ``[stimulus]`` names. The
/// same config and seed give the same state, bit for bit, as ``spikesim
/// run``, on any number of threads.
#[pyclass(module = "spikesim._spikesim")]
struct Simulation {
    core: Core,
    spike_monitors: Vec<SpikeMonitor>,
    trace_monitors: Vec<TraceMonitor>,
}

impl Simulation {
    /// Runs `steps` steps (GIL released), feeding the monitors.
    fn advance(&mut self, steps: u64) {
        if self.spike_monitors.is_empty() && self.trace_monitors.is_empty() {
            self.core.run_silent(steps);
            return;
        }
        for _ in 0..steps {
            self.core.run_silent(1);
            let at = self.core.steps_done() - 1;
            for m in &mut self.spike_monitors {
                let spikes = self.core.spikes(&m.layer);
                m.steps.extend(std::iter::repeat_n(at, spikes.len()));
                m.neurons.extend(spikes);
            }
            for m in &mut self.trace_monitors {
                if at.is_multiple_of(m.every) {
                    let v = self
                        .core
                        .read(&m.layer, &m.var)
                        .expect("checked when added");
                    m.steps.push(at);
                    m.values.extend(v);
                }
            }
        }
    }

    fn dt_ms(&self) -> f64 {
        self.core.config().simulation.dt_ms
    }
}

/// Times (ms) with what happened at them.
type Timed<'py, T> = (Bound<'py, PyArray1<f64>>, Bound<'py, T>);

/// A `String` error as a `ValueError`.
fn value_error(e: String) -> PyErr {
    PyValueError::new_err(e)
}

#[pymethods]
impl Simulation {
    #[new]
    #[pyo3(signature = (config, images = None, set = Vec::new()))]
    fn new(
        py: Python<'_>,
        config: &Bound<'_, PyAny>,
        images: Option<(PyReadonlyArray3<'_, u8>, PyReadonlyArray1<'_, u8>)>,
        set: Vec<String>,
    ) -> PyResult<Self> {
        let config = load_config(config, &set)?;
        let images = load_images(&config, images)?;
        let core = py
            .detach(|| Core::new(&config, images))
            .map_err(|e| ConfigError::new_err(e.to_string()))?;
        Ok(Self {
            core,
            spike_monitors: Vec::new(),
            trace_monitors: Vec::new(),
        })
    }

    /// Runs ``steps`` steps, or ``ms`` milliseconds of simulated time
    /// (rounded to whole steps); with neither, the steps the config has
    /// left. Can be called again: the run continues. The GIL is released
    /// while stepping; Ctrl-C raises ``KeyboardInterrupt`` within about
    /// 50 ms, leaving the state at a whole step. ``callback(sim)`` is
    /// called every ``every`` steps (with the GIL); it may read or change
    /// the state, and stops the run by returning ``False``. Returns the
    /// number of steps done.
    #[pyo3(signature = (steps = None, *, ms = None, callback = None, every = 1000))]
    fn run(
        slf: &Bound<'_, Self>,
        steps: Option<u64>,
        ms: Option<f64>,
        callback: Option<Bound<'_, PyAny>>,
        every: u64,
    ) -> PyResult<u64> {
        let py = slf.py();
        let total = {
            let me = slf.borrow();
            match (steps, ms) {
                (Some(_), Some(_)) => {
                    return Err(PyValueError::new_err("run: give steps or ms, not both"));
                }
                (Some(n), None) => n,
                (None, Some(ms)) if ms >= 0.0 && ms.is_finite() => (ms / me.dt_ms()).round() as u64,
                (None, Some(ms)) => {
                    return Err(PyValueError::new_err(format!(
                        "run: ms must be a finite number >= 0, not {ms}"
                    )));
                }
                (None, None) => me.core.total_steps().saturating_sub(me.core.steps_done()),
            }
        };
        if every == 0 {
            return Err(PyValueError::new_err("run: every must be at least 1"));
        }
        let mut done = 0;
        // Steps between looks at signals, grown or shrunk to take about
        // SIGNAL_EVERY each.
        let mut chunk = 1u64;
        while done < total {
            let until_callback = if callback.is_some() {
                every - (done % every)
            } else {
                u64::MAX
            };
            let n = chunk.min(total - done).min(until_callback);
            let took = {
                let mut me = slf.borrow_mut();
                let me = &mut *me;
                py.detach(|| {
                    let started = Instant::now();
                    me.advance(n);
                    started.elapsed()
                })
            };
            done += n;
            if took < SIGNAL_EVERY / 2 {
                chunk = chunk.saturating_mul(2);
            } else if took > SIGNAL_EVERY && chunk > 1 {
                chunk /= 2;
            }
            py.check_signals()?;
            if let Some(cb) = &callback
                && done % every == 0
            {
                let go = cb.call1((slf,))?;
                if go.is_instance_of::<PyBool>() && !go.extract::<bool>()? {
                    break;
                }
            }
        }
        Ok(done)
    }

    /// Advances one step.
    fn step(&mut self, py: Python<'_>) {
        py.detach(|| self.advance(1));
    }

    /// Steps done since the start.
    #[getter]
    fn steps_done(&self) -> u64 {
        self.core.steps_done()
    }

    /// Simulated time so far (ms).
    #[getter]
    fn t_ms(&self) -> f64 {
        self.core.steps_done() as f64 * self.dt_ms()
    }

    /// The time step (ms).
    #[getter(dt_ms)]
    fn get_dt_ms(&self) -> f64 {
        self.dt_ms()
    }

    /// Worker threads.
    #[getter]
    fn threads(&self) -> usize {
        self.core.threads()
    }

    /// Layer names, in config order.
    #[getter]
    fn layers(&self) -> Vec<String> {
        self.core.layer_names()
    }

    /// Projection names, in config order.
    #[getter]
    fn projections(&self) -> Vec<String> {
        self.core.projection_names()
    }

    /// The resolved config (defaults filled in) as TOML text, as the
    /// output file's ``config_toml``.
    fn to_toml(&self) -> String {
        self.core.config().to_toml()
    }

    /// Variable ``var`` of every neuron of ``layer`` after the last step
    /// (float32), as ``[[record.traces]]`` records it: ``voltage`` (mV),
    /// ``current`` (nA), ``input`` (nA), ``theta``/``threshold`` (mV,
    /// LIF) and each model's own (``recovery``, ``adaptation``, ...).
    fn get<'py>(
        &mut self,
        py: Python<'py>,
        layer: &str,
        var: &str,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        Ok(self
            .core
            .read(layer, var)
            .map_err(value_error)?
            .into_pyarray(py))
    }

    /// Voltages of neuron layer ``layer`` after the last step (mV).
    fn voltage<'py>(
        &mut self,
        py: Python<'py>,
        layer: &str,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        self.get(py, layer, "voltage")
    }

    /// Sets the voltages of ``layer`` (mV), one per neuron.
    fn set_voltage(&mut self, layer: &str, v: PyReadonlyArray1<'_, f32>) -> PyResult<()> {
        self.core
            .set_voltages(layer, v.as_slice()?)
            .map_err(value_error)
    }

    /// The synaptic current ``J = Σ_c J_c`` that drove the last step of
    /// each neuron of ``layer`` (nA), as the ``current`` recordable.
    fn current<'py>(
        &mut self,
        py: Python<'py>,
        layer: &str,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        self.get(py, layer, "current")
    }

    /// Sets the state of the first synaptic current ``J_0`` of ``layer``
    /// (nA; the conductance ``g_0`` in µS where it is conductance-based),
    /// one per neuron: the next step starts from it.
    fn set_current(&mut self, layer: &str, j: PyReadonlyArray1<'_, f32>) -> PyResult<()> {
        self.core
            .set_currents(layer, j.as_slice()?)
            .map_err(value_error)
    }

    /// Individual threshold offsets θ of ``layer`` (mV).
    fn theta<'py>(&mut self, py: Python<'py>, layer: &str) -> PyResult<Bound<'py, PyArray1<f32>>> {
        self.get(py, layer, "theta")
    }

    /// Sets the threshold offsets θ of ``layer`` (mV), one per neuron.
    fn set_theta(&mut self, layer: &str, theta: PyReadonlyArray1<'_, f32>) -> PyResult<()> {
        self.core
            .set_thetas(layer, theta.as_slice()?)
            .map_err(value_error)
    }

    /// The shared threshold σ of ``layer`` (mV).
    fn sigma(&mut self, layer: &str) -> PyResult<f64> {
        self.core.try_sigma(layer).map_err(value_error)
    }

    /// Sets the shared threshold σ of ``layer`` (mV).
    fn set_sigma(&mut self, layer: &str, sigma: f64) -> PyResult<()> {
        self.core.set_sigma(layer, sigma).map_err(value_error)
    }

    /// Intensities of encoder layer ``layer`` (in [0, 1]).
    fn intensities<'py>(
        &mut self,
        py: Python<'py>,
        layer: &str,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        Ok(self
            .core
            .intensities(layer)
            .map_err(value_error)?
            .into_pyarray(py))
    }

    /// Sets the intensities of encoder layer ``layer``, one per neuron.
    fn set_intensities(&mut self, layer: &str, x: PyReadonlyArray1<'_, f32>) -> PyResult<()> {
        self.core
            .try_set_intensities(layer, x.as_slice()?)
            .map_err(value_error)
    }

    /// Indices of the neurons of ``layer`` that spiked at the last step
    /// (uint32).
    fn spikes<'py>(&mut self, py: Python<'py>, layer: &str) -> PyResult<Bound<'py, PyArray1<u32>>> {
        Ok(self
            .core
            .try_spikes(layer)
            .map_err(value_error)?
            .into_pyarray(py))
    }

    /// The weights of ``projection``: a ``pre × post`` float32 array for
    /// dense connectivity, else ``(pre, post, w)`` arrays, one entry per
    /// synapse in storage order (by pre neuron, targets ascending).
    fn weights<'py>(&mut self, py: Python<'py>, projection: &str) -> PyResult<Bound<'py, PyAny>> {
        match self.core.try_weights(projection).map_err(value_error)? {
            Weights::Dense { n_post, w } => {
                let n_pre = w.len().checked_div(n_post).unwrap_or(0);
                let a = numpy::ndarray::Array2::from_shape_vec((n_pre, n_post), w)
                    .expect("n_pre × n_post");
                Ok(a.into_pyarray(py).into_any())
            }
            Weights::Sparse {
                row_start, post, w, ..
            } => {
                let mut pre = Vec::with_capacity(post.len());
                for (j, r) in row_start.windows(2).enumerate() {
                    pre.extend(std::iter::repeat_n(j as u32, r[1] - r[0]));
                }
                let t = (
                    pre.into_pyarray(py),
                    post.into_pyarray(py),
                    w.into_pyarray(py),
                );
                Ok(t.into_pyobject(py)?.into_any())
            }
        }
    }

    /// Sets the weights of ``projection``: a ``pre × post`` array (dense)
    /// or one value per synapse in storage order (as ``weights`` gives
    /// them).
    fn set_weights(&mut self, projection: &str, w: &Bound<'_, PyAny>) -> PyResult<()> {
        let values: Vec<f32> = match w.extract::<numpy::PyReadonlyArray2<'_, f32>>() {
            Ok(a) => a.as_array().iter().copied().collect(),
            Err(_) => w
                .extract::<PyReadonlyArray1<'_, f32>>()?
                .as_slice()?
                .to_vec(),
        };
        self.core
            .set_weights(projection, &values)
            .map_err(value_error)
    }

    /// Keeps the spikes of ``layer`` in memory from now on; read them
    /// with ``spike_trains``.
    fn monitor_spikes(&mut self, layer: &str) -> PyResult<()> {
        self.core.try_spikes(layer).map_err(value_error)?;
        self.spike_monitors.push(SpikeMonitor {
            layer: layer.to_owned(),
            ..SpikeMonitor::default()
        });
        Ok(())
    }

    /// Keeps ``var`` of every neuron of ``layer`` in memory every
    /// ``every`` steps from now on; read them with ``trace``.
    #[pyo3(signature = (layer, var, every = 1))]
    fn monitor_trace(&mut self, layer: &str, var: &str, every: u64) -> PyResult<()> {
        let neurons = self.core.read(layer, var).map_err(value_error)?.len();
        if every == 0 {
            return Err(PyValueError::new_err(
                "monitor_trace: every must be at least 1",
            ));
        }
        self.trace_monitors.push(TraceMonitor {
            layer: layer.to_owned(),
            var: var.to_owned(),
            every,
            steps: Vec::new(),
            values: Vec::new(),
            neurons,
        });
        Ok(())
    }

    /// The spikes of a monitored layer: ``(t_ms, i)``, the step's index
    /// times dt (float64, ms; as the output file's ``timestamps``) and the
    /// neuron (uint32), in order of time.
    fn spike_trains<'py>(
        &self,
        py: Python<'py>,
        layer: &str,
    ) -> PyResult<Timed<'py, PyArray1<u32>>> {
        let m = self
            .spike_monitors
            .iter()
            .find(|m| m.layer == layer)
            .ok_or_else(|| {
                PyValueError::new_err(format!("layer '{layer}' is not monitored (monitor_spikes)"))
            })?;
        let dt = self.dt_ms();
        let t: Vec<f64> = m.steps.iter().map(|&s| s as f64 * dt).collect();
        Ok((t.into_pyarray(py), m.neurons.clone().into_pyarray(py)))
    }

    /// A monitored variable: ``(t_ms, values)``, the step times (float64,
    /// ms) and a ``frames × neurons`` float32 array.
    fn trace<'py>(
        &self,
        py: Python<'py>,
        layer: &str,
        var: &str,
    ) -> PyResult<Timed<'py, PyArray2<f32>>> {
        let m = self
            .trace_monitors
            .iter()
            .find(|m| m.layer == layer && m.var == var)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "'{var}' of layer '{layer}' is not monitored (monitor_trace)"
                ))
            })?;
        let dt = self.dt_ms();
        let t: Vec<f64> = m.steps.iter().map(|&s| s as f64 * dt).collect();
        let a =
            numpy::ndarray::Array2::from_shape_vec((m.steps.len(), m.neurons), m.values.clone())
                .expect("frames × neurons");
        Ok((t.into_pyarray(py), a.into_pyarray(py)))
    }

    /// Puts every neuron at rest, drops pending input and clears STDP
    /// traces; thresholds and weights are kept.
    fn reset_state(&mut self) {
        self.core.reset_state();
    }

    fn __repr__(&self) -> String {
        format!(
            "Simulation(layers={:?}, steps_done={}, dt_ms={}, threads={})",
            self.core.layer_names(),
            self.core.steps_done(),
            self.dt_ms(),
            self.core.threads()
        )
    }
}

/// The resolved config (defaults filled in, `[scale]` applied) of
/// ``config`` with ``set`` overrides, as TOML text; raises ``ConfigError``
/// as ``Simulation`` does, without building the network.
#[pyfunction]
#[pyo3(signature = (config, set = Vec::new()))]
fn resolve(config: &Bound<'_, PyAny>, set: Vec<String>) -> PyResult<String> {
    Ok(load_config(config, &set)?.to_toml())
}

/// The module.
#[pymodule]
fn _spikesim(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Simulation>()?;
    m.add_function(wrap_pyfunction!(resolve, m)?)?;
    m.add("ConfigError", m.py().get_type::<ConfigError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
