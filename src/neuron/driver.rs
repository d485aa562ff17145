//! What every model's update system shares: the component columns every
//! neuron has, this step's input of a layer, the walk over a table's rows
//! (split between threads, then layer by layer, then in blocks that stay in
//! L1) and the spikes found. A model supplies its own columns and the step
//! of one block.

use bevy_ecs::bundle::NoBundleEffect;
use bevy_ecs::change_detection::ContiguousMut;
use bevy_ecs::component::Mutable;
use bevy_ecs::prelude::*;
use bevy_ecs::system::SystemState;

use super::input::{InputRing, SharedSlot};
pub use super::per_row::{Offset, PerRow, Same};
use super::synaptic::{
    Current, Current2, ExternalCurrent, MembraneCurrent, SynapseConfig, SynapticCurrent,
    any_conductance,
};
use crate::layer::{InLayer, LayerSpikes, Spiked, layer_runs, publish_spikes};
use crate::step::{Rows, for_rows};

/// Rows per block of a model's step: small enough that the currents just
/// written are still in L1 when the membrane step reads them.
pub const BLOCK: usize = 512;

impl<T: Send> Rows for &mut [T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        self.split_at_mut(mid)
    }
}

/// Tuples of column slices split together (a model's own columns).
macro_rules! tuple_rows {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Rows),+> Rows for ($($t,)+) {
            fn len(&self) -> usize {
                self.0.len()
            }

            fn split_at(self, mid: usize) -> (Self, Self) {
                let parts = ($(self.$i.split_at(mid),)+);
                (($(parts.$i.0,)+), ($(parts.$i.1,)+))
            }
        }
    };
}

tuple_rows!(A 0);
tuple_rows!(A 0, B 1);
tuple_rows!(A 0, B 1, C 2);

/// A run of neuron rows of one table: the columns every neuron has and
/// the model's own, `M` (a tuple of column slices).
pub struct NeuronRows<'a, M> {
    /// Layer and index of each row.
    pub at: &'a [InLayer],
    /// First synaptic current.
    pub j: &'a mut [Current],
    /// Second synaptic current, in tables of layers that have two.
    pub j2: Option<&'a mut [Current2]>,
    /// The synaptic current that drove the step, in tables of layers with
    /// a conductance-based synapse.
    pub jm: Option<&'a mut [MembraneCurrent]>,
    /// Spike flags.
    pub s: &'a mut [Spiked],
    /// The model's columns.
    pub own: M,
}

/// An optional column split at `mid`.
fn split_column<T>(c: Option<&mut [T]>, mid: usize) -> (Option<&mut [T]>, Option<&mut [T]>) {
    match c {
        Some(c) => {
            let (a, b) = c.split_at_mut(mid);
            (Some(a), Some(b))
        }
        None => (None, None),
    }
}

impl<M: Rows> Rows for NeuronRows<'_, M> {
    fn len(&self) -> usize {
        self.at.len()
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (at0, at1) = self.at.split_at(mid);
        let (j0, j1) = self.j.split_at_mut(mid);
        let (j20, j21) = split_column(self.j2, mid);
        let (jm0, jm1) = split_column(self.jm, mid);
        let (s0, s1) = self.s.split_at_mut(mid);
        let (own0, own1) = self.own.split_at(mid);
        (
            NeuronRows {
                at: at0,
                j: j0,
                j2: j20,
                jm: jm0,
                s: s0,
                own: own0,
            },
            NeuronRows {
                at: at1,
                j: j1,
                j2: j21,
                jm: jm1,
                s: s1,
                own: own1,
            },
        )
    }
}

/// One block of a layer's rows, for a model's step: this step's input of
/// each synaptic current (to be read, and zeroed where the layer's
/// [`InputRing`] does not keep it), the synaptic currents, the model's
/// columns and the spike flags to set.
pub struct Block<'b, M> {
    /// Input of the first synaptic current.
    pub input0: &'b mut [f32],
    /// Input of the second (empty for a layer with one).
    pub input1: &'b mut [f32],
    /// First synaptic current.
    pub j: &'b mut [Current],
    /// Second synaptic current, for a layer with two.
    pub j2: Option<&'b mut [Current2]>,
    /// To be set to the synaptic current that drove the step, for a layer
    /// with a conductance-based synapse.
    pub jm: Option<&'b mut [MembraneCurrent]>,
    /// The model's columns.
    pub own: M,
    /// Spike flags.
    pub s: &'b mut [Spiked],
    /// Index in the layer of the block's first row (a model's per-neuron
    /// constants of row `k` are those of neuron `first + k`).
    pub first: usize,
    /// Each row's own part of the external current ([`ExternalCurrent::each`]),
    /// added to the layer's; empty where the layer's neurons have none.
    pub ext_each: &'b [f32],
}

