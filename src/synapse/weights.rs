//! Weight storage, one contiguous row per presynaptic neuron (with, where
//! delays differ between synapses, one delay per synapse), and its
//! construction from the connectivity rule and the weight distribution.

use bevy_ecs::prelude::*;

use rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::config::{Connectivity, Distribution, delay_steps};
use crate::rng;

/// `W[j, i]` of one projection. Written once by the network builder.
#[derive(Component, Debug, Clone, PartialEq)]
pub enum Weights {
    /// Every pair connected: row `j` is `w[j*n_post .. (j+1)*n_post]`.
    Dense {
        /// Postsynaptic layer size.
        n_post: usize,
        /// Row-major `n_pre × n_post`.
        w: Vec<f32>,
    },
    /// Compressed sparse rows: row `j` connects to `post[row_start[j]..row_start[j+1]]`
    /// (ascending; a target repeats where a pair has several synapses)
    /// with weights `w[..]` (and delays) at the same positions.
    Sparse {
        /// `n_pre + 1` offsets into `post` and `w`.
        row_start: Vec<usize>,
        /// Postsynaptic indices.
        post: Vec<u32>,
        /// Weights.
        w: Vec<f32>,
        /// Each synapse's delay, where they are not all the projection's
        /// one delay.
        delays: Option<Delays>,
    },
}

/// Per-synapse delays of a sparse projection, in steps (>= 1), in storage
/// order: one byte each where all fit, else two.
#[derive(Debug, Clone, PartialEq)]
pub struct Delays {
    /// The largest delay.
    pub max: u32,
    /// The delays.
    pub steps: DelaySteps,
}

/// The storage of [`Delays`].
#[derive(Debug, Clone, PartialEq)]
pub enum DelaySteps {
    /// Delays up to 255 steps.
    U8(Vec<u8>),
    /// Delays up to 65535 steps.
    U16(Vec<u16>),
}

/// The two layers a projection connects: their sizes, and whether they are
/// one layer (where `j → j` is an autapse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pairs {
    /// Presynaptic layer size.
    pub n_pre: usize,
    /// Postsynaptic layer size.
    pub n_post: usize,
    /// Whether pre and post are the same layer.
    pub same_layer: bool,
}

impl Pairs {
    /// Two different layers of `n_pre` and `n_post` neurons.
    pub fn between(n_pre: usize, n_post: usize) -> Self {
        Self {
            n_pre,
            n_post,
            same_layer: false,
        }
    }

    /// A layer of `n` neurons onto itself.
    pub fn within(n: usize) -> Self {
        Self {
            n_pre: n,
            n_post: n,
            same_layer: true,
        }
    }
}

/// Synapses per block of the rules that draw in parallel: block `b` of
/// targets, weights or delays comes from its own stream keyed by `b`.
pub const BLOCK: usize = 1 << 16;

/// Offset of the keys of `fixed_total_number`'s blocks of targets in the
/// projection's connectivity streams, above every neuron's own key.
const TARGET_BLOCKS: u64 = 1 << 32;

