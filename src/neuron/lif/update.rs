//! The LIF update system: every LIF neuron's step fused into one pass over
//! the component columns (see [`super`] for the equations).

use bevy_ecs::prelude::*;

use super::threshold::{
    IndividualAdaptation, LayerThreshold, Threshold, ThresholdParams, spike_threshold,
};
use super::{LifCoef, LifNeuron, LifParams, Refractory};
use crate::layer::{InLayer, LayerSpikes, Spiked};
use crate::neuron::Voltage;
use crate::neuron::driver::{
    self, Block, BlockCoefs, Coefs, Integrated, LayerInput, LayerStep, NeuronRows, PerRow, Spare,
    column,
};
use crate::neuron::input::InputRing;
use crate::neuron::synaptic::{
    CURRENT_DRIVE, Current, Current2, Drive, ExternalCurrent, MembraneCurrent, SynapticCurrent,
    drives,
};
use crate::step::{Clock, Plasticity};

/// The LIF columns of a run of rows: voltage, refractory countdown, θ.
type Own<'a> = (&'a mut [Voltage], &'a mut [Refractory], &'a mut [Threshold]);

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
            Option<&mut MembraneCurrent>,
            &mut Voltage,
            &mut Refractory,
            &mut Threshold,
            &mut Spiked,
        ),
        With<LifNeuron>,
    >,
    mut lists: Query<&mut LayerSpikes>,
    mut fired: Local<Vec<(Entity, u32)>>,
    mut spare: Local<Spare<LayerStep<'static, Membrane<'static>>>>,
) {
    let n = clock.step;
    let mut steps = driver::recycle(&mut spare.0);
    steps.extend(layers.iter_mut().map(|(layer, p, ext, ring, sigma, tp)| {
        // Frozen thresholds: θ ← θ − θ·0 + 0 keeps θ exactly.
        let IndividualAdaptation { decay, beta } = match tp.individual {
            Some(a) if plasticity.thresholds => a,
            _ => IndividualAdaptation {
                decay: 0.0,
                beta: 0.0,
            },
        };
        let membrane = Membrane {
            currents: &p.currents,
            adapt: tp.individual.is_some(),
            coefs: &p.coefs,
            sigma: sigma.sigma as f32,
            decay,
            beta,
            drive: drives(&p.currents).0,
        };
        LayerStep {
            input: LayerInput::new(layer, ext, ring, n),
            model: membrane,
        }
    }));
    let tables = neurons
        .contiguous_iter_mut()
        .expect("table-stored components")
        .map(|(at, j, j2, jm, v, refr, th, s)| NeuronRows {
            at,
            j: column(j),
            j2: j2.map(column),
            jm: jm.map(column),
            s: column(s),
            own: (column(v), column(refr), column(th)),
        });
    let run = |step: &LayerStep<Membrane>, out: &mut Vec<(Entity, u32)>, rows: NeuronRows<Own>| {
        step.input.run_blocks(out, rows, |b| {
            step_block(&step.model, step.input.ext, step.input.zero, b)
        });
    };
    driver::step_tables(tables, &steps, run, &mut fired, &mut lists);
    spare.0 = driver::recycle(&mut steps);
}

