package org.flagagg.rules;

import java.util.List;

/** The rules by canonical name. */
public final class Rules {

    /** Canonical names, in the order the docs list them. */
    public static final List<String> NAMES =
            List.of("flag", "mean", "median", "trmean", "phocas", "meamed", "krum", "multikrum", "bulyan", "geomed");

    private Rules() {
    }

    /**
     * Creates the named rule.
     *
     * @throws IllegalArgumentException for an unknown name or a parameter that is invalid for any p
     */
    public static Rule create(RuleConfig config) {
        return switch (config.name()) {
            case "flag" -> new FlagRule(config.flag());
            default -> throw new IllegalArgumentException(
                    "unknown rule '" + config.name() + "' (rules: " + String.join(", ", NAMES) + ")");
        };
    }
}
