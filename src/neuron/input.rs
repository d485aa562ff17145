//! A neuron layer's pending synaptic input: the ring of input slots that
//! delivery adds into and each model's update reads, and the sharing of one
//! slot between the parallel parts of an update.

use std::marker::PhantomData;
use std::ops::Range;

use bevy_ecs::prelude::*;

use crate::step::Clock;

/// A neuron layer's pending synaptic input: a ring of `max delay` slots per
/// synaptic current, slot `(n mod len, c)` holding `I_c(n)` for every neuron.
/// Written by `deliver` (adds), read by `update`, which also zeroes what it
/// read, block by block while it is in cache — unless the layer's `input`
/// is recorded: then the recorder reads slot `n` after the update, and
/// `clear_consumed_input` zeroes it at the start of step `n + 1`.
#[derive(Component, Debug, Clone)]
pub struct InputRing {
    /// `len · currents` rows of one value per neuron; row `slot · currents + c`.
    rows: Vec<Vec<f32>>,
    currents: usize,
    /// Whether a consumed slot is kept until the next step (for the recorder).
    pub keep_consumed: bool,
}

impl InputRing {
    /// A ring for `size` neurons, delays up to `max_delay` (>= 1) steps and
    /// `currents` synaptic currents; `keep_consumed` when the layer's
    /// `input` is recorded.
    pub fn new(size: usize, max_delay: u32, currents: usize, keep_consumed: bool) -> Self {
        Self {
            rows: vec![vec![0.0; size]; max_delay.max(1) as usize * currents],
            currents,
            keep_consumed,
        }
    }

    /// The slots of every synaptic current for step `n`, for `update` to
    /// read (and zero, unless [`InputRing::keep_consumed`]) from parallel
    /// parts of the layer.
    /// The second is empty for a layer with one synaptic current.
    pub fn consume(&mut self, n: u64) -> [SharedSlot<'_>; 2] {
        let first = self.row(n, 0);
        match &mut self.rows[first..first + self.currents] {
            [a] => [SharedSlot::new(a), SharedSlot::new(&mut [])],
            [a, b] => [SharedSlot::new(a), SharedSlot::new(b)],
            _ => unreachable!("a layer has one or two synaptic currents"),
        }
    }

    fn row(&self, n: u64, c: usize) -> usize {
        let len = (self.rows.len() / self.currents) as u64;
        (n % len) as usize * self.currents + c
    }

    /// Input of synaptic current `c` arriving at step `n`.
    #[inline]
    pub fn slot(&self, n: u64, c: usize) -> &[f32] {
        &self.rows[self.row(n, c)]
    }

    /// Input of synaptic current `c` arriving at step `n`, to add into.
    pub fn slot_mut(&mut self, n: u64, c: usize) -> &mut [f32] {
        let r = self.row(n, c);
        &mut self.rows[r]
    }

    /// The inputs of synaptic current `c` arriving at steps `from..from +
    /// count` (`count` at most the ring's length), in that order, to add
    /// into.
    pub fn slots_mut(&mut self, from: u64, c: usize, count: usize) -> Vec<&mut [f32]> {
        let len = self.rows.len() / self.currents;
        assert!(count <= len, "{count} steps ahead in a ring of {len}");
        let at: Vec<usize> = (0..count as u64).map(|k| self.row(from + k, c)).collect();
        let mut rows: Vec<Option<&mut [f32]>> =
            self.rows.iter_mut().map(|r| Some(&mut r[..])).collect();
        at.iter()
            .map(|&r| rows[r].take().expect("distinct steps are distinct rows"))
            .collect()
    }

    /// Number of synaptic currents.
    pub fn currents(&self) -> usize {
        self.currents
    }

    /// Every slot's values, slot by slot (what a resume point saves).
    pub fn values(&self) -> impl Iterator<Item = f32> + '_ {
        self.rows.iter().flatten().copied()
    }

    /// Sets every slot's values from `v`, in the order of
    /// [`values`](InputRing::values); returns how many it took.
    pub fn set_values(&mut self, v: &[f32]) -> usize {
        let mut taken = 0;
        for r in &mut self.rows {
            let n = r.len().min(v.len() - taken);
            r[..n].copy_from_slice(&v[taken..taken + n]);
            taken += n;
        }
        taken
    }

    /// Drops all pending input.
    pub fn clear(&mut self) {
        for r in &mut self.rows {
            r.fill(0.0);
        }
    }
}

/// One input slot shared by the parallel parts of `update`, each of which
/// takes the block of neurons it owns. Blocks of different parts never
/// overlap, which is what makes handing out `&mut` blocks from `&self` sound.
pub struct SharedSlot<'a> {
    ptr: *mut f32,
    len: usize,
    _slot: PhantomData<&'a mut [f32]>,
}

// SAFETY: a SharedSlot is only a `&mut [f32]` whose disjoint blocks may be
// borrowed from several threads; see `block`.
unsafe impl Send for SharedSlot<'_> {}
// SAFETY: as for Send: shared use only hands out disjoint blocks.
unsafe impl Sync for SharedSlot<'_> {}

impl<'a> SharedSlot<'a> {
    /// Shares `slot`.
    pub fn new(slot: &'a mut [f32]) -> Self {
        Self {
            ptr: slot.as_mut_ptr(),
            len: slot.len(),
            _slot: PhantomData,
        }
    }

    /// Number of neurons of the slot.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slot is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Neurons `r` of the slot.
    ///
    /// # Safety
    /// No two blocks alive at the same time may overlap.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn block(&self, r: Range<usize>) -> &mut [f32] {
        assert!(
            r.start <= r.end && r.end <= self.len,
            "block out of the slot"
        );
        // SAFETY: in bounds (checked above); exclusive by the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r.start), r.len()) }
    }
}

/// Start of step `n`: zero the slot consumed at step `n − 1` of rings that
/// kept it for the recorder, so it can receive input for step `n − 1 + len`.
pub fn clear_consumed_input(clock: Res<Clock>, mut rings: Query<&mut InputRing>) {
    if clock.step == 0 {
        return;
    }
    for mut ring in &mut rings {
        if !ring.keep_consumed {
            continue;
        }
        let ring = ring.bypass_change_detection();
        for c in 0..ring.currents {
            ring.slot_mut(clock.step - 1, c).fill(0.0);
        }
    }
}
