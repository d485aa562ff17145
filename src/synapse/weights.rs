//! Weight storage, one contiguous row per presynaptic neuron, and its
//! construction from the connectivity rule and the weight distribution.

use bevy_ecs::prelude::*;

use rayon::prelude::*;

use crate::config::{Connectivity, Distribution};
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
    /// (ascending) with weights `w[..]` at the same positions.
    Sparse {
        /// `n_pre + 1` offsets into `post` and `w`.
        row_start: Vec<usize>,
        /// Postsynaptic indices.
        post: Vec<u32>,
        /// Weights.
        w: Vec<f32>,
    },
}

impl Weights {
    /// Builds the weights of a projection from `n_pre` to `n_post` neurons.
    ///
    /// Connectivity is drawn first from the `(seed, CONNECTIVITY, index, 0)`
    /// stream (`fixed_indegree`: post neuron `i` from `(seed, CONNECTIVITY,
    /// index, i)`); then weights are drawn in row-major `(j, i)` order from
    /// the `(seed, WEIGHTS, index)` stream.
    pub fn build(
        conn: &Connectivity,
        init: &Distribution,
        n_pre: usize,
        n_post: usize,
        seed: u64,
        index: u64,
    ) -> Weights {
        let mut crng = rng::stream(seed, rng::CONNECTIVITY, index, 0);
        let mut wrng = rng::stream(seed, rng::WEIGHTS, index, 0);
        // `len` weights in order (a constant draws nothing from the stream).
        let mut draw = move |len: usize| -> Vec<f32> {
            match *init {
                Distribution::Constant { value } => vec![value as f32; len],
                _ => (0..len).map(|_| init.sample(&mut wrng) as f32).collect(),
            }
        };
        let rows: Vec<Vec<u32>> = match *conn {
            Connectivity::Dense => {
                let w = draw(n_pre * n_post);
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
            Connectivity::FixedIndegree { k } => {
                // Draw each post neuron's k inputs from its own stream (in
                // parallel on the current rayon pool), then lay them out by
                // pre neuron (a counting sort: rows stay ascending in post,
                // whatever the order of each post neuron's k inputs).
                let mut inputs = vec![0u32; n_post * k];
                inputs
                    .par_chunks_mut(k)
                    .enumerate()
                    .for_each_init(Vec::new, |set, (i, from)| {
                        let mut r = rng::stream(seed, rng::CONNECTIVITY, index, i as u64);
                        rng::sample_distinct_into(&mut r, n_pre, from, set);
                    });
                // Row lengths, then each row's next free place: u32, so
                // that at 200,000 pre neurons the cursors fit in L2.
                assert!(inputs.len() < u32::MAX as usize, "over 2^32 synapses");
                let mut next = vec![0u32; n_pre];
                for &j in &inputs {
                    next[j as usize] += 1;
                }
                let mut row_start = Vec::with_capacity(n_pre + 1);
                row_start.push(0);
                let mut end = 0;
                for c in &mut next {
                    let len = *c as usize;
                    *c = end as u32;
                    end += len;
                    row_start.push(end);
                }
                let mut post = vec![0; inputs.len()];
                for (i, from) in inputs.chunks_exact(k).enumerate() {
                    for &j in from {
                        let c = &mut next[j as usize];
                        post[*c as usize] = i as u32;
                        *c += 1;
                    }
                }
                let w = draw(post.len());
                return Weights::Sparse { row_start, post, w };
            }
        };
        let mut row_start = Vec::with_capacity(n_pre + 1);
        row_start.push(0);
        let mut post = Vec::new();
        for r in rows {
            post.extend(r);
            row_start.push(post.len());
        }
        let w = draw(post.len());
        Weights::Sparse { row_start, post, w }
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
            Weights::Sparse { row_start, post, w } => {
                let first = part.unwrap_or(0);
                let end = (first + input.len()) as u32;
                let mut events = 0;
                for (k, &j) in rows.iter().enumerate() {
                    // Two-stage prefetch: the offset of the row after next,
                    // then the next row itself (whose offset was prefetched a
                    // spike ago).
                    if let Some(&after) = rows.get(k + 2) {
                        self.prefetch_row_start(after as usize);
                    }
                    if let Some(&next) = rows.get(k + 1) {
                        self.prefetch_row(next as usize);
                    }
                    let mut r = row_start[j as usize]..row_start[j as usize + 1];
                    if part.is_some() {
                        // A row's targets ascend: keep those in the part.
                        let targets = &post[r.clone()];
                        let lo = targets.partition_point(|&i| i < first as u32);
                        let hi = targets.partition_point(|&i| i < end);
                        r = r.start + lo..r.start + hi;
                    }
                    for (&i, &wi) in post[r.clone()].iter().zip(&w[r.clone()]) {
                        input[i as usize - first] += wi;
                    }
                    events += r.len();
                }
                events
            }
        }
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
        if let Weights::Sparse { row_start, post, w } = self {
            let r = row_start[j];
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

    /// `W[j, i]`, or `None` where `j` does not connect to `i`.
    pub fn get(&self, j: usize, i: usize) -> Option<f32> {
        match self {
            Weights::Dense { n_post, w } => Some(w[j * n_post + i]),
            Weights::Sparse { row_start, post, w } => {
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
        let w = Weights::build(&Connectivity::OneToOne, &c, 4, 4, 1, 0);
        assert_eq!(w.len(), 4);
        assert_eq!(w.synapses(), (vec![0, 1, 2, 3], vec![0, 1, 2, 3]));
        assert_eq!(w.get(2, 2), Some(2.0));
        assert_eq!(w.get(0, 1), None);
        // all_but_self on 5: 5·4 = 20 synapses, none on the diagonal.
        let w = Weights::build(&Connectivity::AllButSelf, &c, 5, 5, 1, 0);
        assert_eq!(w.len(), 20);
        assert!((0..5).all(|j| w.get(j, j).is_none()));
        // fixed_indegree k=3 from 10 into 7: 7·3 = 21 synapses, each post
        // neuron with exactly 3 distinct inputs.
        let w = Weights::build(&Connectivity::FixedIndegree { k: 3 }, &c, 10, 7, 1, 0);
        assert_eq!(w.len(), 21);
        for i in 0..7 {
            assert_eq!((0..10).filter(|&j| w.get(j, i).is_some()).count(), 3);
        }
        // k = n_pre connects everything: 10·7 = 70.
        let w = Weights::build(&Connectivity::FixedIndegree { k: 10 }, &c, 10, 7, 1, 0);
        assert_eq!(w.len(), 70);
    }

    #[test]
    fn bernoulli_connectivity_density() {
        // 400 × 400 pairs at p = 0.1: mean 16000 synapses, sd sqrt(n p (1-p)) = 60;
        // 4 sd = 240.
        let w = Weights::build(
            &Connectivity::Bernoulli { p: 0.1 },
            &uniform(),
            400,
            400,
            3,
            0,
        );
        assert!((w.len() as f64 - 16000.0).abs() < 240.0, "{}", w.len());
    }

    #[test]
    fn uniform_weights_stay_in_range_and_follow_seed() {
        let a = Weights::build(&Connectivity::Dense, &uniform(), 30, 20, 5, 0);
        assert!((0..30).all(|j| (0..20).all(|i| (0.0..0.1).contains(&a.get(j, i).unwrap()))));
        assert_eq!(
            a,
            Weights::build(&Connectivity::Dense, &uniform(), 30, 20, 5, 0)
        );
        assert_ne!(
            a,
            Weights::build(&Connectivity::Dense, &uniform(), 30, 20, 6, 0)
        );
        assert_ne!(
            a,
            Weights::build(&Connectivity::Dense, &uniform(), 30, 20, 5, 1)
        );
    }

    #[test]
    fn add_rows_adds_exactly_its_rows() {
        // Row 1 of a 2×3 constant-0.5 dense matrix adds 0.5 to each of 3 inputs.
        let w = Weights::build(
            &Connectivity::Dense,
            &Distribution::Constant { value: 0.5 },
            2,
            3,
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
            3,
            3,
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
            Connectivity::FixedIndegree { k: 7 },
            Connectivity::Bernoulli { p: 0.2 },
        ];
        for conn in rules {
            let w = Weights::build(&conn, &uniform(), 40, 150, 4, 0);
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
            let w = Weights::build(&Connectivity::Dense, &uniform(), 30, n, 3, 0);
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
