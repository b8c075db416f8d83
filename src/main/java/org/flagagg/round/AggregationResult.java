package org.flagagg.round;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;

/**
 * What an aggregation did, in worker indices (0..workers-1, the input order).
 *
 * @param kept         workers the rule saw (all but those with non-finite values), ascending
 * @param selected     workers whose data the output used, ascending
 * @param dropped      worker -> reason, for workers set aside before or by the rule
 * @param coefficients the aggregate's coefficients over {@code selected} when it is a linear combination
 * @param details      the rule's own diagnostics; per-input arrays follow {@code kept}
 */
public record AggregationResult(String rule, int workers, long dimension, int[] kept, int[] selected,
        Map<Integer, String> dropped, double[] coefficients, JsonObject details, Timings timings, String kernels) {

    /** Wall time of each phase, in milliseconds. */
    public record Timings(double firstPassMs, double solveMs, double outputPassMs) {
    }

    /**
     * Details keys whose arrays hold one value per kept input; the report spreads them over all workers, the
     * round record maps them by worker id.
     */
    public static final List<String> PER_INPUT = List.of("quality", "weight", "scores", "centredQuality");

    /** The report: rule, kept and dropped workers with reasons, per-worker diagnostics and timings. */
    public JsonObject toJson() {
        JsonObject rest = details.copy();
        JsonArray perWorker = new JsonArray();
        for (int w = 0; w < workers; w++) {
            JsonObject entry = new JsonObject().put("worker", w);
            String reason = dropped.get(w);
            int input = java.util.Arrays.binarySearch(kept, w);
            int sel = java.util.Arrays.binarySearch(selected, w);
            entry.put("status", reason != null ? "dropped" : sel >= 0 ? "selected" : "kept");
            if (reason != null) {
                entry.put("reason", reason);
            }
            if (sel >= 0 && coefficients != null) {
                entry.put("coefficient", coefficients[sel]);
            }
            for (String key : PER_INPUT) {
                JsonArray values = details.getJsonArray(key);
                if (values != null && input >= 0 && input < values.size()) {
                    entry.put(key, values.getValue(input));
                }
            }
            perWorker.add(entry);
        }
        PER_INPUT.forEach(rest::remove);
        return new JsonObject()
                .put("rule", rule)
                .put("workers", workers)
                .put("dimension", dimension)
                .put("kept", new JsonArray(java.util.Arrays.stream(kept).boxed().toList()))
                .put("dropped", dropped.size())
                .put("per_worker", perWorker)
                .put("details", rest)
                .put("timings_ms", new JsonObject()
                        .put("first_pass", timings.firstPassMs())
                        .put("solve", timings.solveMs())
                        .put("output_pass", timings.outputPassMs()))
                .put("kernels", kernels);
    }
}
