package org.flagagg.rules;


/** Parameter checks and small helpers shared by the rules. */
final class RuleChecks {

    private RuleChecks() {
    }

    /** f is checked when a rule is created: a negative f is wrong for every p. */
    static int requireF(String rule, int f) {
        if (f < 0) {
            throw new IllegalArgumentException(rule + " needs f >= 0 (f = " + f + ")");
        }
        return f;
    }

    static void requireInputs(String rule, int p) {
        if (p < 1) {
            throw new IllegalArgumentException(rule + " needs at least one input (p = " + p + ")");
        }
    }

    static void requireGram(String rule, int p, double[] gram) {
        if (gram == null || gram.length != p * p) {
            throw new IllegalArgumentException(rule + " needs the p x p Gram matrix (p = " + p + ", got "
                    + (gram == null ? "none" : gram.length + " entries") + ")");
        }
    }

    /** 0, 1, ..., p - 1. */
    static int[] allInputs(int p) {
        int[] all = new int[p];
        for (int i = 0; i < p; i++) {
            all[i] = i;
        }
        return all;
    }
}