impl<'b, M> Block<'b, M> {
    /// Steps the block's synaptic currents, the layer's `currents`, with
    /// this step's input (`ext`, plus each row's [`Block::ext_each`], into
    /// the first; the input read is set back to 0 if `zero`), and returns
    /// the columns for the model's membrane step.
    #[inline(always)]
    pub fn integrate(
        self,
        currents: &[SynapticCurrent],
        ext: f32,
        zero: bool,
    ) -> Integrated<'b, M> {
        let Block {
            input0,
            input1,
            j,
            j2,
            jm,
            own,
            s,
            first: _,
            ext_each,
        } = self;
        if ext_each.is_empty() {
            currents[0].integrate(j, input0, Same(ext), zero);
        } else {
            let each = Offset {
                base: ext,
                each: ext_each,
            };
            currents[0].integrate(j, input0, each, zero);
        }
        let j2: &[Current2] = match j2 {
            Some(j2) => {
                currents[1].integrate(j2, input1, Same(0.0), zero);
                j2
            }
            None => &[],
        };
        Integrated {
            j,
            j2,
            jm: jm.unwrap_or(&mut []),
            own,
            s,
        }
    }
}

/// A block whose synaptic currents are updated ([`Block::integrate`]), for
/// the model's membrane step.
pub struct Integrated<'b, M> {
    /// First synaptic current.
    pub j: &'b [Current],
    /// Second synaptic current; empty in a layer with one.
    pub j2: &'b [Current2],
    /// To be set to the synaptic current that drove the step; empty in a
    /// layer without a conductance-based synapse.
    pub jm: &'b mut [MembraneCurrent],
    /// The model's columns.
    pub own: M,
    /// Spike flags.
    pub s: &'b mut [Spiked],
}

impl<M> Integrated<'_, M> {
    /// Whether the layer has two synaptic currents (a block has at least
    /// one row, so `j2` is empty only in a layer with one).
    pub fn two(&self) -> bool {
        !self.j2.is_empty()
    }
}

/// A layer's input of this step, as every model reads it.
pub struct LayerInput<'a> {
    /// The layer entity.
    pub layer: Entity,
    /// External current of this step (nA), into the first synaptic current.
    pub ext: f32,
    /// Zero the input once read (see [`InputRing`]).
    pub zero: bool,
    /// Whether the layer has two synaptic currents.
    pub two: bool,
    /// Each neuron's own part of the external current (empty if none).
    pub ext_each: &'a [f32],
    input: [SharedSlot<'a>; 2],
}

impl<'a> LayerInput<'a> {
    /// The input of `layer` at step `n`.
    pub fn new(layer: Entity, ext: &'a ExternalCurrent, ring: Mut<'a, InputRing>, n: u64) -> Self {
        let ring = ring.into_inner();
        Self {
            layer,
            ext: ext.at(n),
            ext_each: &ext.each,
            zero: !ring.keep_consumed,
            two: ring.currents() > 1,
            input: ring.consume(n),
        }
    }

