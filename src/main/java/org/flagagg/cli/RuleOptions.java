package org.flagagg.cli;

import org.flagagg.fa.FlagOptions;
import org.flagagg.rules.RuleConfig;
import picocli.CommandLine.Option;

/** The rule and its parameters, shared by every command that aggregates. */
final class RuleOptions {

    @Option(names = "--rule", defaultValue = "flag", paramLabel = "RULE",
            description = "Aggregation rule: flag, mean, median, trmean, phocas, meamed, krum, multikrum, bulyan, "
                    + "geomed (default: ${DEFAULT-VALUE}).")
    String rule;

    @Option(names = "--f", defaultValue = "0", paramLabel = "F",
            description = "Byzantine workers tolerated: trmean, phocas, meamed, krum, multikrum, bulyan "
                    + "(default: ${DEFAULT-VALUE}).")
    int f;

    @Option(names = "--m", defaultValue = "0", paramLabel = "M",
            description = "multikrum: how many lowest-score gradients to average; 0 means p - f (default: ${DEFAULT-VALUE}).")
    int m;

    @Option(names = "--r", defaultValue = "0", paramLabel = "R",
            description = "flag: subspace rank, 1..p; 0 means ceil(p/2) (default: ${DEFAULT-VALUE}).")
    int r;

    @Option(names = "--lambda", defaultValue = "0", paramLabel = "L",
            description = "flag: weight of the pairwise terms, >= 0 (default: ${DEFAULT-VALUE}).")
    double lambda;

    @Option(names = "--iterations", defaultValue = "10", paramLabel = "T",
            description = "flag: at most T IRLS steps after the flag-mean start (default: ${DEFAULT-VALUE}). "
                    + "0 returns the flag mean, which is what the FA authors' code computes by default "
                    + "(one IRLS step from a random start gives the flag mean in high dimension).")
    int iterations;

    @Option(names = "--scale", defaultValue = "paper", paramLabel = "paper|norm",
            description = "flag: 'paper' outputs (1/r) sum_i Y Y^T x_i as in the paper (its norm does not follow the "
                    + "gradients'); 'norm' rescales it to the median norm of the gradients FA kept, so a learning "
                    + "rate tuned for mean still fits (default: ${DEFAULT-VALUE}).")
    String scale;

    RuleConfig toConfig() {
        FlagOptions.Scale s = switch (scale) {
            case "paper" -> FlagOptions.Scale.PAPER;
            case "norm" -> FlagOptions.Scale.NORM;
            default -> throw new IllegalArgumentException("--scale must be paper or norm, got '" + scale + "'");
        };
        FlagOptions flag = FlagOptions.DEFAULTS.withRank(r).withLambda(lambda).withIterations(iterations).withScale(s);
        return new RuleConfig(rule, f, m, flag);
    }
}
