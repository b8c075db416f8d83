package org.flagagg.cli;

import java.util.List;
import org.flagagg.engine.Deadlines;
import picocli.CommandLine.Option;

/**
 * A hidden flag for tests that need rounds to close at their deadline with exactly the workers they expect in
 * (server, loadtest): the deadline then also waits for N deliveries ({@link Deadlines#waitingFor}). A flag, not
 * a configuration key, so no configuration file or environment reaches it.
 */
final class TestDeadlinesOption {
    static final String NAME = "--test-deadlines-wait-for";

    @Option(names = NAME, hidden = true, paramLabel = "N",
            description = "Tests only: a round's deadline also waits until N workers delivered the round.")
    Integer waitFor;

    Deadlines deadlines() {
        return waitFor == null ? Deadlines.timers() : Deadlines.waitingFor(waitFor);
    }

    /** The flag again, for a server in a child JVM. */
    List<String> args() {
        return waitFor == null ? List.of() : List.of(NAME, waitFor.toString());
    }
}
