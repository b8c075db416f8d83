package org.flagagg.engine;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;
import org.flagagg.round.AggregationResult;
import org.flagagg.rules.Details;
import org.flagagg.rules.Solution;

/**
 * The one JSON writer for what a rule did: the rule's part of the engine's round record and the
 * {@code aggregate --report} file. The math core hands plain records ({@link Details},
 * {@link AggregationResult}); this is where they become JSON. JSON has no NaN or infinity: such a value is
 * written as null (a dropped input's FA quality, for one).
 */
public final class RoundReport {
    /**
     * Details keys whose arrays hold one value per input the rule saw; the report spreads them over all
     * workers, the round record maps them by worker id.
     */
    public static final List<String> PER_INPUT = List.of("quality", "weight", "scores", "centredQuality");

    private RoundReport() {
    }

    /** The details as a JSON object, keys in their order. */
    public static JsonObject json(Details details) {
        JsonObject json = new JsonObject();
        details.values().forEach((name, value) -> json.put(name, value(value)));
        return json;
    }

    private static Object value(Object value) {
        if (value instanceof Double d) {
            return Double.isFinite(d) ? d : null;
        } else if (value instanceof Float f) {
            return Float.isFinite(f) ? f : null;
        } else if (value instanceof double[] doubles) {
            JsonArray array = new JsonArray();
            for (double v : doubles) {
                array.add(Double.isFinite(v) ? v : null);
            }
            return array;
        } else if (value instanceof int[] ints) {
            JsonArray array = new JsonArray();
            for (int v : ints) {
                array.add(v);
            }
            return array;
        } else if (value instanceof Details nested) {
            return json(nested);
        } else if (value instanceof List<?> list) {
            JsonArray array = new JsonArray();
            list.forEach(v -> array.add(value(v)));
            return array;
        }
        return value;
    }

    /** Input i's value of a per-input details array (double[] or int[]), as written to JSON. */
    private static Object entry(Object perInput, int i) {
        return value(perInput instanceof double[] d ? (Object) d[i] : (Object) ((int[]) perInput)[i]);
    }

    /** The length of a per-input details array; -1 when the value is none. */
    private static int length(Object perInput) {
        return perInput instanceof double[] d ? d.length : perInput instanceof int[] a ? a.length : -1;
    }

    /**
     * The rule's part of a round record: selected workers, the rule's drops, its details with per-input
     * arrays as maps by worker name, and the coefficients by worker name when the aggregate is linear.
     * {@code participants[i]} is the slot of the rule's input i.
     */
    private static JsonObject addSolution(JsonObject record, Solution solution, int[] participants, IntFunction<String> name) {
        JsonObject dropped = new JsonObject();
        solution.dropped().forEach((input, reason) -> dropped.put(name.apply(participants[input]), reason));
        JsonArray selected = new JsonArray();
        Arrays.stream(solution.selected()).forEach(i -> selected.add(name.apply(participants[i])));
        Details given = solution.details() == null ? Details.EMPTY : solution.details();
        JsonObject details = json(given);
        for (String key : PER_INPUT) {
            Object values = given.get(key);
            if (length(values) == participants.length) {
                JsonObject byWorker = new JsonObject();
                for (int i = 0; i < participants.length; i++) {
                    byWorker.put(name.apply(participants[i]), entry(values, i));
                }
                details.put(key, byWorker);
            }
        }
        record.put("selected", selected).put("dropped_by_rule", dropped).put("details", details);
        if (solution.coefficients() != null) {
            JsonObject coefficients = new JsonObject();
            for (int k = 0; k < solution.selected().length; k++) {
                coefficients.put(name.apply(participants[solution.selected()[k]]), solution.coefficients()[k]);
            }
            record.put("coefficients", coefficients);
        }
        return record;
    }

    /**
     * The round record the engine publishes and logs: the round's bookkeeping ({@link Round#record}), its
     * status, trigger and timings, and the rule's part when it solved.
     */
    static JsonObject record(RoundRun run, String error, String rule, long dim, Slots slots) {
        return record(run, error, rule, dim, slots, run.round.participants());
    }

    /**
     * {@link #record(RoundRun, String, String, long, Slots)} of a sharded round at its coordinator: the
     * participants the shards agreed on, the other shards' tallies added, and each shard's columns, bytes and
     * times under {@code shards}.
     */
    static JsonObject record(RoundRun run, String error, String rule, long dim, Slots slots, int[] participants) {
        long latencyMs = (run.closedNanos - run.round.openedNanos()) / 1_000_000;
        JsonObject record = run.round.record(slots::name, participants, run.tallies)
                .put("status", error == null ? "completed" : "failed")
                .put("trigger", run.trigger)
                .put("rule", rule)
                .put("workers", run.pipeline.rows())
                .put("dim", dim)
                .put("timings_ms", new JsonObject()
                        .put("open_to_close", latencyMs)
                        .put("fold_cpu", run.foldNanos() / 1e6)
                        .put("solve", run.solveNanos / 1e6)
                        .put("output", run.outputNanos / 1e6)
                        .put("math_thread_cpu", run.cpuNanos() / 1e6)
                        .put("close_to_output", (System.nanoTime() - run.closedNanos) / 1e6));
        if (error != null) {
            record.put("error", error);
        }
        if (run.solution != null) {
            addSolution(record, run.solution, run.participants, slots::name);
        }
        if (!run.shardStats.isEmpty()) {
            record.put("shards", new JsonArray(List.copyOf(run.shardStats.values())));
        }
        return record;
    }

    /** The {@code aggregate --report}: rule, kept and dropped workers with reasons, per-worker diagnostics, timings. */
    public static JsonObject report(AggregationResult result) {
        Details details = result.details();
        JsonArray perWorker = new JsonArray();
        for (int w = 0; w < result.workers(); w++) {
            JsonObject entry = new JsonObject().put("worker", w);
            String reason = result.dropped().get(w);
            int input = Arrays.binarySearch(result.kept(), w);
            int sel = Arrays.binarySearch(result.selected(), w);
            entry.put("status", reason != null ? "dropped" : sel >= 0 ? "selected" : "kept");
            if (reason != null) {
                entry.put("reason", reason);
            }
            if (sel >= 0 && result.coefficients() != null) {
                entry.put("coefficient", result.coefficients()[sel]);
            }
            for (String key : PER_INPUT) {
                Object values = details.get(key);
                if (input >= 0 && input < length(values)) {
                    entry.put(key, entry(values, input));
                }
            }
            perWorker.add(entry);
        }
        JsonObject rest = json(details);
        PER_INPUT.forEach(rest::remove);
        AggregationResult.Timings timings = result.timings();
        return new JsonObject()
                .put("rule", result.rule())
                .put("workers", result.workers())
                .put("dimension", result.dimension())
                .put("kept", new JsonArray(Arrays.stream(result.kept()).boxed().toList()))
                .put("dropped", result.dropped().size())
                .put("per_worker", perWorker)
                .put("details", rest)
                .put("timings_ms", new JsonObject()
                        .put("first_pass", timings.firstPassMs())
                        .put("solve", timings.solveMs())
                        .put("output_pass", timings.outputPassMs()))
                .put("kernels", result.kernels());
    }
}
