package org.flagagg.cli;

import org.flagagg.demo.Training;
import org.flagagg.fa.FlagOptions;
import picocli.CommandLine.Option;

/** The training task's options, shared by {@code demo} and {@code robustness} (a picocli mixin). */
final class TrainingOptions {

    @Option(names = {"-p", "--workers"}, paramLabel = "P", defaultValue = "15", description = "Workers (default: ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = {"-f", "--byzantine"}, paramLabel = "F", defaultValue = "3",
            description = "Byzantine workers, the first F (w0..w{F-1}); also the f given to the rules (default: ${DEFAULT-VALUE}).")
    int byzantine;

    @Option(names = "--rounds", paramLabel = "R", defaultValue = "150", description = "Rounds per run (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--eval-every", paramLabel = "K", defaultValue = "5",
            description = "Evaluate on the test set every K rounds (default: ${DEFAULT-VALUE}).")
    int evalEvery;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "32", description = "Images per worker per round (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", paramLabel = "LR", defaultValue = "1.0",
            description = "SGD learning rate, the same for every rule (default: ${DEFAULT-VALUE}).")
    double learningRate;

    @Option(names = "--schedule", paramLabel = "constant|cosine", defaultValue = "cosine",
            description = "Learning rate over the rounds: constant, or cosine (from --lr down to 0 at the last round) "
                    + "(default: ${DEFAULT-VALUE}).")
    String schedule;

    @Option(names = "--train-size", paramLabel = "N", defaultValue = "12000",
            description = "Generated training images (default: ${DEFAULT-VALUE}); with demo --data, at most this many are used.")
    int trainSize;

    @Option(names = "--test-size", paramLabel = "N", defaultValue = "2000",
            description = "Generated test images (default: ${DEFAULT-VALUE}); with demo --data, at most this many are used.")
    int testSize;

    /** Rejects a training set smaller than p or an empty test set. */
    void check() {
        if (trainSize < workers || testSize < 1) {
            throw new IllegalArgumentException("--train-size must be >= p (" + workers + ") and --test-size >= 1, got "
                    + trainSize + ", " + testSize);
        }
    }

    /** The settings of the runs of one seed and split ({@code runRounds} may differ from --rounds, as with --quick). */
    Training.Settings settings(long seed, FlagOptions flag, long deadlineMs, String split, int runRounds) {
        return new Training.Settings(workers, byzantine, batch, learningRate, runRounds, evalEvery, seed, flag, 4096,
                deadlineMs, split, schedule);
    }
}
