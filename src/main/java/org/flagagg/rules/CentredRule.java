package org.flagagg.rules;

import java.util.EnumSet;
import java.util.Set;
import org.flagagg.fa.FlagOptions;

/** What the centred rules (cfa, cfae) share: they drop f workers and run FA on the rest, from the Gram matrix. */
abstract class CentredRule implements Rule {
    final int f;
    final FlagOptions options;

    CentredRule(int f, FlagOptions options) {
        this.f = RuleChecks.requireF(name(), f);
        this.options = options;
    }

    @Override
    public Set<Pass> passes() {
        return EnumSet.of(Pass.GRAM, Pass.SECOND_PASS);
    }

    @Override
    public void validate(int p) {
        if (p - f < 1) {
            throw new IllegalArgumentException(name() + " needs p >= f + 1 (p = " + p + ", f = " + f + ")");
        }
    }
}