impl Weights {
    /// Builds the weights of a projection between `pairs` (any rule but
    /// `from_file`, which [`super::list`] reads).
    ///
    /// Connectivity is drawn first: `bernoulli` from the `(seed,
    /// CONNECTIVITY, index, 0)` stream; `fixed_indegree` and
    /// `fixed_total_number` draw post neuron `i`'s inputs from `(seed,
    /// CONNECTIVITY, index, i)`, `fixed_outdegree` pre neuron `j`'s targets
    /// from `(seed, CONNECTIVITY, index, j)`; `fixed_total_number` draws
    /// the number of inputs of each post neuron first, from the blocks
    /// `(seed, CONNECTIVITY, index, 2^32 + b)` of [`BLOCK`] synapses each
    /// choosing a uniform target (multapses), or sequentially from `(seed,
    /// CONNECTIVITY, index, 2^32)` (one hypergeometric draw per post neuron,
    /// without multapses). Then weights are drawn in storage order (row by
    /// row): from the `(seed, WEIGHTS, index, 0)` stream, or, for
    /// `fixed_outdegree` and `fixed_total_number`, in blocks of [`BLOCK`]
    /// synapses from `(seed, WEIGHTS, index, b)`, in parallel. No result
    /// depends on the number of threads.
    ///
    /// # Panics
    /// For `from_file`.
    pub fn build(
        conn: &Connectivity,
        init: &Distribution,
        pairs: Pairs,
        seed: u64,
        index: u64,
    ) -> Weights {
        let Pairs {
            n_pre,
            n_post,
            same_layer,
        } = pairs;
        let mut crng = rng::stream(seed, rng::CONNECTIVITY, index, 0);
        // Post neuron i's inputs (or pre neuron j's targets) from its own
        // stream: from `0..n` less itself where autapses are excluded.
        let draw_own = |multapses: bool, autapses: bool, n: usize| {
            move |i: usize, out: &mut [u32], set: &mut Vec<u32>| {
                let mut r = rng::stream(seed, rng::CONNECTIVITY, index, i as u64);
                let skip = (same_layer && !autapses).then_some(i as u32);
                draw_from(&mut r, n, skip, multapses, out, set);
            }
        };
        let rows: Vec<Vec<u32>> = match *conn {
            Connectivity::Dense => {
                let w = draw(init, n_pre * n_post, seed, index);
                return Weights::Dense { n_post, w };
            }
            Connectivity::OneToOne => (0..n_pre as u32).map(|j| vec![j]).collect(),
            Connectivity::AllButSelf => (0..n_pre as u32)
                .map(|j| (0..n_post as u32).filter(|&i| i != j).collect())
                .collect(),
            Connectivity::Bernoulli { p } => (0..n_pre)
                .map(|_| {
                    (0..n_post as u32)
                        .filter(|_| rng::unit(&mut crng) < p)
                        .collect()
                })
                .collect(),
            Connectivity::FixedIndegree {
                k,
                multapses,
                autapses,
            } => {
                let start: Vec<usize> = (0..=n_post).map(|i| i * k).collect();
                let (row_start, post) =
                    rows_by_pre(&start, n_pre, draw_own(multapses, autapses, n_pre));
                let w = draw(init, post.len(), seed, index);
                return Weights::sparse(row_start, post, w);
            }
            Connectivity::FixedOutdegree {
                k,
                multapses,
                autapses,
            } => {
                // Each row is one pre neuron's k targets, sorted.
                let mut post = vec![0u32; n_pre * k];
                let draw_row = draw_own(multapses, autapses, n_post);
                post.par_chunks_mut(k.max(1)).enumerate().for_each_init(
                    Vec::new,
                    |set, (j, row)| {
                        draw_row(j, row, set);
                        row.sort_unstable();
                    },
                );
                let row_start = (0..=n_pre).map(|j| j * k).collect();
                let w = draw_blocks(init, post.len(), seed, index);
                return Weights::sparse(row_start, post, w);
            }
            Connectivity::FixedTotalNumber {
                multapses,
                autapses,
                ..
            } => {
                let n = conn
                    .total_number(n_pre, n_post)
                    .expect("fixed_total_number");
                let choices = n_pre - usize::from(same_layer && !autapses);
                let counts = if multapses {
                    multinomial_counts(n, n_post, seed, index)
                } else {
                    hypergeometric_counts(n, n_post, choices, seed, index)
                };
                let mut start = Vec::with_capacity(n_post + 1);
                start.push(0);
                for c in counts {
                    start.push(start.last().expect("one") + c as usize);
                }
                let (row_start, post) =
                    rows_by_pre(&start, n_pre, draw_own(multapses, autapses, n_pre));
                let w = draw_blocks(init, post.len(), seed, index);
                return Weights::sparse(row_start, post, w);
            }
            Connectivity::FromFile { .. } => {
                panic!("from_file projections are read from their file")
            }
        };
        let mut row_start = Vec::with_capacity(n_pre + 1);
        row_start.push(0);
        let mut post = Vec::new();
        for r in rows {
            post.extend(r);
            row_start.push(post.len());
        }
        let w = draw(init, post.len(), seed, index);
        Weights::sparse(row_start, post, w)
    }

    /// Sparse weights with the projection's one delay.
    pub(crate) fn sparse(row_start: Vec<usize>, post: Vec<u32>, w: Vec<f32>) -> Weights {
        Weights::Sparse {
            row_start,
            post,
            w,
            delays: None,
        }
    }

    /// Gives each synapse of a sparse projection its own delay, drawn in ms
    /// from `d` in storage order, in blocks of [`BLOCK`] synapses from the
    /// `(seed, DELAYS, index, b)` streams, put on the grid of `dt_ms`
    /// ([`delay_steps`]): one byte a synapse where `d`'s
    /// [`reach`](Distribution::reach) is at most 255 steps, else two (a
    /// draw past the reach, probability under 10^-23, is cut to the
    /// largest delay stored). Where all come out equal nothing is kept.
    /// Returns the largest delay in steps.
    ///
    /// # Panics
    /// For dense weights.
    pub fn draw_delays(&mut self, d: &Distribution, dt_ms: f64, seed: u64, index: u64) -> u32 {
        let Weights::Sparse { w, delays, .. } = self else {
            panic!("a dense projection has one delay")
        };
        let steps = |r: &mut Xoshiro256PlusPlus| delay_steps(d.sample(r), dt_ms);
        let (len, domain) = (w.len(), rng::DELAYS);
        let drawn = if delay_steps(d.reach(), dt_ms) <= u64::from(u8::MAX) {
            DelaySteps::U8(blocks(len, seed, domain, index, |r| {
                steps(r).min(255) as u8
            }))
        } else {
            DelaySteps::U16(blocks(len, seed, domain, index, |r| {
                steps(r).min(u64::from(u16::MAX)) as u16
            }))
        };
        let (min, max) = drawn.range();
        *delays = (min != max).then_some(Delays { max, steps: drawn });
        max
    }

