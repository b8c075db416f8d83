package org.flagagg.cli;

import picocli.CommandLine.Option;

/**
 * The rule and its parameters, shared by every command that aggregates. Unset flags keep the value of the
 * configuration (conf/flagagg.json, a --conf file, the environment); the defaults shown are the packaged ones.
 */
final class RuleOptions {

    @Option(names = "--rule", paramLabel = "RULE",
            description = "Aggregation rule: flag, mean, median, trmean, phocas, meamed, krum, multikrum, bulyan, "
                    + "geomed, cfa, acfa, cfae (default: flag).")
    String rule;

    @Option(names = "--f", paramLabel = "F",
            description = "Byzantine workers tolerated: trmean, phocas, meamed, krum, multikrum, bulyan; "
                    + "cfa drops the f workers with the highest centred quality, acfa at most f (those the flag fits to 1%), cfae the f most outlying in centred "
                    + "quality or projection energy; nnm mixes p - f neighbours (default: 0).")
    Integer f;

    @Option(names = "--m", paramLabel = "M",
            description = "multikrum: how many lowest-score gradients to average; 0 means p - f (default: 0).")
    Integer m;

    @Option(names = "--r", paramLabel = "R",
            description = "flag: subspace rank, 1..p; 0 means ceil(p/2) (default: 0).")
    Integer r;

    @Option(names = "--lambda", paramLabel = "L",
            description = "flag, cfa: weight of the pairwise terms, >= 0 (default: 0).")
    Double lambda;

    @Option(names = "--iterations", paramLabel = "T",
            description = "flag, cfa: at most T IRLS steps after the flag-mean start (default: 10). "
                    + "0 returns the flag mean, which is what the FA authors' code computes by default "
                    + "(one IRLS step from a random start gives the flag mean in high dimension).")
    Integer iterations;

    @Option(names = "--scale", paramLabel = "paper|norm",
            description = "flag, cfa: 'norm' rescales FA's output to the median norm of the gradients it kept, so a "
                    + "learning rate tuned for mean still fits; 'paper' outputs the authors' formula (1/r) sum_i "
                    + "Y Y^T x_i, whose norm does not follow the gradients' (default: norm).")
    String scale;

    @Option(names = "--pre", paramLabel = "nnm|bucket:s=2|clip",
            description = "Pre-aggregation before the rule: nnm (mean of the p - f nearest neighbours), bucket:s=S "
                    + "(means of random buckets of S, seed=N), clip (ARC: the largest norms clipped, k=K); "
                    + "the rule is then named e.g. nnm+flag (default: none).")
    String pre;

    /** Adds the flags that were given to the command line's configuration layer. */
    void addTo(FlagLayer flags) {
        flags.put("rule.name", rule).put("rule.f", f).put("rule.m", m).put("rule.r", r).put("rule.lambda", lambda)
                .put("rule.iterations", iterations).put("rule.scale", scale).put("rule.pre", pre);
    }
}