    /// Steps `rows`, consecutive neurons of this layer, in blocks of
    /// [`BLOCK`] rows: `step` advances a block and returns its number of
    /// spikes, which are appended to `out` in index order.
    pub fn run_blocks<M: Rows>(
        &self,
        out: &mut Vec<(Entity, u32)>,
        rows: NeuronRows<'_, M>,
        mut step: impl FnMut(Block<'_, M>) -> usize,
    ) {
        let NeuronRows {
            at,
            j,
            mut j2,
            mut jm,
            s,
            mut own,
        } = rows;
        let mut start = 0;
        while start < at.len() {
            let len = BLOCK.min(at.len() - start);
            let b = start..start + len;
            start += len;
            let (own_block, rest) = own.split_at(len);
            own = rest;
            // Neurons are spawned in index order and never despawned, so
            // the rows of a layer hold consecutive indices.
            let first = at[b.start].index as usize;
            debug_assert_eq!(at[b.end - 1].index as usize, first + len - 1);
            let ib = first..first + len;
            // SAFETY: `for_rows` gives each row to exactly one part, and a
            // layer's neurons have one row each, so the blocks `ib` of parts
            // running in parallel never overlap.
            let (input0, input1) = unsafe {
                (
                    self.input[0].block(ib.clone()),
                    self.input[1].block(if self.two { ib.clone() } else { 0..0 }),
                )
            };
            let spikes = step(Block {
                input0,
                input1,
                j: &mut j[b.clone()],
                j2: j2
                    .as_deref_mut()
                    .filter(|_| self.two)
                    .map(|j2| &mut j2[b.clone()]),
                jm: jm.as_deref_mut().map(|jm| &mut jm[b.clone()]),
                own: own_block,
                s: &mut s[b.clone()],
                first,
                ext_each: self.ext_each.get(ib).unwrap_or_default(),
            });
            push_spikes(out, self.layer, &s[b], first, spikes);
        }
    }
}

/// A model's per-neuron constants `T` of a layer: `same`, or, where some
/// parameter differs between neurons, `each` neuron's (in index order).
#[derive(Debug, Clone)]
pub struct Coefs<T> {
    /// Every neuron's, when they are all alike; else neuron 0's.
    pub same: T,
    /// Each neuron's; empty when they are all alike.
    pub each: Vec<T>,
}

impl<T: Copy> Coefs<T> {
    /// `derive(neuron, its values of params)` for each neuron (`params`:
    /// a layer's resolved parameters, [`crate::param::Values`]): once, with
    /// `neuron = None`, when every parameter is the same for all neurons,
    /// else for each neuron `Some(i)` of the `size`; the first error is
    /// returned.
    pub fn new<const N: usize, E>(
        params: &[crate::param::Values; N],
        size: usize,
        mut derive: impl FnMut(Option<usize>, [f64; N]) -> Result<T, E>,
    ) -> Result<Self, E> {
        let of = |i: usize| std::array::from_fn(|p| params[p].at(i));
        if params.iter().all(|v| v.same().is_some()) {
            return Ok(Self {
                same: derive(None, of(0))?,
                each: Vec::new(),
            });
        }
        let each: Vec<T> = (0..size)
            .map(|i| derive(Some(i), of(i)))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            same: each[0],
            each,
        })
    }

    /// Neuron `i`'s.
    pub fn at(&self, i: usize) -> T {
        self.each.get(i).copied().unwrap_or(self.same)
    }

    /// The constants of the block of `n` rows from neuron `first`, for a
    /// step generic over [`PerRow`].
    #[inline]
    pub fn block(&self, first: usize, n: usize) -> BlockCoefs<'_, T> {
        if self.each.is_empty() {
            BlockCoefs::Same(Same(self.same))
        } else {
            BlockCoefs::Each(&self.each[first..first + n])
        }
    }
}

/// A block's per-neuron constants ([`Coefs::block`]).
pub enum BlockCoefs<'a, T> {
    /// All rows alike.
    Same(Same<T>),
    /// Each row's.
    Each(&'a [T]),
}

/// `key` of neuron `i`'s value of a field, for a check's messages:
/// `key(field)`, or `key(field) (neuron i)`.
pub fn neuron_key(key: &dyn Fn(&str) -> String, i: Option<usize>, field: &str) -> String {
    match i {
        None => key(field),
        Some(i) => format!("{} (neuron {i})", key(field)),
    }
}

/// A table's column for a model's update, written without change
/// detection (nothing reads these columns' change ticks).
pub fn column<T>(c: ContiguousMut<'_, T>) -> &mut [T] {
    ContiguousMut::bypass_change_detection_split(c).0
}

/// One layer's share of a model's update: its input and the model's
/// constants `C`.
pub struct LayerStep<'a, C> {
    /// This step's input.
    pub input: LayerInput<'a>,
    /// The model's constants of the layer.
    pub model: C,
}

