//! The dynamic state of a network at a step boundary, as named columns of
//! values: everything the next step depends on that the config does not
//! determine.
//!
//! | column | per | values |
//! |---|---|---|
//! | `clock` | run | the step count `n` |
//! | `synapse_events` | run | events delivered so far |
//! | `plasticity` | run | STDP on, threshold adaptation on (0/1) |
//! | `voltage`, `current`, `current2` | neuron | V (mV), the first and second synaptic variable (nA, or µS where conductance-based) |
//! | `membrane_current` | neuron of a conductance-based layer | J of the last step (nA) |
//! | each model's [`NeuronModel::STATE`](crate::neuron::NeuronModel::STATE) | neuron, layer | LIF `refractory`, `theta` (f64), `sigma` (f64); Izhikevich `recovery`; AdEx `adaptation`, `adex_refractory` |
//! | `spiked` | neuron, encoder | spiked at the last step (0/1) |
//! | `encoder_rng` | encoder | the xoshiro256++ state, 4 words |
//! | `intensity` | encoder | the intensity shown |
//! | `spikes_previous`, `spikes_current` (+ `_len`) | layer | the last two steps' spike lists, concatenated, and their lengths |
//! | `spikes_emitted` | layer | spikes since the start |
//! | `input_ring` | layer | every pending input slot (spikes in flight on delays) |
//! | `plastic_weights`, `stdp_pre`, `stdp_post`, `stdp_post2` | projection with STDP | weights and traces |
//! | `recorder_*` | recorder | partial rate bins, per-sample counts so far, last weight snapshot |
//!
//! Weights without STDP, parameters, connectivity and the stimulus are
//! rebuilt from the config and seed. Per-neuron columns list entities in the
//! order the network builder spawned them, which the same config reproduces;
//! a column whose length does not match the rebuilt network is an error.

use bevy_ecs::component::Mutable;
use bevy_ecs::prelude::*;

use crate::encoder::{EncoderRng, Intensity};
use crate::layer::{LayerSpikes, Spiked};
use crate::neuron::input::InputRing;
use crate::neuron::synaptic::{Current, Current2, MembraneCurrent};
use crate::neuron::{MODEL_STATE, Voltage};
use crate::record::batch::{Values, column};
use crate::record::collect::Recorder;
use crate::rng::Xoshiro256Words;
use crate::step::{Clock, Plasticity};
use crate::synapse::stdp::Stdp;
use crate::synapse::{DeliveryStats, Weights};

/// Named columns of state values.
pub type Columns = Vec<(String, Values)>;

/// One state variable of a neuron model, as a resume point saves it: its
/// column name, and how to read it from every entity that has it and set it
/// back ([`state_column!`](crate::state_column) makes one).
pub struct StateColumn {
    /// The column's name, unique among all models'.
    pub name: &'static str,
    /// The values of every entity that has the variable, in query order.
    pub capture: fn(&mut World) -> Values,
    /// Sets them back; fails naming the column when they do not fit.
    pub restore: fn(&mut World, &Values) -> Result<(), String>,
}

/// A [`StateColumn`] named `$name` of component `$c`, stored as the
/// [`Values`] variant `$variant` read by `$typed` ([`f32s`], [`f64s`],
/// [`u32s`]); `$get` maps a `&$c` to the stored value, `$set` a `&mut $c`
/// and a `&` stored value to the update.
#[macro_export]
macro_rules! state_column {
    ($name:literal, $c:ty, $variant:ident, $typed:ident, $get:expr, $set:expr) => {
        $crate::resume::state::StateColumn {
            name: $name,
            capture: |world| {
                $crate::record::batch::Values::$variant($crate::resume::state::each::<$c, _>(
                    world, $get,
                ))
            },
            restore: |world, values| {
                let values = $crate::resume::state::$typed(values, $name)?;
                $crate::resume::state::set_each::<$c, _>(world, values, $set)
            },
        }
    };
}

