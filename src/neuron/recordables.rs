//! The recordable variables every neuron model shares: voltage, synaptic
//! current and input (each model lists them among its own).

use super::Voltage;
use super::input::InputRing;
use super::model::{Recordable, read_each};
use super::synaptic::{Current, Current2, ExternalCurrent, total_current};

/// `voltage`: the membrane voltage V after this step's reset (mV).
pub const VOLTAGE: Recordable = Recordable {
    name: "voltage",
    units: "mV",
    read: |world, _, neurons, _, out| read_each(world, neurons, out, |v: &Voltage| v.0),
};

/// `current`: the synaptic variables summed, `J = Σ_c J_c` (nA).
pub const CURRENT: Recordable = Recordable {
    name: "current",
    units: "nA",
    read: |world, _, neurons, _, out| {
        out.extend(neurons.iter().map(|&(e, _)| {
            let e = world.entity(e);
            total_current(
                e.get::<Current>()
                    .expect("a neuron with a synaptic current"),
                e.get::<Current2>(),
            )
        }))
    },
};

/// `input`: this step's input `I_i(n)`, synaptic (every current) plus
/// external (nA).
pub const INPUT: Recordable = Recordable {
    name: "input",
    units: "nA",
    read: |world, layer, neurons, n, out| {
        let layer = world.entity(layer);
        let ring = layer.get::<InputRing>().expect("a neuron layer's input");
        let ext = layer
            .get::<ExternalCurrent>()
            .expect("a neuron layer's external current")
            .at(n);
        out.extend(neurons.iter().map(|&(_, i)| {
            let synaptic: f32 = (0..ring.currents())
                .map(|c| ring.slot(n, c)[i as usize])
                .sum();
            synaptic + ext
        }))
    },
};