    /// Each synapse's delay in steps, where they differ (sparse weights
    /// given [`Weights::draw_delays`] or a list file's delays).
    pub fn delays(&self) -> Option<&Delays> {
        match self {
            Weights::Sparse { delays, .. } => delays.as_ref(),
            Weights::Dense { .. } => None,
        }
    }

    /// Adds row `j` of every `j` in `rows`, in that order, into `input`
    /// (indexed by postsynaptic neuron); returns the number of weights added.
    ///
    /// Each input gets its rows' weights one after the other in the order
    /// of `rows`, whatever the storage: the sums are the same, bit for bit,
    /// as adding the rows one at a time.
    pub fn add_rows(&self, rows: &[u32], input: &mut [f32]) -> usize {
        self.add(rows, input, None)
    }

    /// [`Weights::add_rows`] for the postsynaptic neurons
    /// `first..first + input.len()` only, `input[0]` being neuron `first`.
    /// Each of those inputs gets exactly the sum it gets from `add_rows`, so
    /// that parts of the targets can be filled in parallel with the same
    /// result. Returns the number of weights added.
    pub fn add_rows_to(&self, rows: &[u32], input: &mut [f32], first: usize) -> usize {
        self.add(rows, input, Some(first))
    }

    /// [`Weights::add_rows`] (`first` = `None`: `input` holds every target)
    /// or [`Weights::add_rows_to`].
    fn add(&self, rows: &[u32], input: &mut [f32], part: Option<usize>) -> usize {
        match self {
            Weights::Dense { n_post, w } => {
                let (input, first) = match part {
                    Some(first) => (input, first),
                    None => (&mut input[..*n_post], 0),
                };
                add_dense(w, *n_post, rows, input, first);
                rows.len() * input.len()
            }
            Weights::Sparse { post, w, .. } => {
                let first = part.unwrap_or(0);
                self.for_rows(rows, part.map(|f| f..f + input.len()), |r| {
                    for (&i, &wi) in post[r.clone()].iter().zip(&w[r]) {
                        input[i as usize - first] += wi;
                    }
                })
            }
        }
    }

    /// [`Weights::add_rows_to`] for per-synapse delays ([`Weights::delays`]):
    /// synapse `k` of row `j` adds its weight into `slots[d_k − 1]`, the
    /// input arriving `d_k` steps after the spike, for the postsynaptic
    /// neurons `first..first + len` (`slots[d][0]` being neuron `first`,
    /// every slot of the same length `len`; `slots` has at least the
    /// largest delay). Each input gets its weights in the order of `rows`,
    /// whatever the parts. Returns the number of weights added.
    ///
    /// # Panics
    /// Where the weights have no per-synapse delays.
    pub fn add_delayed_rows_to(
        &self,
        rows: &[u32],
        slots: &mut [&mut [f32]],
        first: usize,
    ) -> usize {
        let Weights::Sparse {
            post,
            w,
            delays: Some(d),
            ..
        } = self
        else {
            panic!("no per-synapse delays")
        };
        let len = slots.first().map_or(0, |s| s.len());
        let part = Some(first..first + len);
        match &d.steps {
            DelaySteps::U8(d) => self.for_rows(rows, part, |r| {
                add_delayed(&post[r.clone()], &w[r.clone()], &d[r], slots, first)
            }),
            DelaySteps::U16(d) => self.for_rows(rows, part, |r| {
                add_delayed(&post[r.clone()], &w[r.clone()], &d[r], slots, first)
            }),
        }
    }