/// The state of `world` after its last step.
pub fn capture(world: &mut World) -> Columns {
    let mut c = Columns::new();
    let mut put = |name: &str, v: Values| c.push((name.to_owned(), v));
    put("clock", Values::U64(vec![world.resource::<Clock>().step]));
    put(
        "synapse_events",
        Values::U64(vec![world.resource::<DeliveryStats>().synapse_events]),
    );
    let p = *world.resource::<Plasticity>();
    put(
        "plasticity",
        Values::U32(vec![p.stdp.into(), p.thresholds.into()]),
    );
    put("voltage", Values::F32(each(world, |c: &Voltage| c.0)));
    put("current", Values::F32(each(world, |c: &Current| c.0)));
    put("current2", Values::F32(each(world, |c: &Current2| c.0)));
    put(
        "membrane_current",
        Values::F32(each(world, |c: &MembraneCurrent| c.0)),
    );
    put("spiked", Values::U32(each(world, |c: &Spiked| c.0.into())));
    let rng: Vec<[u64; 4]> = each(world, |c: &EncoderRng| c.0.0);
    put("encoder_rng", Values::U64(rng.concat()));
    put("intensity", Values::F32(each(world, |c: &Intensity| c.0)));
    let previous: Vec<Vec<u32>> = each(world, |s: &LayerSpikes| s.previous.clone());
    let current: Vec<Vec<u32>> = each(world, |s: &LayerSpikes| s.current.clone());
    let lens = |lists: &[Vec<u32>]| Values::U64(lists.iter().map(|l| l.len() as u64).collect());
    put("spikes_previous_len", lens(&previous));
    put("spikes_current_len", lens(&current));
    put("spikes_previous", Values::U32(previous.concat()));
    put("spikes_current", Values::U32(current.concat()));
    put(
        "spikes_emitted",
        Values::U64(each(world, |s: &LayerSpikes| s.emitted)),
    );
    let ring: Vec<Vec<f32>> = each(world, |r: &InputRing| r.values().collect());
    put("input_ring", Values::F32(ring.concat()));
    let mut q = world.query::<(&Weights, &Stdp)>();
    let (mut w, mut pre, mut post, mut post2) = (vec![], vec![], vec![], vec![]);
    for (weights, s) in q.iter(world) {
        w.extend_from_slice(weights.values());
        pre.extend_from_slice(&s.pre);
        post.extend_from_slice(&s.post);
        post2.extend_from_slice(&s.post2);
    }
    put("plastic_weights", Values::F32(w));
    put("stdp_pre", Values::F32(pre));
    put("stdp_post", Values::F32(post));
    put("stdp_post2", Values::F32(post2));
    for column in MODEL_STATE.iter().copied().flatten() {
        c.push((column.name.to_owned(), (column.capture)(world)));
    }
    c.extend(world.resource::<Recorder>().resume_state());
    c
}

/// Sets the state of `world`, built from the same config, to `columns`
/// ([`capture`]'s). Fails, naming the column, when one is missing or does
/// not fit this network.
pub fn restore(world: &mut World, columns: &Columns) -> Result<(), String> {
    let get = |name: &str| column(columns, name);
    let clock = scalar(get("clock")?, "clock")?;
    world.resource_mut::<Clock>().step = clock;
    world.resource_mut::<DeliveryStats>().synapse_events =
        scalar(get("synapse_events")?, "synapse_events")?;
    let [stdp, thresholds] = u32s(get("plasticity")?, "plasticity")?[..] else {
        return Err("column 'plasticity' holds other than 2 values".into());
    };
    *world.resource_mut::<Plasticity>() = Plasticity {
        stdp: stdp != 0,
        thresholds: thresholds != 0,
    };
    set_each(
        world,
        f32s(get("voltage")?, "voltage")?,
        |c: &mut Voltage, v| c.0 = *v,
    )?;
    set_each(
        world,
        f32s(get("current")?, "current")?,
        |c: &mut Current, v| c.0 = *v,
    )?;
    set_each(
        world,
        f32s(get("current2")?, "current2")?,
        |c: &mut Current2, v| c.0 = *v,
    )?;
    set_each(
        world,
        f32s(get("membrane_current")?, "membrane_current")?,
        |c: &mut MembraneCurrent, v| c.0 = *v,
    )?;
    set_each(
        world,
        u32s(get("spiked")?, "spiked")?,
        |c: &mut Spiked, v| c.0 = *v != 0,
    )?;
    let words: Vec<[u64; 4]> = u64s(get("encoder_rng")?, "encoder_rng")?
        .chunks(4)
        .map(|w| w.try_into().unwrap_or([0; 4]))
        .collect();
    set_each(world, &words, |c: &mut EncoderRng, w| {
        c.0 = Xoshiro256Words(*w)
    })?;
    set_each(
        world,
        f32s(get("intensity")?, "intensity")?,
        |c: &mut Intensity, v| c.0 = *v,
    )?;
    let previous = split(
        u32s(get("spikes_previous")?, "spikes_previous")?,
        u64s(get("spikes_previous_len")?, "spikes_previous_len")?,
        "spikes_previous",
    )?;
    let current = split(
        u32s(get("spikes_current")?, "spikes_current")?,
        u64s(get("spikes_current_len")?, "spikes_current_len")?,
        "spikes_current",
    )?;
    let emitted = u64s(get("spikes_emitted")?, "spikes_emitted")?;
    if previous.len() != emitted.len() || current.len() != emitted.len() {
        return Err("the spike columns disagree on the number of layers".into());
    }
    let lists: Vec<(&[u32], &[u32], u64)> = (previous.into_iter().zip(current))
        .zip(emitted)
        .map(|((p, c), &e)| (p, c, e))
        .collect();
    set_each(world, &lists, |s: &mut LayerSpikes, (p, c, e)| {
        s.previous = p.to_vec();
        s.current = c.to_vec();
        s.emitted = *e;
    })?;
    let mut ring = f32s(get("input_ring")?, "input_ring")?;
    let mut q = world.query::<&mut InputRing>();
    let slots: usize = q.iter(world).map(|r| r.values().count()).sum();
    if slots != ring.len() {
        return Err(format!(
            "the resume point holds {} pending input values, this network's rings {slots}",
            ring.len()
        ));
    }
    for mut r in q.iter_mut(world) {
        let taken = r.set_values(ring);
        ring = &ring[taken..];
    }
    let mut w = f32s(get("plastic_weights")?, "plastic_weights")?;
    let mut pre = f32s(get("stdp_pre")?, "stdp_pre")?;
    let mut post = f32s(get("stdp_post")?, "stdp_post")?;
    let mut post2 = f32s(get("stdp_post2")?, "stdp_post2")?;
    let mut q = world.query::<(&mut Weights, &mut Stdp)>();
    for (mut weights, mut s) in q.iter_mut(world) {
        take_into(weights.values_mut(), &mut w, "plastic_weights")?;
        take_into(&mut s.pre, &mut pre, "stdp_pre")?;
        take_into(&mut s.post, &mut post, "stdp_post")?;
        take_into(&mut s.post2, &mut post2, "stdp_post2")?;
    }
    if !(w.is_empty() && pre.is_empty() && post.is_empty() && post2.is_empty()) {
        return Err("the STDP columns hold more values than this network's projections".into());
    }
    for column in MODEL_STATE.iter().copied().flatten() {
        (column.restore)(world, get(column.name)?)?;
    }
    world
        .resource_mut::<Recorder>()
        .restore_resume_state(columns)
}

