"""spikesim from Python: the simulator's core, driven by the same config as ``spikesim run``.

    import spikesim
    sim = spikesim.Simulation("experiments/seed.toml", set=["simulation.seed=3"])
    sim.monitor_spikes("hidden")
    sim.run(ms=500)                      # GIL released; Ctrl-C raises KeyboardInterrupt
    t, i = sim.spike_trains("hidden")    # NumPy arrays
    v = sim.voltage("hidden")            # float32, mV
    sim.set_voltage("hidden", v * 0)     # state can be set as well as read
    print(sim.to_toml())                 # the resolved config, for provenance

A config is a dict with the TOML config's tables, TOML text, or a path to a TOML file; errors in
it raise :class:`ConfigError` with the command line's one-line message.
"""

from ._spikesim import ConfigError, Simulation, __version__

__all__ = ["ConfigError", "Simulation", "__version__"]
