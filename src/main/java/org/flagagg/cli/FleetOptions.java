package org.flagagg.cli;

import java.nio.file.Path;
import org.flagagg.sim.Fleet;
import picocli.CommandLine.Option;

/** The simulated workers of a load run: rounds, Byzantine workers and their attack, stragglers, checks. */
final class FleetOptions {

    @Option(names = "--rounds", paramLabel = "R", defaultValue = "10", description = "Rounds to run "
            + "(default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--warmup", paramLabel = "W", defaultValue = "0", description = "Rounds to run first and leave "
            + "out of every figure, so the JIT has compiled the hot paths (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--byzantine", paramLabel = "F", defaultValue = "0", description = "Byzantine workers, the "
            + "first F slots (default: ${DEFAULT-VALUE}).")
    int byzantine;

    @Option(names = "--attack", paramLabel = "SPEC", defaultValue = "lie", description = "What the Byzantine "
            + "workers send: none, random, reverse, drop, lie, empire, signflip, nan, zero, duplicate (mimic), lienoise, with "
            + "parameters as in 'empire:eps=10' (default: ${DEFAULT-VALUE}).")
    String attack;

    @Option(names = "--stragglers", paramLabel = "SPEC", defaultValue = "none", description = "Straggler "
            + "behaviour, parts joined with '+': none, delay:ms=M[,workers=K], lognormal:median_ms=M,sigma=S"
            + "[,workers=K], dropout:p=P[,workers=K], slowreader:ms=M[,workers=K] (default: ${DEFAULT-VALUE}).")
    String stragglers;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1", description = "Seed of the gradients, "
            + "attacks and stragglers (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--verify", description = "Check every completed round against the offline aggregate of its "
            + "participants and report the largest relative difference (streams: 4 x dim bytes of disk in the spill "
            + "directory, not heap).")
    boolean verify;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the report as JSON to FILE.")
    Path json;

    Fleet.Config toConfig() {
        return new Fleet.Config(seed, byzantine, attack, stragglers);
    }
}