/// Steps every row of `tables` (the tables of one model's neurons): each
/// table is split between the worker threads ([`for_rows`]), each part cut
/// into the runs of its layers, and each run handed to `run` with its
/// layer's entry of `steps`. Spikes go to the layers' lists.
pub fn step_tables<'t, M: Rows, C: Sync>(
    tables: impl Iterator<Item = NeuronRows<'t, M>>,
    steps: &[LayerStep<'_, C>],
    run: impl Fn(&LayerStep<'_, C>, &mut Vec<(Entity, u32)>, NeuronRows<'t, M>) + Sync,
    fired: &mut Vec<(Entity, u32)>,
    lists: &mut Query<&mut LayerSpikes>,
) {
    let kernel = |out: &mut Vec<(Entity, u32)>, rows: NeuronRows<'t, M>| {
        let at = rows.at;
        let mut rest = rows;
        for span in layer_runs(at) {
            let (rows, tail) = rest.split_at(span.len());
            rest = tail;
            let layer = at[span.start].layer;
            let step = steps
                .iter()
                .find(|s| s.input.layer == layer)
                .expect("a neuron's layer has its model's parameters");
            run(step, out, rows);
        }
    };
    for rows in tables {
        for_rows(rows, fired, &kernel);
    }
    publish_spikes(fired, lists);
}

/// A buffer kept between steps (in a system's `Local`), so that a step's
/// list of layers allocates nothing.
pub struct Spare<T>(pub Vec<T>);

impl<T> Default for Spare<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

/// The buffer of `v`, emptied, as a vector of `B`: the same type with other
/// borrows. An emptied vector's iterator collected into one of the same
/// element layout reuses its buffer (the standard library collects such
/// iterators in place); no element is ever mapped.
pub fn recycle<A, B>(v: &mut Vec<A>) -> Vec<B> {
    v.clear();
    std::mem::take(v)
        .into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

/// Appends `(layer, first + k)` for each of the `count` rows `k` of `s` that
/// spiked. Spikes are rare: 32-row chunks without one are passed over with
/// one vector test, and the scan stops at the last spike.
pub fn push_spikes(
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

/// Spawns the `size` neurons of `layer`, in index order, each with the
/// components every neuron has ([`InLayer`], [`Current`], [`Current2`] where
/// the layer has two synaptic `currents`, [`MembraneCurrent`] where one is
/// conductance-based, [`Spiked`]) and the model's own, `own(index)`;
/// returns them.
pub fn spawn_neurons<B: Bundle<Effect: NoBundleEffect>>(
    world: &mut World,
    layer: Entity,
    size: usize,
    currents: &[(String, SynapseConfig)],
    own: impl Fn(u32) -> B,
) -> Vec<Entity> {
    let shared = |index| {
        (
            InLayer { layer, index },
            Current::default(),
            Spiked::default(),
        )
    };
    let n = size as u32;
    let neurons: Vec<Entity> = if currents.len() > 1 {
        world
            .spawn_batch((0..n).map(|i| (shared(i), Current2::default(), own(i))))
            .collect()
    } else {
        world
            .spawn_batch((0..n).map(|i| (shared(i), own(i))))
            .collect()
    };
    if any_conductance(currents) {
        world.insert_batch(neurons.iter().map(|&e| (e, MembraneCurrent::default())));
    }
    neurons
}

/// Sets component `C` of every neuron of the model marked `N` to
/// `value(its layer's parameters P, its index)`: a model's reset.
pub fn reset_each<N: Component, P: Component, C: Component<Mutability = Mutable>>(
    world: &mut World,
    value: impl Fn(&P, u32) -> C,
) {
    let mut state = SystemState::<(Query<(&InLayer, &mut C), With<N>>, Query<&P>)>::new(world);
    let (mut neurons, layers) = state.get_mut(world).expect("disjoint queries");
    for (at, mut c) in &mut neurons {
        let p = layers
            .get(at.layer)
            .expect("a neuron's layer has its model's parameters");
        *c = value(p, at.index);
    }
}

/// Zeroes every neuron's synaptic currents and [`MembraneCurrent`] (part
/// of every model's reset).
pub fn reset_currents(world: &mut World) {
    for mut j in world.query::<&mut MembraneCurrent>().iter_mut(world) {
        *j = MembraneCurrent::default();
    }
    for mut j in world.query::<&mut Current>().iter_mut(world) {
        *j = Current::default();
    }
    for mut j in world.query::<&mut Current2>().iter_mut(world) {
        *j = Current2::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn tuples_of_columns_split_together() {
        let (mut a, mut b) = ([1, 2, 3, 4], [5.0, 6.0, 7.0, 8.0]);
        let rows = (&mut a[..], &mut b[..]);
        assert_eq!(rows.len(), 4);
        let ((a0, b0), (a1, b1)) = rows.split_at(1);
        assert_eq!(
            (&a0[..], &b0[..], &a1[..], &b1[..]),
            (&[1][..], &[5.0][..], &[2, 3, 4][..], &[6.0, 7.0, 8.0][..])
        );
    }
}
