package org.flagagg.cli;

import picocli.CommandLine.Command;

/** {@code flagagg worker}: simulated workers for a job whose aggregator runs elsewhere in the cluster. */
@Command(name = "worker", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Runs the job's P simulated workers for R rounds against an aggregator ('flagagg server "
                + "--cluster') found through the cluster, and reports like loadtest.",
            "Without --cluster it runs embedded: the aggregator in this JVM too.",
            "Round ids are the server's: the workers start at its current round, so a job under way is joined, not "
                + "restarted at 0."})
final class WorkerCommand extends FleetCommand {
    @Override
    boolean startsServer() {
        return false;
    }
}
