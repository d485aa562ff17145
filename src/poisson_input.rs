//! External Poisson drive (`[poisson_inputs.<name>]`): each neuron of a
//! layer receives `K` independent spike trains of rate `ν` through
//! synapses of weight `w`, without simulating the sources — NEST's
//! `poisson_generator` connected to a population, Brian2's `PoissonInput`.
//!
//! At step `n`, neuron `i` gets `c_i(n) · w` added to this step's input of
//! the target synaptic current, with `c_i(n)` one draw of the number of
//! input spikes in the step: Poisson with mean `λ = K ν dt/1000` (the
//! superposition of `K` Poisson processes, exact) or Binomial(`K`,
//! `ν dt/1000`) (`K` sources spiking at most once per step). The draw is
//! by inversion of the law's table ([`CountTable`]) at one uniform of the
//! counter-based stream keyed by `(seed, input, neuron)` and read at `n`
//! ([`rng::counter_unit`]): no state, so thread count, resuming and the
//! order of neurons change nothing. Its cost is one hash and a binary
//! search per neuron and step, whatever `K`.
//!
//! A fixed delay between the sources and the target (NEST's microcircuit
//! has 1.5 ms) changes nothing for stationary Poisson sources, so none is
//! modelled: the counts enter the step they are drawn for.

use bevy_ecs::prelude::*;
use rayon::prelude::*;

use crate::config::{CountLaw, PoissonInputConfig};
use crate::neuron::input::InputRing;
use crate::rng;
use crate::step::{Clock, PARALLEL_MIN};

/// The cumulative distribution of a count law on `0..len`, for inversion.
#[derive(Debug, Clone, PartialEq)]
pub struct CountTable {
    /// `cdf[k] = P(c <= k)`, up to where the tail left is below 10^−16;
    /// the last entry is +∞.
    cdf: Vec<f64>,
    /// The first [`HEAD`] entries (+∞ past the table's end), counted
    /// through by [`CountTable::sample`].
    head: [f64; HEAD],
}

/// How many entries [`CountTable::sample`] counts before it bisects the
/// rest: counts up to 7 are found there, 99.9% of the microcircuit's
/// (Poisson means 1.3–2.4; P(c ≥ 8) = 0.0011 at 2.4).
const HEAD: usize = 8;

impl CountTable {
    /// The table of `law` for `inputs` inputs spiking with probability
    /// (Binomial) or mean (Poisson, per input) `p` per step. The pmf is
    /// built in log space, `ln P(0)` then the ratio of consecutive terms
    /// (Poisson: `λ/k`; Binomial: `(K − k + 1)/k · p/(1 − p)`), so that a
    /// large mean does not underflow `P(0)`; the table stops past the mean
    /// once the tail left is below 10^−16, less than one uniform's
    /// resolution (2^−53 ≈ 1.1·10^−16).
    pub fn new(law: CountLaw, inputs: u64, p: f64) -> Self {
        let k_max = inputs as f64;
        let (mean, ln_p0, ratio): (f64, f64, Box<dyn Fn(f64) -> f64>) = match law {
            CountLaw::Poisson => {
                let lambda = k_max * p;
                (lambda, -lambda, Box::new(move |k| (lambda / k).ln()))
            }
            CountLaw::Binomial if p >= 1.0 => {
                // Every input spikes: the count is K.
                let mut cdf = vec![0.0; inputs as usize];
                cdf.push(1.0);
                return Self::closed(cdf);
            }
            CountLaw::Binomial => {
                let odds = (p / (1.0 - p)).ln();
                (
                    k_max * p,
                    k_max * (-p).ln_1p(),
                    Box::new(move |k| ((k_max - k + 1.0) / k).ln() + odds),
                )
            }
        };
        let mut cdf = Vec::new();
        let (mut ln_pk, mut total) = (ln_p0, 0.0f64);
        let mut k = 0.0;
        loop {
            total += ln_pk.exp();
            cdf.push(total.min(1.0));
            // The terms past the mean fall faster than geometrically, so
            // the tail after a term below e^−40 = 4·10^−18 is below 10^−16
            // (and rounding can keep `total` a few ulp short of 1).
            let past = k >= mean && (1.0 - total < 1e-16 || ln_pk < -40.0);
            if past || (law == CountLaw::Binomial && k >= k_max) {
                break;
            }
            k += 1.0;
            ln_pk += ratio(k);
        }
        Self::closed(cdf)
    }

