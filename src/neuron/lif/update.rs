//! The LIF update system: every LIF neuron's step fused into one pass over
//! the component columns (see [`super`] for the equations).

use bevy_ecs::prelude::*;

use super::threshold::{IndividualAdaptation, LayerThreshold, Threshold, ThresholdParams};
use super::{LifNeuron, LifParams, Refractory};
use crate::layer::{InLayer, LayerSpikes, Spiked, layer_runs, publish_spikes};
use crate::neuron::Voltage;
use crate::neuron::synaptic::{
    CURRENT_DRIVE, Current, Current2, Drive, ExternalCurrent, SynapticCurrent,
};
use crate::step::{Clock, Plasticity, Rows, for_rows};
use crate::synapse::{InputRing, SharedSlot};

/// The component columns of a run of neuron rows.
pub struct NeuronRows<'a> {
    at: &'a [InLayer],
    j: &'a mut [Current],
    j2: Option<&'a mut [Current2]>,
    v: &'a mut [Voltage],
    refr: &'a mut [Refractory],
    th: &'a mut [Threshold],
    s: &'a mut [Spiked],
}

impl Rows for NeuronRows<'_> {
    fn len(&self) -> usize {
        self.at.len()
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (at0, at1) = self.at.split_at(mid);
        let (j0, j1) = self.j.split_at_mut(mid);
        let (j20, j21) = match self.j2 {
            Some(j2) => {
                let (a, b) = j2.split_at_mut(mid);
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        let (v0, v1) = self.v.split_at_mut(mid);
        let (r0, r1) = self.refr.split_at_mut(mid);
        let (t0, t1) = self.th.split_at_mut(mid);
        let (s0, s1) = self.s.split_at_mut(mid);
        (
            NeuronRows {
                at: at0,
                j: j0,
                j2: j20,
                v: v0,
                refr: r0,
                th: t0,
                s: s0,
            },
            NeuronRows {
                at: at1,
                j: j1,
                j2: j21,
                v: v1,
                refr: r1,
                th: t1,
                s: s1,
            },
        )
    }
}

/// Every LIF neuron's step, fused into one pass over the component columns:
/// synaptic currents, voltage (or refractory hold), threshold crossing and
/// reset, then individual threshold adaptation `θ ← θ − θ·dt/τ_θ + β s`.
/// The spike test uses `σ + θ` from before this step's adaptation, as if
/// `integrate`, `fire` and `adapt` ran one after another; fusing them saves
/// two passes over memory. The loops are branch-free over column slices so
/// that they vectorize. Spiking neurons are appended to their layer's
/// spike list.
///
/// All LIF layers of a table go in one pass, split between threads by rows
/// whatever layer they belong to, so that a small layer (CUBA's inhibitory
/// fifth) neither runs alone on one thread nor costs a hand-off of its own.
#[allow(clippy::type_complexity)]
pub fn update(
    clock: Res<Clock>,
    plasticity: Res<Plasticity>,
    mut layers: Query<(
        Entity,
        &LifParams,
        &ExternalCurrent,
        &mut InputRing,
        &LayerThreshold,
        &ThresholdParams,
    )>,
    mut neurons: Query<
        (
            &InLayer,
            &mut Current,
            Option<&mut Current2>,
            &mut Voltage,
            &mut Refractory,
            &mut Threshold,
            &mut Spiked,
        ),
        With<LifNeuron>,
    >,
    mut lists: Query<&mut LayerSpikes>,
    mut fired: Local<Vec<(Entity, u32)>>,
    mut spare: Local<LayerList>,
) {
    let n = clock.step;
    let mut steps = reuse(&mut spare.0);
    steps.extend(layers.iter_mut().map(|(layer, p, ext, ring, sigma, tp)| {
        let ring = ring.into_inner();
        // Frozen thresholds: θ ← θ − θ·0 + 0 keeps θ exactly.
        let IndividualAdaptation { decay, beta } = match tp.individual {
            Some(a) if plasticity.thresholds => a,
            _ => IndividualAdaptation {
                decay: 0.0,
                beta: 0.0,
            },
        };
        let drive = |c: usize| p.currents.get(c).map_or(CURRENT_DRIVE, |r| r.drive);
        let membrane = Membrane {
            currents: &p.currents,
            ext: ext.at(n),
            adapt: tp.individual.is_some(),
            zero: !ring.keep_consumed,
            a_v: p.dt_over_tau_v,
            k_v: p.k_v,
            r: p.r,
            v_rest: p.v_rest,
            v_reset: p.v_reset,
            sigma: sigma.sigma,
            lock_steps: p.lock_steps,
            free_at: p.lock_steps - p.ref_steps,
            decay,
            beta,
            drive: [drive(0), drive(1)],
        };
        LayerStep {
            layer,
            membrane,
            input: ring.consume(n),
        }
    }));
    let kernel = |out: &mut Vec<(Entity, u32)>, rows: NeuronRows| {
        let at = rows.at;
        let mut rest = rows;
        for run in layer_runs(at) {
            let (rows, tail) = rest.split_at(run.len());
            rest = tail;
            let layer = at[run.start].layer;
            let step = steps
                .iter()
                .find(|s| s.layer == layer)
                .expect("a LIF neuron's layer has LifParams (a LIF marker only on LIF neurons)");
            step.run(out, rows);
        }
    };
    for (at, mut j, mut j2, mut v, mut refr, mut th, mut s) in neurons
        .contiguous_iter_mut()
        .expect("table-stored components")
    {
        let rows = NeuronRows {
            at,
            j: j.bypass_change_detection(),
            j2: j2.as_mut().map(|j2| j2.bypass_change_detection()),
            v: v.bypass_change_detection(),
            refr: refr.bypass_change_detection(),
            th: th.bypass_change_detection(),
            s: s.bypass_change_detection(),
        };
        for_rows(rows, &mut fired, &kernel);
    }
    publish_spikes(&mut fired, &mut lists);
    spare.0 = reuse(&mut steps);
}

/// The buffer of `update`'s per-step list of layers, kept between steps so
/// that a step allocates nothing (about 280 instructions a step).
#[derive(Default)]
pub struct LayerList(Vec<LayerStep<'static>>);

/// The buffer of `v`, emptied, for the same list with other borrows. An
/// emptied vector's iterator collected into one of the same element layout
/// reuses its buffer (the standard library collects such iterators in
/// place); no element is ever mapped.
fn reuse<'b>(v: &mut Vec<LayerStep<'_>>) -> Vec<LayerStep<'b>> {
    v.clear();
    std::mem::take(v)
        .into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

/// One LIF layer's share of `update`: its constants and this step's input.
struct LayerStep<'a> {
    layer: Entity,
    membrane: Membrane<'a>,
    input: [SharedSlot<'a>; 2],
}

impl LayerStep<'_> {
    /// Steps `rows`, consecutive neurons of this layer, appending spikes to `out`.
    fn run(&self, out: &mut Vec<(Entity, u32)>, rows: NeuronRows) {
        let NeuronRows {
            at,
            j,
            mut j2,
            v,
            refr,
            th,
            s,
        } = rows;
        // Neurons are spawned in index order and never despawned, so
        // the rows of a layer hold consecutive indices.
        let Some(first) = at.first().map(|a| a.index as usize) else {
            return;
        };
        debug_assert_eq!(at[at.len() - 1].index as usize, first + at.len() - 1);
        let two = self.membrane.currents.len() > 1;
        // Blocks small enough that the currents just written are still
        // in L1 when the voltage step reads them.
        for start in (0..at.len()).step_by(BLOCK) {
            let b = start..(start + BLOCK).min(at.len());
            let ib = first + b.start..first + b.end;
            // SAFETY: `for_rows` gives each row to exactly one part, and
            // a layer's neurons have one row each, so the blocks `ib` of
            // parts running in parallel never overlap.
            let (input0, input1) = unsafe {
                (
                    self.input[0].block(ib.clone()),
                    self.input[1].block(if two { ib.clone() } else { 0..0 }),
                )
            };
            let block = Block {
                j: &mut j[b.clone()],
                j2: j2
                    .as_deref_mut()
                    .filter(|_| two)
                    .map(|j2| &mut j2[b.clone()]),
                input0,
                input1,
                v: &mut v[b.clone()],
                refr: &mut refr[b.clone()],
                th: &mut th[b.clone()],
                s: &mut s[b.clone()],
            };
            let spikes = step_block(&self.membrane, block);
            push_spikes(out, self.layer, &s[b.clone()], ib.start, spikes);
        }
    }
}