/// The value of component `C` of every entity that has it, in query order.
pub fn each<C: Component, T>(world: &mut World, f: impl Fn(&C) -> T) -> Vec<T> {
    let mut q = world.query::<&C>();
    q.iter(world).map(f).collect()
}

/// Sets component `C` of every entity that has it from `values`, in the
/// order of [`each`]; the counts must match.
pub fn set_each<C: Component<Mutability = Mutable>, T>(
    world: &mut World,
    values: &[T],
    f: impl Fn(&mut C, &T),
) -> Result<(), String> {
    let mut q = world.query::<&mut C>();
    let n = q.iter(world).count();
    if n != values.len() {
        return Err(format!(
            "the resume point holds {} values of {}, this network has {n}",
            values.len(),
            std::any::type_name::<C>()
                .rsplit("::")
                .next()
                .unwrap_or("?")
        ));
    }
    for (mut c, v) in q.iter_mut(world).zip(values) {
        f(&mut c, v);
    }
    Ok(())
}

/// Copies the first `dst.len()` values of `src` into `dst` and drops them
/// from `src`.
fn take_into(dst: &mut [f32], src: &mut &[f32], name: &str) -> Result<(), String> {
    if src.len() < dst.len() {
        return Err(format!(
            "column '{name}' holds fewer values than this network needs"
        ));
    }
    let (head, rest) = src.split_at(dst.len());
    dst.copy_from_slice(head);
    *src = rest;
    Ok(())
}

/// Splits `values` into consecutive lists of `lens[k]` values.
fn split<'a>(values: &'a [u32], lens: &[u64], name: &str) -> Result<Vec<&'a [u32]>, String> {
    let mut rest = values;
    let mut out = Vec::with_capacity(lens.len());
    for &n in lens {
        let n = usize::try_from(n).ok().filter(|&n| n <= rest.len());
        let n = n.ok_or_else(|| format!("column '{name}' is shorter than its lengths say"))?;
        let (head, tail) = rest.split_at(n);
        out.push(head);
        rest = tail;
    }
    if rest.is_empty() {
        Ok(out)
    } else {
        Err(format!("column '{name}' is longer than its lengths say"))
    }
}

fn scalar(v: &Values, name: &str) -> Result<u64, String> {
    match u64s(v, name)? {
        [x] => Ok(*x),
        _ => Err(format!("column '{name}' holds other than 1 value")),
    }
}

/// The values of a column of type `$variant`, or an error naming it.
macro_rules! typed {
    ($name:ident, $variant:ident, $t:ty, $h5:literal) => {
        #[doc = concat!("The values of column `name` if it is ", $h5, ", else an error naming it.")]
        pub fn $name<'a>(v: &'a Values, name: &str) -> Result<&'a [$t], String> {
            match v {
                Values::$variant(x) => Ok(x),
                _ => Err(format!("column '{name}' is not {}", $h5)),
            }
        }
    };
}
typed!(f64s, F64, f64, "float64");
typed!(f32s, F32, f32, "float32");
typed!(u32s, U32, u32, "uint32");
typed!(u64s, U64, u64, "uint64");
