package org.flagagg.rules;

import java.util.Set;

/**
 * An aggregation rule in streaming form: an optional p x p stage on the Gram matrix ({@link #solve}),
 * then an output pass that turns each chunk of the selected inputs into a chunk of the aggregate
 * ({@link Solution#apply}). Inputs are indexed 0..p-1 in a fixed order; the caller has already removed
 * inputs with non-finite values.
 */
public interface Rule {

    /** What a rule needs from the data; it decides how a round streams and what it must keep. */
    enum Pass {
        /** The p x p Gram matrix, folded chunk by chunk as the data arrives. */
        GRAM,
        /**
         * The chunks again after solve(): from a chunk store, or a source that can be re-read. A rule
         * without it (mean) has a solution that does not depend on the data, so its output can be
         * summed as chunks arrive.
         */
        SECOND_PASS
    }

    /** Canonical lower-case name, as used by the CLI, JSON, metrics and docs. */
    String name();

    Set<Pass> passes();

    default boolean needsGram() {
        return passes().contains(Pass.GRAM);
    }

    /**
     * Checks the rule's parameters against p inputs.
     *
     * @throws IllegalArgumentException with a message a user can act on (names the parameter and the bound)
     */
    void validate(int p);

    /**
     * The p x p stage over p inputs. {@code gram} is row-major p x p, or null when the rule does not
     * need it. Calls {@link #validate} first.
     */
    Solution solve(int p, double[] gram);
}