/// Appends `(layer, first + k)` for each of the `count` rows `k` of `s` that
/// spiked. Spikes are rare: 32-row chunks without one are passed over with
/// one vector test, and the scan stops at the last spike.
fn push_spikes(
    out: &mut Vec<(Entity, u32)>,
    layer: Entity,
    s: &[Spiked],
    first: usize,
    count: usize,
) {
    const CHUNK: usize = 32;
    let mut left = count;
    for (c, chunk) in s.chunks(CHUNK).enumerate() {
        if left == 0 {
            break;
        }
        if !chunk.iter().fold(false, |any, x| any | x.0) {
            continue;
        }
        for (k, _) in chunk.iter().enumerate().filter(|(_, x)| x.0) {
            out.push((layer, (first + c * CHUNK + k) as u32));
            left -= 1;
        }
    }
}

/// One block of rows of a layer: its component columns and its slices of
/// this step's input.
struct Block<'a> {
    j: &'a mut [Current],
    j2: Option<&'a mut [Current2]>,
    input0: &'a mut [f32],
    input1: &'a mut [f32],
    v: &'a mut [Voltage],
    refr: &'a mut [Refractory],
    th: &'a mut [Threshold],
    s: &'a mut [Spiked],
}

/// The step of one block: synaptic currents, then voltage, spikes and
/// (with `m.adapt`) individual thresholds, and (with `m.zero`) the input
/// read set back to 0 while it is still in cache; returns the number of
/// spikes.
/// Where the CPU has AVX2 (checked at
/// run time) the same code is compiled for it, with 8-wide instead of
/// 4-wide vectors; it performs the same IEEE operations in the same order
/// (no fused multiply-add), so results are identical either way.
fn step_block(m: &Membrane, b: Block) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { step_block_avx2(m, b) };
    }
    step_block_portable(m, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn step_block_avx2(m: &Membrane, b: Block) -> usize {
    step_block_portable(m, b)
}

#[inline(always)]
fn step_block_portable(m: &Membrane, b: Block) -> usize {
    let Block {
        j,
        j2,
        input0,
        input1,
        v,
        refr,
        th,
        s,
    } = b;
    m.currents[0].integrate(j, input0, m.ext, m.zero);
    let j2 = j2.map(|j2| {
        m.currents[1].integrate(j2, input1, 0.0, m.zero);
        &*j2
    });
    let j = &*j;
    let cond = m.drive != [CURRENT_DRIVE; 2];
    match (j2, m.adapt, cond) {
        (None, false, false) => membrane::<false, false, false>(m, j, &[], v, refr, th, s),
        (None, false, true) => membrane::<false, false, true>(m, j, &[], v, refr, th, s),
        (None, true, false) => membrane::<false, true, false>(m, j, &[], v, refr, th, s),
        (None, true, true) => membrane::<false, true, true>(m, j, &[], v, refr, th, s),
        (Some(j2), false, false) => membrane::<true, false, false>(m, j, j2, v, refr, th, s),
        (Some(j2), false, true) => membrane::<true, false, true>(m, j, j2, v, refr, th, s),
        (Some(j2), true, false) => membrane::<true, true, false>(m, j, j2, v, refr, th, s),
        (Some(j2), true, true) => membrane::<true, true, true>(m, j, j2, v, refr, th, s),
    }
}

/// Rows per block of the neuron update.
const BLOCK: usize = 512;

/// The constants of one layer's step.
struct Membrane<'a> {
    /// The synaptic currents ([`LifParams::currents`]).
    currents: &'a [SynapticCurrent],
    /// External current of this step (nA), into the first current.
    ext: f32,
    /// Individual threshold adaptation.
    adapt: bool,
    /// Zero the input once read (see [`InputRing`]).
    zero: bool,
    a_v: f32,
    k_v: f32,
    r: f32,
    v_rest: f32,
    v_reset: f32,
    sigma: f32,
    /// [`LifParams::lock_steps`].
    lock_steps: u16,
    /// The voltage is free to move once the countdown is at most this.
    free_at: u16,
    decay: f64,
    beta: f64,
    /// [`SynapticCurrent::drive`] of the (up to two) synaptic currents.
    drive: [Drive; 2],
}

