package org.flagagg.rules;

import org.flagagg.fa.FlagOptions;

/**
 * A rule and its parameters, as given by a user (CLI flags, configuration, JSON). Parameters a rule does
 * not use are ignored by it.
 *
 * @param name canonical rule name (see {@link Rules#NAMES})
 * @param f    number of Byzantine workers tolerated (trimmed mean, Phocas, MeaMed, Krum family, Bulyan)
 * @param m    Multi-Krum: how many lowest-score gradients are averaged; 0 = p - f
 * @param flag the Flag Aggregator's options
 * @param pre  pre-aggregation spec ({@link Mixing}: nnm, bucket:s=2, clip), "" for none
 */
public record RuleConfig(String name, int f, int m, FlagOptions flag, String pre) {

    public RuleConfig {
        pre = pre == null ? "" : pre.trim();
    }

    /** Without pre-aggregation. */
    public RuleConfig(String name, int f, int m, FlagOptions flag) {
        this(name, f, m, flag, "");
    }

    public static RuleConfig of(String name) {
        return new RuleConfig(name, 0, 0, FlagOptions.DEFAULTS);
    }

    public RuleConfig withF(int newF) {
        return new RuleConfig(name, newF, m, flag, pre);
    }

    public RuleConfig withM(int newM) {
        return new RuleConfig(name, f, newM, flag, pre);
    }

    public RuleConfig withFlag(FlagOptions newFlag) {
        return new RuleConfig(name, f, m, newFlag, pre);
    }

    public RuleConfig withPre(String newPre) {
        return new RuleConfig(name, f, m, flag, newPre);
    }
}
