//! How a block's step reads a per-neuron constant: one value for every
//! row, or each row's own (shared by [`super::driver`] and [`super::synaptic`]).

/// Where a block's step reads a per-neuron constant `T` of its layer: one
/// value for every row ([`Same`], the fast path: the loop keeps it in a
/// register) or each row's own (a slice of the block's rows).
pub trait PerRow<T: Copy>: Copy {
    /// Whether every row has the same value: a loop then reads it once,
    /// before it starts, as it would a constant.
    const ALIKE: bool;
    /// Row `k`'s value.
    fn at(self, k: usize) -> T;
    /// Whether rows `0..n` have a value (asserted before a loop, so that
    /// it runs without bounds checks).
    fn covers(self, n: usize) -> bool;
}

/// The same value for every row.
#[derive(Debug, Clone, Copy)]
pub struct Same<T>(pub T);

impl<T: Copy> PerRow<T> for Same<T> {
    const ALIKE: bool = true;

    #[inline(always)]
    fn at(self, _: usize) -> T {
        self.0
    }

    #[inline(always)]
    fn covers(self, _: usize) -> bool {
        true
    }
}

impl<T: Copy> PerRow<T> for &[T] {
    const ALIKE: bool = false;

    #[inline(always)]
    fn at(self, k: usize) -> T {
        self[k]
    }

    #[inline(always)]
    fn covers(self, n: usize) -> bool {
        self.len() >= n
    }
}

/// Row `k`'s external current `base + each[k]` (nA or pA): a layer's
/// current of the step plus each neuron's own ([`ExternalCurrent::each`](super::synaptic::ExternalCurrent::each)).
#[derive(Debug, Clone, Copy)]
pub struct Offset<'a> {
    /// The layer's current of this step.
    pub base: f32,
    /// Each row's own.
    pub each: &'a [f32],
}

impl PerRow<f32> for Offset<'_> {
    const ALIKE: bool = false;

    #[inline(always)]
    fn at(self, k: usize) -> f32 {
        self.base + self.each[k]
    }

    #[inline(always)]
    fn covers(self, n: usize) -> bool {
        self.each.len() >= n
    }
}