    /// Calls `add` with the storage range of each of the sparse `rows` in
    /// order, cut to the synapses onto `part` where given; returns the
    /// number of synapses in the ranges.
    #[inline]
    fn for_rows(
        &self,
        rows: &[u32],
        part: Option<std::ops::Range<usize>>,
        mut add: impl FnMut(std::ops::Range<usize>),
    ) -> usize {
        let Weights::Sparse {
            row_start, post, ..
        } = self
        else {
            unreachable!("sparse rows")
        };
        let mut events = 0;
        for (k, &j) in rows.iter().enumerate() {
            // Two-stage prefetch: the offset of the row after next, then
            // the next row itself (whose offset was prefetched a spike ago).
            if let Some(&after) = rows.get(k + 2) {
                self.prefetch_row_start(after as usize);
            }
            if let Some(&next) = rows.get(k + 1) {
                self.prefetch_row(next as usize);
            }
            let mut r = row_start[j as usize]..row_start[j as usize + 1];
            if let Some(p) = &part {
                // A row's targets ascend: keep those in the part.
                let targets = &post[r.clone()];
                let lo = targets.partition_point(|&i| i < p.start as u32);
                let hi = targets.partition_point(|&i| i < p.end as u32);
                r = r.start + lo..r.start + hi;
            }
            events += r.len();
            add(r);
        }
        events
    }

    /// Whether adding `events` weights is worth splitting between threads:
    /// a hand-off costs a few µs. A dense weight costs about 0.1 ns (W1:
    /// 784 → 1600 takes ~10 µs a step for 120,000), a sparse one, at a
    /// random target, several ns (W2 at 256k: ~100 µs for 10,600).
    pub fn worth_splitting(&self, events: usize) -> bool {
        match self {
            Weights::Dense { .. } => events >= 1 << 16,
            Weights::Sparse { .. } => events >= 1 << 11,
        }
    }

    /// Number of weights in the rows `rows` (what [`Weights::add_rows`] adds).
    pub fn row_events(&self, rows: &[u32]) -> usize {
        match self {
            Weights::Dense { n_post, .. } => rows.len() * n_post,
            Weights::Sparse { row_start, .. } => rows
                .iter()
                .map(|&j| row_start[j as usize + 1] - row_start[j as usize])
                .sum(),
        }
    }

    /// Asks the CPU to start loading the start of sparse row `j` (its
    /// targets and weights), so that the row is in cache when
    /// [`Weights::add_rows`] reaches it.
    #[inline]
    fn prefetch_row(&self, j: usize) {
        if let Weights::Sparse {
            row_start, post, w, ..
        } = self
        {
            let r = row_start[j];
            if let Some(d) = self.delays() {
                match &d.steps {
                    DelaySteps::U8(d) => prefetch(d, r),
                    DelaySteps::U16(d) => prefetch(d, r),
                }
            }
            // A row of up to 32 synapses spans two 64-byte lines of each array.
            for k in [r, r + 16] {
                prefetch(post, k);
                prefetch(w, k);
            }
        }
    }

    /// Asks the CPU to start loading sparse row `j`'s offset, which
    /// [`Weights::prefetch_row`] will read: one spike further ahead, so that
    /// finding the row to prefetch does not stall on a cache miss.
    #[inline]
    fn prefetch_row_start(&self, j: usize) {
        if let Weights::Sparse { row_start, .. } = self {
            prefetch(row_start, j);
        }
    }

    /// `W[j, i]`, or `None` where `j` does not connect to `i` (one of the
    /// synapses where the pair has several).
    pub fn get(&self, j: usize, i: usize) -> Option<f32> {
        match self {
            Weights::Dense { n_post, w } => Some(w[j * n_post + i]),
            Weights::Sparse {
                row_start, post, w, ..
            } => {
                let r = row_start[j]..row_start[j + 1];
                post[r.clone()]
                    .binary_search(&(i as u32))
                    .ok()
                    .map(|k| w[r.start + k])
            }
        }
    }

    /// The synapses as `(pre, post)` index lists, in storage order (the order of [`Weights::values`]).
    pub fn synapses(&self) -> (Vec<u32>, Vec<u32>) {
        match self {
            Weights::Dense { n_post, w } => {
                let n_pre = w.len().checked_div(*n_post).unwrap_or(0);
                let pre = (0..n_pre as u32)
                    .flat_map(|j| std::iter::repeat_n(j, *n_post))
                    .collect();
                let post = (0..n_pre).flat_map(|_| 0..*n_post as u32).collect();
                (pre, post)
            }
            Weights::Sparse {
                row_start, post, ..
            } => {
                let pre = row_start
                    .windows(2)
                    .enumerate()
                    .flat_map(|(j, r)| std::iter::repeat_n(j as u32, r[1] - r[0]))
                    .collect();
                (pre, post.clone())
            }
        }
    }

    /// The weights in storage order.
    pub fn values(&self) -> &[f32] {
        match self {
            Weights::Dense { w, .. } | Weights::Sparse { w, .. } => w,
        }
    }

    /// The weights in storage order, to change in place.
    pub fn values_mut(&mut self) -> &mut [f32] {
        match self {
            Weights::Dense { w, .. } | Weights::Sparse { w, .. } => w,
        }
    }

    /// Number of synapses.
    pub fn len(&self) -> usize {
        self.values().len()
    }