    /// The table of `cdf`, its last entry made +∞ (the tail left out goes
    /// to the last count, so every `u` finds an entry).
    fn closed(mut cdf: Vec<f64>) -> Self {
        *cdf.last_mut().expect("at least P(0)") = f64::INFINITY;
        let mut head = [f64::INFINITY; HEAD];
        head.iter_mut().zip(&cdf).for_each(|(h, &c)| *h = c);
        Self { cdf, head }
    }

    /// The count at uniform `u` in [0, 1): the least `k` with `u < cdf[k]`
    /// (the last entry where `u` is in the tail left out), which, the cdf
    /// rising, is the number of entries at or below `u`. Those of the
    /// first `HEAD` (8) are counted without a branch, in vector compares;
    /// only a count of `HEAD` or more bisects the rest. A scan that
    /// stops at the entry mispredicts its exit about once per draw (the
    /// drive was 42% of the full-scale microcircuit's step with it).
    #[inline]
    pub fn sample(&self, u: f64) -> u32 {
        let k: u32 = self.head.iter().map(|&c| u32::from(c <= u)).sum();
        if (k as usize) < HEAD {
            k
        } else {
            (HEAD + self.cdf[HEAD..].partition_point(|&c| c <= u)) as u32
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.cdf.len()
    }

    /// Whether the table is empty (never: it holds at least `P(0)`).
    pub fn is_empty(&self) -> bool {
        self.cdf.is_empty()
    }
}

/// One `[poisson_inputs.<name>]` as an entity. Written once by the network
/// builder.
#[derive(Component, Debug, Clone)]
pub struct PoissonInput {
    /// Name from the config.
    pub name: String,
    /// The layer driven.
    pub layer: Entity,
    /// Which of its synaptic currents.
    pub current: usize,
    /// Weight per input spike.
    pub weight: f32,
    /// Each neuron's key of the counter-based stream.
    pub keys: Vec<u64>,
    /// The count law's table.
    pub table: CountTable,
}

impl PoissonInput {
    /// The input of config `c` (the `index`-th) onto `layer` of `size`
    /// neurons, synaptic current `current`.
    pub fn new(
        name: &str,
        c: &PoissonInputConfig,
        (layer, size, current): (Entity, usize, usize),
        seed: u64,
        index: usize,
        dt_ms: f64,
    ) -> Self {
        Self {
            name: name.to_owned(),
            layer,
            current,
            weight: c.weight as f32,
            keys: (0..size as u64)
                .map(|i| rng::key(seed, rng::POISSON_INPUT, index as u64, i))
                .collect(),
            table: CountTable::new(c.law, c.inputs, c.step_probability(dt_ms)),
        }
    }

