package org.flagagg.rules;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A rule's diagnostics for reports: named values in the order they were added. Plain Java so the math core
 * needs no JSON library; the edge writes them as JSON (engine.RoundReport). A value is a Number, Boolean,
 * String, double[] or int[] (per-input arrays follow the rule's inputs), a nested Details, or a List of
 * Details.
 */
public record Details(Map<String, Object> values) {
    public static final Details EMPTY = new Details(Map.of());

    public Details {
        values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /** These details and one value more (replacing a value of the same name). */
    public Details with(String name, Object value) {
        if (!(value instanceof Number || value instanceof Boolean || value instanceof String
                || value instanceof double[] || value instanceof int[] || value instanceof Details
                || value instanceof List<?>)) {
            throw new IllegalArgumentException("details value '" + name + "' has an unsupported type: " + value);
        }
        Map<String, Object> more = new LinkedHashMap<>(values);
        more.put(name, value);
        return new Details(more);
    }

    public Object get(String name) {
        return values.get(name);
    }

    public int integer(String name) {
        return ((Number) values.get(name)).intValue();
    }

    public double number(String name) {
        return ((Number) values.get(name)).doubleValue();
    }

    public double[] doubles(String name) {
        return (double[]) values.get(name);
    }

    public int[] ints(String name) {
        return (int[]) values.get(name);
    }

    public Details nested(String name) {
        return (Details) values.get(name);
    }
}