    /// Whether the projection has no synapse.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `input` of synapses with targets `post` (from `first`), weights `w` and
/// delays `d` (steps) added into `slots[d − 1]`.
#[inline]
fn add_delayed<T: Copy + Into<usize>>(
    post: &[u32],
    w: &[f32],
    d: &[T],
    slots: &mut [&mut [f32]],
    first: usize,
) {
    for ((&i, &wi), &dk) in post.iter().zip(w).zip(d) {
        slots[dk.into() - 1][i as usize - first] += wi;
    }
}

impl DelaySteps {
    /// The smallest and largest delay (1, 1 when there is none).
    fn range(&self) -> (u32, u32) {
        fn of<T: Copy + Into<u32>>(d: &[T]) -> (u32, u32) {
            d.iter().fold((u32::MAX, 1), |(lo, hi), &x| {
                (lo.min(x.into()), hi.max(x.into()))
            })
        }
        let (lo, hi) = match self {
            DelaySteps::U8(d) => of(d),
            DelaySteps::U16(d) => of(d),
        };
        (lo.min(hi), hi)
    }
}

/// `len` draws of `init` as f32, in order from the `(seed, WEIGHTS, index,
/// 0)` stream (a constant draws nothing).
fn draw(init: &Distribution, len: usize, seed: u64, index: u64) -> Vec<f32> {
    match *init {
        Distribution::Constant { value } => vec![value as f32; len],
        _ => {
            let mut r = rng::stream(seed, rng::WEIGHTS, index, 0);
            (0..len).map(|_| init.sample(&mut r) as f32).collect()
        }
    }
}

/// [`draw`] in parallel blocks of [`BLOCK`], block `b` from the `(seed,
/// WEIGHTS, index, b)` stream.
fn draw_blocks(init: &Distribution, len: usize, seed: u64, index: u64) -> Vec<f32> {
    match *init {
        Distribution::Constant { value } => vec![value as f32; len],
        _ => blocks(len, seed, rng::WEIGHTS, index, |r| init.sample(r) as f32),
    }
}

/// `len` values of `value`, in parallel blocks of [`BLOCK`], block `b`
/// drawn in order from the `(seed, domain, index, b)` stream.
fn blocks<T: Copy + Default + Send>(
    len: usize,
    seed: u64,
    domain: u64,
    index: u64,
    value: impl Fn(&mut Xoshiro256PlusPlus) -> T + Sync,
) -> Vec<T> {
    let mut out = vec![T::default(); len];
    out.par_chunks_mut(BLOCK)
        .enumerate()
        .for_each(|(b, block)| {
            let mut r = rng::stream(seed, domain, index, b as u64);
            for x in block {
                *x = value(&mut r);
            }
        });
    out
}

/// Fills `out` with values of `0..n` less `skip`: distinct (Floyd's
/// algorithm, [`rng::sample_distinct_into`]), or independent uniform
/// draws with `multapses`. `set` is scratch space.
fn draw_from(
    r: &mut Xoshiro256PlusPlus,
    n: usize,
    skip: Option<u32>,
    multapses: bool,
    out: &mut [u32],
    set: &mut Vec<u32>,
) {
    let m = n - usize::from(skip.is_some());
    if multapses {
        for x in out.iter_mut() {
            *x = rng::below(r.next_u64(), m);
        }
    } else {
        rng::sample_distinct_into(r, m, out, set);
    }
    if let Some(s) = skip {
        for x in out.iter_mut() {
            *x += u32::from(*x >= s);
        }
    }
}

/// The sparse rows (row starts and targets, ascending in each row) of
/// the synapses onto `n_post = start.len() − 1` neurons from `n_pre`, post
/// neuron `i` having `start[i + 1] − start[i]` inputs, drawn by
/// `fill(i, inputs, scratch)` (always the same for the same `i`).
///
/// No list of the inputs is kept: each is drawn once to count the row
/// lengths (in parallel over post neurons; integer sums, the same in any
/// order), then, for each of one range of rows per thread (of about equal
/// synapses), once more in order of `i`, keeping those of the range, so
/// that rows ascend. This costs `1 + threads` draws per synapse and
/// only the rows' memory.
fn rows_by_pre(
    start: &[usize],
    n_pre: usize,
    fill: impl Fn(usize, &mut [u32], &mut Vec<u32>) + Sync,
) -> (Vec<usize>, Vec<u32>) {
    let n_post = start.len() - 1;
    let total = start[n_post];
    // Row offsets as u32 cursors, so that at 200,000 pre neurons they fit in L2.
    assert!(total < u32::MAX as usize, "over 2^32 synapses");
    let widest = start.windows(2).map(|r| r[1] - r[0]).max().unwrap_or(0);
    let scratch = || (vec![0u32; widest], Vec::new());
    let lengths = (0..n_post)
        .into_par_iter()
        .with_min_len(64)
        .fold(
            || (vec![0u32; n_pre], scratch()),
            |(mut counts, (mut inputs, mut set)), i| {
                let inputs_i = &mut inputs[..start[i + 1] - start[i]];
                fill(i, inputs_i, &mut set);
                inputs_i.iter().for_each(|&j| counts[j as usize] += 1);
                (counts, (inputs, set))
            },
        )
        .map(|(counts, _)| counts)
        .reduce(|| vec![0u32; n_pre], add_counts);
    let mut row_start = Vec::with_capacity(n_pre + 1);
    row_start.push(0);
    for &len in &lengths {
        row_start.push(row_start.last().expect("one") + len as usize);
    }
    drop(lengths);
    let parts = rayon::current_num_threads().clamp(1, n_pre.max(1));
    // Part t: the pre neurons from the first row that starts at or past
    // t/parts of the synapses.
    let cuts: Vec<usize> = (0..=parts)
        .map(|t| {
            let at = row_start.partition_point(|&s| s < total * t / parts);
            if t == parts { n_pre } else { at.min(n_pre) }
        })
        .collect();
    let mut post = vec![0u32; total];
    let mut rest = &mut post[..];
    let mut pieces = Vec::with_capacity(parts);
    for w in cuts.windows(2) {
        let (piece, tail) = rest.split_at_mut(row_start[w[1]] - row_start[w[0]]);
        pieces.push((w[0] as u32..w[1] as u32, piece));
        rest = tail;
    }
    pieces.into_par_iter().for_each(|(rows, piece)| {
        let base = row_start[rows.start as usize];
        let mut next: Vec<u32> = (rows.start as usize..rows.end as usize)
            .map(|j| (row_start[j] - base) as u32)
            .collect();
        let (mut inputs, mut set) = scratch();
        for i in 0..n_post {
            let inputs_i = &mut inputs[..start[i + 1] - start[i]];
            fill(i, inputs_i, &mut set);
            for &j in inputs_i.iter() {
                if rows.contains(&j) {
                    let c = &mut next[(j - rows.start) as usize];
                    piece[*c as usize] = i as u32;
                    *c += 1;
                }
            }
        }
    });
    (row_start, post)
}

/// `a + b`, element by element (counts).
fn add_counts(mut a: Vec<u32>, b: Vec<u32>) -> Vec<u32> {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
    a
}

/// The number of inputs of each of `n_post` neurons when each of `n`
/// synapses picks its target uniformly (multinomial counts): blocks of
/// [`BLOCK`] synapses, block `b` from the `(seed, CONNECTIVITY, index, 2^32
/// + b)` stream, counted in parallel (integer sums: the same in any order).
fn multinomial_counts(n: usize, n_post: usize, seed: u64, index: u64) -> Vec<u32> {
    (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .with_min_len(16)
        .fold(
            || vec![0u32; n_post],
            |mut counts, b| {
                let mut r = rng::stream(seed, rng::CONNECTIVITY, index, TARGET_BLOCKS + b as u64);
                for _ in b * BLOCK..n.min((b + 1) * BLOCK) {
                    counts[rng::below(r.next_u64(), n_post) as usize] += 1;
                }
                counts
            },
        )
        .reduce(|| vec![0u32; n_post], add_counts)
}

/// The number of inputs of each of `n_post` neurons, each with `choices`
/// possible inputs, when `n` distinct (pre, post) pairs are chosen
/// uniformly: post neuron `i` gets a hypergeometric share of what is left,
/// `c_i ~ H(total = (n_post − i)·choices, good = choices, draws = n − Σ_{<i} c)`,
/// in order from the `(seed, CONNECTIVITY, index, 2^32)` stream.
fn hypergeometric_counts(
    n: usize,
    n_post: usize,
    choices: usize,
    seed: u64,
    index: u64,
) -> Vec<u32> {
    let mut r = rng::stream(seed, rng::CONNECTIVITY, index, TARGET_BLOCKS);
    let mut scratch = Vec::new();
    let mut left = n as u64;
    (0..n_post)
        .map(|i| {
            let total = ((n_post - i) * choices) as u64;
            let c = rng::hypergeometric(&mut r, total, choices as u64, left, &mut scratch);
            left -= c;
            c as u32
        })
        .collect()
}

/// Asks the CPU to start loading the cache line of `s[k]`, if `k` is in
/// bounds; a hint only, with no effect on results.
#[inline]
fn prefetch<T>(s: &[T], k: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = s.get(k) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: prefetching never faults, and the address is in bounds.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast()) };
    }
}