    /// Adds this step's counts times the weight into `slot` (one value
    /// per neuron of the layer), in parallel parts of [`PARALLEL_MIN`]
    /// neurons: each neuron's sum gets one term, so the split changes
    /// nothing. A count of 0 adds `0·w` too: a branch on it mispredicts
    /// as often as the count is 0 or not, and without it the microcircuit
    /// steps 1.6–1.8× faster (`spikesim bench w3`, scales 0.25 and 1). The
    /// term changes nothing but the sign of a zero input (−0 + 0 = +0).
    pub fn add_into(&self, slot: &mut [f32], n: u64) {
        let (w, table) = (self.weight, &self.table);
        let fill = |(slot, keys): (&mut [f32], &[u64])| {
            for (x, &key) in slot.iter_mut().zip(keys) {
                *x += table.sample(rng::counter_unit(key, n)) as f32 * w;
            }
        };
        if rayon::current_num_threads() > 1 && slot.len() >= 2 * PARALLEL_MIN {
            slot.par_chunks_mut(PARALLEL_MIN)
                .zip(self.keys.par_chunks(PARALLEL_MIN))
                .for_each(fill);
        } else {
            fill((slot, &self.keys));
        }
    }
}

/// Adds every Poisson input's counts of step `n` into its layer's input of
/// step `n`, after [`crate::synapse::deliver`] (so each input's terms come
/// in one fixed order).
pub fn drive(clock: Res<Clock>, inputs: Query<&PoissonInput>, mut rings: Query<&mut InputRing>) {
    for p in &inputs {
        let mut ring = rings.get_mut(p.layer).expect("a neuron layer's input");
        let slot = ring
            .bypass_change_detection()
            .slot_mut(clock.step, p.current);
        p.add_into(slot, clock.step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean and variance of the law of `t` (its pmf from the differences
    /// of the cdf).
    fn moments(t: &CountTable) -> (f64, f64) {
        let mut prev = 0.0;
        let (mut m1, mut m2) = (0.0, 0.0);
        for (k, &c) in t.cdf.iter().enumerate() {
            let p = c.min(1.0) - prev;
            prev = c.min(1.0);
            m1 += k as f64 * p;
            m2 += (k * k) as f64 * p;
        }
        (m1, m2 - m1 * m1)
    }

    #[test]
    fn tables_have_the_closed_form_moments() {
        // Poisson(λ): mean = variance = λ; Binomial(K, p): mean Kp,
        // variance Kp(1 − p). The table's own moments miss only the tail
        // below 10^−16, so they agree to ~10^−12 relative.
        for lambda in [1e-4, 0.168, 1.68, 20.0, 2000.0] {
            let t = CountTable::new(CountLaw::Poisson, 1000, lambda / 1000.0);
            let (m, v) = moments(&t);
            assert!((m - lambda).abs() < 1e-9 * lambda.max(1.0), "{lambda}: {m}");
            assert!((v - lambda).abs() < 1e-8 * lambda.max(1.0), "{lambda}: {v}");
        }
        for (k, p) in [(10u64, 0.3), (2100, 8e-4), (1, 0.5), (50, 1.0), (7, 0.0)] {
            let t = CountTable::new(CountLaw::Binomial, k, p);
            let (m, v) = moments(&t);
            let kf = k as f64;
            assert!((m - kf * p).abs() < 1e-9, "{k} {p}: {m}");
            assert!((v - kf * p * (1.0 - p)).abs() < 1e-9, "{k} {p}: {v}");
        }
    }

    #[test]
    fn inversion_picks_the_first_cdf_above_u() {
        // Poisson(λ = ln 2): P(0) = 1/2, so u just below 1/2 gives 0 and
        // u = 1/2 gives 1; P(c <= 1) = 1/2 (1 + ln 2) = 0.84657.
        let t = CountTable::new(CountLaw::Poisson, 1, std::f64::consts::LN_2);
        assert_eq!(t.sample(0.0), 0);
        assert_eq!(t.sample(0.499_999), 0);
        assert_eq!(t.sample(0.5), 1);
        assert_eq!(t.sample(0.846), 1);
        assert_eq!(t.sample(0.847), 2);
        assert_eq!(t.sample(1.0 - 1e-17), (t.len() - 1) as u32);
        // Counting the head and bisecting the rest find the entry that
        // bisecting the whole table finds, for counts inside the head and
        // past it.
        for lambda in [0.5, 3.0, 15.9, 400.0] {
            let t = CountTable::new(CountLaw::Poisson, 1, lambda);
            for i in 0..10_000 {
                let u = rng::counter_unit(9, i);
                assert_eq!(t.sample(u), t.cdf.partition_point(|&c| c <= u) as u32);
            }
        }
    }

    #[test]
    fn counts_drawn_over_many_steps_have_the_laws_moments() {
        // 20,000 neuron-steps of Poisson(1.68) (a microcircuit L4E neuron:
        // 2100 inputs of 8 Hz at 0.1 ms): the sample mean's standard error
        // is sqrt(1.68/20000) = 0.0092, and the sample variance's about
        // sqrt((μ4 − σ⁴)/n) = sqrt((3λ² + λ − λ²)/n) = sqrt(7.33/20000) =
        // 0.019; both within 5 standard errors.
        let c = PoissonInputConfig {
            layer: "x".into(),
            target: None,
            inputs: 2100,
            rate_hz: 8.0,
            weight: 1.0,
            law: CountLaw::Poisson,
        };
        let e = Entity::from_raw_u32(1).unwrap();
        let p = PoissonInput::new("p", &c, (e, 200, 0), 7, 0, 0.1);
        let mut sum = 0.0;
        let mut sq = 0.0;
        let n = 100u64;
        for step in 0..n {
            let mut slot = vec![0.0f32; 200];
            p.add_into(&mut slot, step);
            for &x in &slot {
                sum += f64::from(x);
                sq += f64::from(x) * f64::from(x);
            }
        }
        let count = (n * 200) as f64;
        let mean = sum / count;
        let var = sq / count - mean * mean;
        assert!((mean - 1.68).abs() < 5.0 * 0.0092, "{mean}");
        assert!((var - 1.68).abs() < 5.0 * 0.019, "{var}");
    }
}
