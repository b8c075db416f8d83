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

    @Override
    boolean startsServer() {
        return true;
    }
}
