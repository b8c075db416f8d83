package org.flagagg.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code flagagg loadtest}: an aggregator and simulated workers, measured. */
@Command(name = "loadtest", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Drives an aggregator with P simulated workers for R rounds and reports throughput, round "
                + "latency, stragglers, exclusions, peak memory and (with --verify) the error against the offline "
                + "aggregate.",
            "Embedded (one JVM) by default; with --cluster the aggregator runs in a child JVM joined over "
                + "Hazelcast on loopback. Bounded in rounds and time; loopback only."})
final class LoadTestCommand extends FleetCommand {

    @Option(names = "--transport", paramLabel = "bus|ws", defaultValue = "bus", description = "How the simulated "
            + "workers reach the aggregator: the event bus (default) or WebSockets through the aggregator's gateway "
            + "(FlagaggClient, with generated tokens).")
    String transport;

    @Override
    String transport() {
        return transport;
    }

    @Override
    boolean startsServer() {
        return true;
    }
}
