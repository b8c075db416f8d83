package org.flagagg.web;

import java.util.Set;

/**
 * Bounded label values for metrics: exclusion reasons are free text (they name chunks, offsets and values),
 * so meters count them by category; rejection keys are already short, but unknown ones fold into "other".
 */
final class ReasonCategory {
    static final String OTHER = "other";
    /** The keys of the round record's "rejected" map (docs/protocol.md), as Round counts them. */
    static final Set<String> REJECTED_KEYS = Set.of("closed", "after_exclusion", "wrong_shape", "duplicate_retry",
            "conflicting_duplicate", "malformed", "non_finite");

    private ReasonCategory() {
    }

    /** The category of an exclusion reason from the round record's "excluded" map. */
    static String ofExclusion(String reason) {
        if (reason == null) {
            return OTHER;
        }
        String r = reason.toLowerCase(java.util.Locale.ROOT);
        if (r.startsWith("malformed")) {
            return "malformed";
        }
        if (r.startsWith("wrong shape")) {
            return "wrong_shape";
        }
        if (r.startsWith("conflicting duplicate")) {
            return "conflicting_duplicate";
        }
        if (r.startsWith("non-finite")) {
            return "non_finite";
        }
        if (r.contains("disconnect") || r.contains("connection closed")) {
            return "disconnected";
        }
        return OTHER;
    }

    /** A rejection key from the record's "rejected" map, or "other" when it is not a known one. */
    static String ofRejection(String key) {
        return REJECTED_KEYS.contains(key) ? key : OTHER;
    }
}