/// The step of one block: synaptic currents, then voltage, spikes and
/// (with `m.adapt`) individual thresholds, and (with `zero`) the input
/// read set back to 0 while it is still in cache; returns the number of
/// spikes.
/// Where the CPU has AVX2 (checked at
/// run time) the same code is compiled for it, with 8-wide instead of
/// 4-wide vectors; it performs the same IEEE operations in the same order
/// (no fused multiply-add), so results are identical either way.
fn step_block(m: &Membrane, ext: f32, zero: bool, b: Block<Own>) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { step_block_avx2(m, ext, zero, b) };
    }
    step_block_portable(m, ext, zero, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn step_block_avx2(m: &Membrane, ext: f32, zero: bool, b: Block<Own>) -> usize {
    step_block_portable(m, ext, zero, b)
}

#[inline(always)]
fn step_block_portable(m: &Membrane, ext: f32, zero: bool, b: Block<Own>) -> usize {
    let (first, n) = (b.first, b.s.len());
    let cols = b.integrate(m.currents, ext, zero);
    match m.coefs.block(first, n) {
        BlockCoefs::Same(c) => variant(m, c, cols),
        BlockCoefs::Each(c) => variant(m, c, cols),
    }
}

/// [`membrane`] for the block's number of synaptic currents, adaptation
/// and conductances, with row `k`'s constants `coefs.at(k)`.
#[inline(always)]
fn variant(m: &Membrane, coefs: impl PerRow<LifCoef>, cols: Integrated<Own>) -> usize {
    let two = cols.two();
    let Integrated {
        j,
        j2,
        jm,
        own: (v, refr, th),
        s,
    } = cols;
    let cond = m.drive != [CURRENT_DRIVE; 2];
    match (two, m.adapt, cond) {
        (false, false, false) => {
            membrane::<false, false, false, _>(m, coefs, j, j2, jm, v, refr, th, s)
        }
        (false, false, true) => {
            membrane::<false, false, true, _>(m, coefs, j, j2, jm, v, refr, th, s)
        }
        (false, true, false) => {
            membrane::<false, true, false, _>(m, coefs, j, j2, jm, v, refr, th, s)
        }
        (false, true, true) => {
            membrane::<false, true, true, _>(m, coefs, j, j2, jm, v, refr, th, s)
        }
        (true, false, false) => {
            membrane::<true, false, false, _>(m, coefs, j, j2, jm, v, refr, th, s)
        }
        (true, false, true) => {
            membrane::<true, false, true, _>(m, coefs, j, j2, jm, v, refr, th, s)
        }
        (true, true, false) => {
            membrane::<true, true, false, _>(m, coefs, j, j2, jm, v, refr, th, s)
        }
        (true, true, true) => membrane::<true, true, true, _>(m, coefs, j, j2, jm, v, refr, th, s),
    }
}

/// The constants of one layer's step.
pub struct Membrane<'a> {
    /// The synaptic currents ([`LifParams::currents`]).
    currents: &'a [SynapticCurrent],
    /// Individual threshold adaptation.
    adapt: bool,
    /// The neurons' constants ([`LifParams::coefs`]).
    coefs: &'a Coefs<LifCoef>,
    /// σ rounded to f32 (mV), as the spike test uses it ([`spike_threshold`]).
    sigma: f32,
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
/// for any finite `V`, two multiplies and a subtraction fewer per current;
/// with `COND` the `J` that drove the step is stored in `jm`.
/// Returns the number of spikes.
/// Branch-free, so that it vectorizes; the columns are separate arguments
/// because only so does the compiler know that they do not overlap (it
/// does not for references inside a struct), which the vectorizer needs:
/// one struct argument made CUBA (W2) 2× slower.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn membrane<const TWO: bool, const ADAPT: bool, const COND: bool, P: PerRow<LifCoef>>(
    m: &Membrane,
    coefs: P,
    j: &[Current],
    j2: &[Current2],
    jm: &mut [MembraneCurrent],
    v: &mut [Voltage],
    refr: &mut [Refractory],
    th: &mut [Threshold],
    s: &mut [Spiked],
) -> usize {
    let n = v.len();
    assert!(n <= driver::BLOCK && j.len() == n && refr.len() == n && th.len() == n && s.len() == n);
    assert!(!TWO || j2.len() == n);
    assert!(!COND || jm.len() == n);
    assert!(n > 0 && coefs.covers(n));
    let first = coefs.at(0);
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
        if COND {
            jm[k].0 = total;
        }
        let c = if P::ALIKE { first } else { coefs.at(k) };
        let locked = refr[k].0 > 0;
        let held = refr[k].0 > c.free_at;
        let integrated = v0 + c.a_v * (-c.k_v * (v0 - c.v_rest) + c.r * total);
        let vn = if held { c.v_reset } else { integrated };
        let theta = if ADAPT { th[k].theta } else { 0.0 };
        let spike = !locked & (vn >= spike_threshold(m.sigma, theta));
        v[k].0 = if spike { c.v_reset } else { vn };
        refr[k].0 = if spike {
            c.lock_steps
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
        let (ext, zero) = (0.1, true);
        let coefs = Coefs {
            same: LifCoef {
                a_v: 0.005,
                k_v: 1.0,
                r: 1.0,
                v_rest: -49.0,
                v_reset: -60.0,
                lock_steps: 50,
                free_at: 30,
            },
            each: Vec::new(),
        };
        let m = Membrane {
            currents: &currents,
            adapt: true,
            coefs: &coefs,
            sigma: -50.0,
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
            let mut jm = vec![MembraneCurrent(0.0); n];
            let mut refr = vec![Refractory(0); n];
            let mut th = vec![Threshold { theta: 0.0 }; n];
            let mut s = vec![Spiked(false); n];
            let mut spikes = 0;
            for _ in 0..50 {
                let (mut input0, mut input1) = (input.clone(), input.clone());
                let b = Block {
                    input0: &mut input0,
                    input1: &mut input1,
                    j: &mut j,
                    j2: Some(&mut j2),
                    jm: Some(&mut jm),
                    own: (&mut v[..], &mut refr[..], &mut th[..]),
                    s: &mut s,
                    first: 0,
                    ext_each: &[],
                };
                spikes += if avx2 {
                    // SAFETY: AVX2 was detected above.
                    unsafe { step_block_avx2(&m, ext, zero, b) }
                } else {
                    step_block_portable(&m, ext, zero, b)
                };
            }
            let bits = |x: f32| x.to_bits();
            (
                v.iter().map(|x| bits(x.0)).collect::<Vec<_>>(),
                j.iter().map(|x| bits(x.0)).collect::<Vec<_>>(),
                j2.iter().map(|x| bits(x.0)).collect::<Vec<_>>(),
                jm.iter().map(|x| bits(x.0)).collect::<Vec<_>>(),
                th.iter().map(|x| x.theta.to_bits()).collect::<Vec<_>>(),
                refr.iter().map(|x| x.0).collect::<Vec<_>>(),
                spikes,
            )
        };
        let portable = run(false);
        assert!(portable.6 > 0, "the test should make neurons spike");
        assert_eq!(portable, run(true));
    }
}
