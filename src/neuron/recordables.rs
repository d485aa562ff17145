//! The recordable variables every neuron model shares: voltage, synaptic
//! current, input and the conductances of conductance-based synapses (each
//! model lists them among its own).

use std::borrow::Cow;

use super::Voltage;
use super::input::InputRing;
use super::model::{ReadFn, Recordable, read_each};
use super::synaptic::{Current, Current2, ExternalCurrent, SynapseConfig, synaptic_current};

/// `voltage`: the membrane voltage V after this step's reset (mV).
pub const VOLTAGE: Recordable = Recordable {
    name: Cow::Borrowed("voltage"),
    units: "mV",
    read: |world, _, neurons, _, out| read_each(world, neurons, out, |v: &Voltage| v.0),
};

/// `current`: the synaptic current `J(n) = Σ_c J_c(n)` that drove this
/// step's voltage, a conductance-based synapse's `J_c = g_c(n) (E_c −
/// V(n−1))` (nA; [`synaptic_current`]).
pub const CURRENT: Recordable = Recordable {
    name: Cow::Borrowed("current"),
    units: "nA",
    read: |world, _, neurons, _, out| {
        out.extend(
            neurons
                .iter()
                .map(|&(e, _)| synaptic_current(world.entity(e))),
        )
    },
};

/// `input`: this step's input `I_i(n)`, synaptic (every current) plus
/// external (nA).
pub const INPUT: Recordable = Recordable {
    name: Cow::Borrowed("input"),
    units: "nA",
    read: |world, layer, neurons, n, out| {
        let layer = world.entity(layer);
        let ring = layer.get::<InputRing>().expect("a neuron layer's input");
        let ext = layer
            .get::<ExternalCurrent>()
            .expect("a neuron layer's external current");
        out.extend(neurons.iter().map(|&(_, i)| {
            let synaptic: f32 = (0..ring.currents())
                .map(|c| ring.slot(n, c)[i as usize])
                .sum();
            synaptic + ext.of(n, i as usize)
        }))
    },
};

/// Units of a conductance in µS, as the file writes them.
pub const MICROSIEMENS: &str = "uS";

/// `recordables` followed by `g_<name>` for each conductance-based synaptic
/// current `<name>` of the layer: its conductance `g_c` after this step, in
/// `g_units` (µS, [`MICROSIEMENS`], where the model's current is in nA).
pub fn with_conductances(
    recordables: &[Recordable],
    currents: &[(String, SynapseConfig)],
    g_units: &'static str,
) -> Vec<Recordable> {
    const READ: [ReadFn; 2] = [
        |world, _, neurons, _, out| read_each(world, neurons, out, |g: &Current| g.0),
        |world, _, neurons, _, out| read_each(world, neurons, out, |g: &Current2| g.0),
    ];
    let conductances = currents
        .iter()
        .zip(READ)
        .filter(|((_, c), _)| c.reversal_mv.is_some())
        .map(|((name, _), read)| Recordable {
            name: Cow::Owned(format!("g_{name}")),
            units: g_units,
            read,
        });
    recordables.iter().cloned().chain(conductances).collect()
}