/// Columns of the input kept in registers while the rows are added: 64
/// floats are eight AVX2 registers.
const COLUMNS: usize = 64;

/// `input[c] += w[j·n + first + c]` for each `j` in `rows`, in order, for
/// every `c`: the columns `first..first + input.len()` of the rows.
/// Column blocks of [`COLUMNS`] inputs stay in registers through all the rows,
/// so each weight costs one load and one add, and each input one load and
/// one store per call instead of per row; each input's sum keeps the order
/// of `rows`.
fn add_dense(w: &[f32], n: usize, rows: &[u32], input: &mut [f32], first: usize) {
    assert!(first + input.len() <= n, "columns out of the rows");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { add_dense_avx2(w, n, rows, input, first) };
    }
    add_dense_portable(w, n, rows, input, first)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn add_dense_avx2(w: &[f32], n: usize, rows: &[u32], input: &mut [f32], first: usize) {
    add_dense_portable(w, n, rows, input, first)
}

#[inline(always)]
fn add_dense_portable(w: &[f32], n: usize, rows: &[u32], input: &mut [f32], first: usize) {
    let m = input.len();
    let mut c = 0;
    while c + COLUMNS <= m {
        add_block::<COLUMNS>(w, n, rows, input, first, c);
        c += COLUMNS;
    }
    // The rest (under 64 columns) in blocks of its binary digits, largest
    // first: at most six passes over the rows (100 columns: 64 + 32 + 4)
    // instead of one per 8 columns and one per column left.
    let rest = m - c;
    macro_rules! blocks_of_rest {
        ($($b:literal),*) => {$(
            if rest & $b != 0 {
                add_block::<$b>(w, n, rows, input, first, c);
                c += $b;
            }
        )*};
    }
    blocks_of_rest!(32, 16, 8, 4, 2, 1);
    debug_assert_eq!(c, m);
}

