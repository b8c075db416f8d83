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
 */
public record RuleConfig(String name, int f, int m, FlagOptions flag) {

    public static RuleConfig of(String name) {
        return new RuleConfig(name, 0, 0, FlagOptions.DEFAULTS);
    }

    public RuleConfig withF(int newF) {
        return new RuleConfig(name, newF, m, flag);
    }

    public RuleConfig withM(int newM) {
        return new RuleConfig(name, f, newM, flag);
    }

    public RuleConfig withFlag(FlagOptions newFlag) {
        return new RuleConfig(name, f, m, newFlag);
    }
}
