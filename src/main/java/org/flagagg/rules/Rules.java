package org.flagagg.rules;

import java.util.List;

/** The rules by canonical name. */
public final class Rules {

    /** Canonical names, in the order the docs list them. */
    public static final List<String> NAMES =
            List.of("flag", "mean", "median", "trmean", "phocas", "meamed", "krum", "multikrum", "bulyan", "geomed",
                    "cfa", "acfa", "cfae");

    private Rules() {
    }

    /**
     * Creates the named rule, behind its pre-aggregation stage if {@link RuleConfig#pre} names one.
     *
     * @throws IllegalArgumentException for an unknown name or a parameter that is invalid for any p
     */
    public static Rule create(RuleConfig config) {
        Rule rule = createRule(config);
        return config.pre().isEmpty() ? rule : new PreAggregatedRule(Mixing.parse(config.pre(), config.f()), rule);
    }

    private static Rule createRule(RuleConfig config) {
        if (config.name() == null) {
            throw new IllegalArgumentException("no rule name given (rules: " + String.join(", ", NAMES) + ")");
        }
        return switch (config.name()) {
            case "flag" -> new FlagRule(config.flag());
            case "mean" -> new MeanRule();
            case "median" -> new MedianRule();
            case "trmean" -> new TrimmedMeanRule(config.f());
            case "phocas" -> new PhocasRule(config.f());
            case "meamed" -> new MeaMedRule(config.f());
            case "krum" -> new KrumRule(config.f());
            case "multikrum" -> new MultiKrumRule(config.f(), config.m());
            case "bulyan" -> new BulyanRule(config.f());
            case "geomed" -> new GeometricMedianRule();
            case "cfa" -> new CentredFlagRule(config.f(), config.flag());
            case "acfa" -> CentredFlagRule.adaptive(config.f(), config.flag());
            case "cfae" -> new CentredEnergyFlagRule(config.f(), config.flag());
            default -> throw new IllegalArgumentException(
                    "unknown rule '" + config.name() + "' (rules: " + String.join(", ", NAMES) + ")");
        };
    }
}