/// [`add_dense`] for the `B` inputs from `input[c]` (column `first + c`).
#[inline(always)]
fn add_block<const B: usize>(
    w: &[f32],
    n: usize,
    rows: &[u32],
    input: &mut [f32],
    first: usize,
    c: usize,
) {
    let mut acc: [f32; B] = input[c..c + B].try_into().expect("B columns");
    for &j in rows {
        let at = j as usize * n + first + c;
        let row: &[f32; B] = w[at..at + B].try_into().expect("B weights");
        for (a, x) in acc.iter_mut().zip(row) {
            *a += x;
        }
    }
    input[c..c + B].copy_from_slice(&acc);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform() -> Distribution {
        Distribution::Uniform {
            low: 0.0,
            high: 0.1,
        }
    }

    #[test]
    fn connectivity_rules_connect_the_stated_pairs() {
        let c = Distribution::Constant { value: 2.0 };
        // one_to_one on 4 neurons: 4 synapses, W[j, j] = 2, W[0, 1] absent.
        let w = Weights::build(&Connectivity::OneToOne, &c, Pairs::between(4, 4), 1, 0);
        assert_eq!(w.len(), 4);
        assert_eq!(w.synapses(), (vec![0, 1, 2, 3], vec![0, 1, 2, 3]));
        assert_eq!(w.get(2, 2), Some(2.0));
        assert_eq!(w.get(0, 1), None);
        // all_but_self on 5: 5·4 = 20 synapses, none on the diagonal.
        let w = Weights::build(&Connectivity::AllButSelf, &c, Pairs::between(5, 5), 1, 0);
        assert_eq!(w.len(), 20);
        assert!((0..5).all(|j| w.get(j, j).is_none()));
        // fixed_indegree k=3 from 10 into 7: 7·3 = 21 synapses, each post
        // neuron with exactly 3 distinct inputs.
        let w = Weights::build(
            &Connectivity::FixedIndegree {
                k: 3,
                multapses: false,
                autapses: true,
            },
            &c,
            Pairs::between(10, 7),
            1,
            0,
        );
        assert_eq!(w.len(), 21);
        for i in 0..7 {
            assert_eq!((0..10).filter(|&j| w.get(j, i).is_some()).count(), 3);
        }
        // k = n_pre connects everything: 10·7 = 70.
        let w = Weights::build(
            &Connectivity::FixedIndegree {
                k: 10,
                multapses: false,
                autapses: true,
            },
            &c,
            Pairs::between(10, 7),
            1,
            0,
        );
        assert_eq!(w.len(), 70);
    }

    #[test]
    fn bernoulli_connectivity_density() {
        // 400 × 400 pairs at p = 0.1: mean 16000 synapses, sd sqrt(n p (1-p)) = 60;
        // 4 sd = 240.
        let w = Weights::build(
            &Connectivity::Bernoulli { p: 0.1 },
            &uniform(),
            Pairs::between(400, 400),
            3,
            0,
        );
        assert!((w.len() as f64 - 16000.0).abs() < 240.0, "{}", w.len());
    }

    #[test]
    fn uniform_weights_stay_in_range_and_follow_seed() {
        let a = Weights::build(
            &Connectivity::Dense,
            &uniform(),
            Pairs::between(30, 20),
            5,
            0,
        );
        assert!((0..30).all(|j| (0..20).all(|i| (0.0..0.1).contains(&a.get(j, i).unwrap()))));
        assert_eq!(
            a,
            Weights::build(
                &Connectivity::Dense,
                &uniform(),
                Pairs::between(30, 20),
                5,
                0
            )
        );
        assert_ne!(
            a,
            Weights::build(
                &Connectivity::Dense,
                &uniform(),
                Pairs::between(30, 20),
                6,
                0
            )
        );
        assert_ne!(
            a,
            Weights::build(
                &Connectivity::Dense,
                &uniform(),
                Pairs::between(30, 20),
                5,
                1
            )
        );
    }

    #[test]
    fn add_rows_adds_exactly_its_rows() {
        // Row 1 of a 2×3 constant-0.5 dense matrix adds 0.5 to each of 3 inputs.
        let w = Weights::build(
            &Connectivity::Dense,
            &Distribution::Constant { value: 0.5 },
            Pairs::between(2, 3),
            0,
            0,
        );
        let mut input = vec![1.0; 3];
        assert_eq!(w.add_rows(&[1], &mut input), 3);
        assert_eq!(input, vec![1.5; 3]);
        // Row 0 of one_to_one touches only input 0.
        let w = Weights::build(
            &Connectivity::OneToOne,
            &Distribution::Constant { value: -1.0 },
            Pairs::between(3, 3),
            0,
            0,
        );
        let mut input = vec![0.0; 3];
        assert_eq!(w.add_rows(&[0], &mut input), 1);
        assert_eq!(input, vec![-1.0, 0.0, 0.0]);
    }

    #[test]
    fn parts_of_the_targets_add_what_the_whole_adds() {
        // Dense and sparse projections of 40 → 150; the targets cut into
        // three uneven parts (one of them empty) must each get exactly the
        // inputs, bit for bit, and together the events, of one whole call.
        let rules = [
            Connectivity::Dense,
            Connectivity::FixedIndegree {
                k: 7,
                multapses: false,
                autapses: true,
            },
            Connectivity::Bernoulli { p: 0.2 },
        ];
        for conn in rules {
            let w = Weights::build(&conn, &uniform(), Pairs::between(40, 150), 4, 0);
            let rows = [3u32, 17, 3, 39, 0, 21];
            let start: Vec<f32> = (0..150).map(|i| 0.01 * i as f32).collect();
            let mut whole = start.clone();
            let events = w.add_rows(&rows, &mut whole);
            assert_eq!(events, w.row_events(&rows));
            let mut parts = start;
            let mut sum = 0;
            for r in [0..67, 67..67, 67..150] {
                sum += w.add_rows_to(&rows, &mut parts[r.clone()], r.start);
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&parts), bits(&whole), "{conn:?}");
            assert_eq!(sum, events, "{conn:?}");
        }
    }

    #[test]
    fn dense_rows_add_bit_for_bit_as_one_row_at_a_time() {
        // The column blocks (64 and the binary digits of the rest: 83 =
        // 64 + 16 + 2 + 1, 200 = 3·64 + 8, 127 = 64 + 32 + 16 + 8 + 4 + 2 + 1,
        // 100 = 64 + 32 + 4, 5 = 4 + 1) must give every input exactly the
        // sequential sum input + w[j1, i] + w[j2, i] + ..., rows repeated and
        // unsorted.
        for n in [83, 200, 127, 100, 5] {
            let w = Weights::build(
                &Connectivity::Dense,
                &uniform(),
                Pairs::between(30, n),
                3,
                0,
            );
            let Weights::Dense { w: values, .. } = &w else {
                unreachable!("dense")
            };
            let rows = [7u32, 3, 29, 3, 0, 12];
            let start: Vec<f32> = (0..n).map(|i| 0.1 * i as f32 - 2.0).collect();
            let mut expect = start.clone();
            for &j in &rows {
                for (i, x) in expect.iter_mut().enumerate() {
                    *x += values[j as usize * n + i];
                }
            }
            let mut input = start.clone();
            assert_eq!(w.add_rows(&rows, &mut input), rows.len() * n);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&input), bits(&expect), "n = {n}");
            let mut portable = start;
            add_dense_portable(values, n, &rows, &mut portable, 0);
            assert_eq!(bits(&portable), bits(&expect), "n = {n}");
        }
    }
}