/// Voltage, spike, reset, refractory and (with `ADAPT`) individual
/// threshold of a block of rows, driven by `J = J_0 (+ J_1 with TWO)`.
/// Without individual adaptation θ stays 0 and is neither read nor written.
/// Without `COND` every synaptic current is a current ([`CURRENT_DRIVE`]),
/// and `J_c = g_c · (1 − 0 · V) = g_c` is taken as it is: the same number
/// for any finite `V`, two multiplies and a subtraction fewer per current.
/// Returns the number of spikes.
/// Branch-free, so that it vectorizes.
#[inline(always)]
fn membrane<const TWO: bool, const ADAPT: bool, const COND: bool>(
    m: &Membrane,
    j: &[Current],
    j2: &[Current2],
    v: &mut [Voltage],
    refr: &mut [Refractory],
    th: &mut [Threshold],
    s: &mut [Spiked],
) -> usize {
    let n = v.len();
    assert!(n <= BLOCK && j.len() == n && refr.len() == n && th.len() == n && s.len() == n);
    assert!(!TWO || j2.len() == n);
    // u16 like the refractory countdown, so the count stays in the same
    // vector lanes; a block (`BLOCK` rows) cannot overflow it.
    let mut count = 0u16;
    for k in 0..n {
        let [
            Drive {
                reversal: e0,
                scale: c0,
            },
            Drive {
                reversal: e1,
                scale: c1,
            },
        ] = m.drive;
        let v0 = v[k].0;
        let (g0, g1) = (j[k].0, if TWO { j2[k].0 } else { 0.0 });
        let total0 = if COND { g0 * (e0 - c0 * v0) } else { g0 };
        let total = if TWO {
            total0 + if COND { g1 * (e1 - c1 * v0) } else { g1 }
        } else {
            total0
        };
        let locked = refr[k].0 > 0;
        let held = refr[k].0 > m.free_at;
        let integrated = v0 + m.a_v * (-m.k_v * (v0 - m.v_rest) + m.r * total);
        let vn = if held { m.v_reset } else { integrated };
        let theta = if ADAPT { th[k].theta } else { 0.0 };
        let spike = !locked & (vn >= m.sigma + theta as f32);
        v[k].0 = if spike { m.v_reset } else { vn };
        refr[k].0 = if spike {
            m.lock_steps
        } else {
            refr[k].0 - locked as u16
        };
        if ADAPT {
            th[k].theta = theta - theta * m.decay + if spike { m.beta } else { 0.0 };
        }
        s[k].0 = spike;
        count += spike as u16;
    }
    count as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuron::synaptic::CurrentModel;

    #[test]
    fn push_spikes_finds_every_spike_in_order() {
        // Spikes at rows 0, 31, 32 (chunk edges), 100 and 199 (the last row)
        // of 200, numbered from 1000; a wrong count stops the scan early.
        let layer = Entity::from_raw_u32(7).unwrap();
        let rows = [0, 31, 32, 100, 199];
        let mut s = vec![Spiked(false); 200];
        for &k in &rows {
            s[k].0 = true;
        }
        let mut out = Vec::new();
        push_spikes(&mut out, layer, &s, 1000, rows.len());
        let want: Vec<_> = rows.iter().map(|&k| (layer, 1000 + k as u32)).collect();
        assert_eq!(out, want);
        out.clear();
        push_spikes(&mut out, layer, &s, 1000, 0);
        assert!(out.is_empty());
    }

    /// The AVX2 build of the block step must give bit-identical results to
    /// the portable one (the claim of [`step_block`]): same state, same
    /// input, compare every column bit for bit after 50 steps.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_block_step_is_bit_identical() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: only the portable build exists");
            return;
        }
        let rc = |a| SynapticCurrent {
            model: CurrentModel::Exponential,
            a,
            k: 1.0,
            drive: CURRENT_DRIVE,
        };
        let currents = [rc(0.98), rc(0.99)];
        let m = Membrane {
            currents: &currents,
            ext: 0.1,
            adapt: true,
            zero: true,
            a_v: 0.005,
            k_v: 1.0,
            r: 1.0,
            v_rest: -49.0,
            v_reset: -60.0,
            sigma: -50.0,
            lock_steps: 50,
            free_at: 30,
            decay: 1e-4,
            beta: 0.05,
            drive: [
                Drive {
                    reversal: 0.0,
                    scale: 1.0,
                },
                Drive {
                    reversal: -100.0,
                    scale: 1.0,
                },
            ],
        };
        let n = 203; // not a multiple of any vector width
        let state = |seed: u32| {
            let x =
                |k: usize| ((k as u32).wrapping_mul(2654435761) ^ seed) as f32 / u32::MAX as f32;
            let v: Vec<Voltage> = (0..n).map(|k| Voltage(-60.0 + 10.0 * x(k))).collect();
            let input: Vec<f32> = (0..n).map(|k| 3.0 * x(k + n)).collect();
            (v, input)
        };
        let run = |avx2: bool| {
            let (mut v, input) = state(7);
            let mut j = vec![Current(0.0); n];
            let mut j2 = vec![Current2(0.0); n];
            let mut refr = vec![Refractory(0); n];
            let mut th = vec![Threshold { theta: 0.0 }; n];
            let mut s = vec![Spiked(false); n];
            let mut spikes = 0;
            for _ in 0..50 {
                let (mut input0, mut input1) = (input.clone(), input.clone());
                let b = Block {
                    j: &mut j,
                    j2: Some(&mut j2),
                    input0: &mut input0,
                    input1: &mut input1,
                    v: &mut v,
                    refr: &mut refr,
                    th: &mut th,
                    s: &mut s,
                };
                spikes += if avx2 {
                    // SAFETY: AVX2 was detected above.
                    unsafe { step_block_avx2(&m, b) }
                } else {
                    step_block_portable(&m, b)
                };
            }
            let bits = |x: f32| x.to_bits();
            (
                v.iter().map(|x| bits(x.0)).collect::<Vec<_>>(),
                j.iter().map(|x| bits(x.0)).collect::<Vec<_>>(),
                j2.iter().map(|x| bits(x.0)).collect::<Vec<_>>(),
                th.iter().map(|x| x.theta.to_bits()).collect::<Vec<_>>(),
                refr.iter().map(|x| x.0).collect::<Vec<_>>(),
                spikes,
            )
        };
        let portable = run(false);
        assert!(portable.5 > 0, "the test should make neurons spike");
        assert_eq!(portable, run(true));
    }
}
