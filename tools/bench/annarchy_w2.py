"""W2 CUBA (Vogels & Abbott 2005, Brian2's CUBA example) in ANNarchy 5, as brian2_w2.py and
nest_w2.py of shared/peers run it: the same parameters (common.CUBA), the same connectivity
instance (common.cuba_connectivity: each neuron gets 64 distinct E and 16 distinct I partners),
the same flags and the same RESULT line.

  taum dv/dt  = ge - gi - (v - El)      (frozen while refractory, 5 ms)
  taue dge/dt = -ge ; taui dgi/dt = -gi
  v > Vt -> v = Vr ; a spike adds we = 1.62 mV to ge (E) or |wi| = 9 mV to gi (I)

dt = 0.1 ms, 10000 steps (1 s) by default; v0 ~ U[Vr, Vt] (numpy, seeded).
Differences from Brian2: every variable is integrated with ANNarchy's `exponential` method
(exact for ge and gi; for v exact with ge and gi held constant over the step; `event-driven`
on ge and gi gave 20-30 Hz instead of 5 Hz, so it is not used); ANNarchy delivers a spike at
the step after it is emitted (one step of delay, as NEST's 0.1 ms); the inhibitory weights are
stored positive and subtracted in the equation.

Timing: setup_s = building the network in Python (populations, connectivity, initial values);
build_s = net.compile() (code generation, the C++ compile with g++ and loading the network into
the compiled library); wall_s = one net.simulate() of --steps steps. Reps continue the same
network (as NEST's). Spikes are counted from a spike Monitor emptied after each rep;
syn_events = sum over neurons of spikes x out-degree. The code is generated and compiled in a
fresh temporary folder (under $TMPDIR), removed at the end, or in --builddir, kept.

Usage: python annarchy_w2.py --neurons 4000 --threads 2 --reps 3 [--steps 2000] [--quiet]
"""
import os
import shutil
import sys
import tempfile
import time

# shared/peers (common.py) beside the repo, or $PEERS_DIR
PEERS_DIR = os.environ.get("PEERS_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "peers")
sys.path.insert(0, PEERS_DIR)
import common as C  # noqa: E402


def main():
    p = C.parser("W2 CUBA ANNarchy", neurons=4000)
    p.add_argument("--builddir", default=None,
                   help="where to generate and compile the code, kept (default: a fresh temporary folder, removed)")
    args = p.parse_args()
    # ANNarchy runs `cmake` through the shell: the one PyPI's cmake put beside this python
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    import numpy as np
    from scipy.sparse import csr_matrix
    import ANNarchy as ann

    P = C.CUBA
    steps = args.steps or 10000
    N = args.neurons
    bio_s = steps * P["dt"] * 1e-3
    t_setup0 = time.perf_counter()
    net = ann.Network(dt=P["dt"], seed=args.seed)
    net.config(num_threads=args.threads, suppress_warnings=args.quiet)
    neuron = ann.Neuron(
        parameters=dict(El=P["El"], Vr=P["Vr"], Vt=P["Vt"], taum=P["taum"], taue=P["taue"],
                        taui=P["taui"]),
        equations=["taum * dv/dt = g_exc - g_inh - (v - El) : exponential",
                   "taue * dg_exc/dt = -g_exc : exponential",
                   "taui * dg_inh/dt = -g_inh : exponential"],
        spike="v > Vt", reset="v = Vr", refractory=P["tref"])
    pop = net.create(N, neuron=neuron)
    rng = np.random.default_rng(args.seed)
    pop.v = P["Vr"] + rng.random(N) * (P["Vt"] - P["Vr"])
    (pe, qe), (pi, qi) = C.cuba_connectivity(args.seed, N)
    outdeg = np.bincount(pe, minlength=N) + np.bincount(pi, minlength=N)
    for pre, post, target, w in ((pe, qe, "exc", P["we"]), (pi, qi, "inh", -P["wi"])):
        # rows = presynaptic ranks, as from_sparse wants them
        m = csr_matrix((np.full(len(pre), w), (pre, post)), shape=(N, N))
        net.connect(pop, pop, target).from_sparse(m, delays=P["dt"])
    del pe, qe, pi, qi
    mon = net.monitor(pop, "spike")
    setup_s = time.perf_counter() - t_setup0
    build_dir = args.builddir or tempfile.mkdtemp(prefix=f"annarchy_w2_N{N}_T{args.threads}_")
    try:
        t0 = time.perf_counter()
        net.compile(directory=build_dir, silent=args.quiet)
        build_s = time.perf_counter() - t0
        for rep in range(args.reps):
            t1 = time.perf_counter()
            net.simulate(steps * P["dt"])
            wall = time.perf_counter() - t1
            spikes = mon.get("spike")
            counts = np.zeros(N, dtype=np.int64)
            for rank, times in spikes.items():
                counts[rank] = len(times)
            n_out = int(counts.sum())
            syn = int((counts * outdeg).sum())
            C.result_line("annarchy", "W2", N, wall, steps, 0, n_out, syn, threads=args.threads,
                          rate_hz=n_out / N / bio_s, wall_per_bio_s=wall / bio_s,
                          syn_ev_per_s=syn / wall if wall > 0 else float("nan"), rep=rep,
                          version=ann.__release__, setup_s=setup_s, build_s=build_s)
    finally:
        if not args.builddir:
            shutil.rmtree(build_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
