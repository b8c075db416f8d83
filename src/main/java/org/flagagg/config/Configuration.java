package org.flagagg.config;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * Builds the effective configuration as JSON, each layer over the one before: conf/flagagg.json as packaged
 * (the only place defaults live), a --conf FILE, FLAGAGG_* environment variables, then command-line flags.
 * {@link ServerConfig#parse} turns it into typed records, once. (Not vertx-config: docs/architecture.md,
 * "Configuration", says why.)
 *
 * <p>Environment: FLAGAGG_KEY sets a top-level key, FLAGAGG_SECTION__KEY a nested one (lower-cased:
 * FLAGAGG_RULE__NAME=krum, FLAGAGG_DEADLINE__MAX_MS=5000); each value is read as the key's type in
 * conf/flagagg.json (a number, a boolean, a string, a comma-separated list). Variables that name no key are
 * left alone: the launcher's own (FLAGAGG_HEAP, FLAGAGG_JAR, ...) share the prefix.
 *
 * <p>Checked ({@link #check}), each failure one line naming the key: a --conf file may hold only the keys of
 * conf/flagagg.json, each of its type, and numbers must lie in their range ({@link #RANGES}).
 */
public final class Configuration {

    /** A numeric key's allowed range; {@code integral}: a whole number. */
    record Range(String key, double min, double max, boolean integral) {
    }

    private static final long DAY_MS = 86_400_000L;
    /** Every numeric key with its range: wide enough for any real job, narrow enough to refuse nonsense. */
    static final List<Range> RANGES = List.of(
            new Range("workers", 1, 65_536, true),
            new Range("dim", 1, 1L << 40, true),
            new Range("chunk_coords", 1, 1 << 26, true),
            new Range("quorum", 0, 65_536, true),
            new Range("credits", 1, 4096, true),
            new Range("memory_budget_mb", 0, 1 << 24, true),
            new Range("slab_kib", 1, (Integer.MAX_VALUE >> 10), true),
            new Range("result_timeout_ms", 1, DAY_MS, true),
            new Range("max_open_rounds", 1, 1024, true),
            new Range("max_result_rounds", 1, 1024, true),
            new Range("shards", 1, 1024, true),
            new Range("shard_timeout_ms", 1, DAY_MS, true),
            new Range("deadline.factor", 1, 1000, false),
            new Range("deadline.min_ms", 1, DAY_MS, true),
            new Range("deadline.max_ms", 1, DAY_MS, true),
            new Range("deadline.history", 1, 10_000, true),
            new Range("rule.f", 0, 65_536, true),
            new Range("rule.m", 0, 65_536, true),
            new Range("rule.r", 0, 65_536, true),
            new Range("rule.lambda", 0, 1e12, false),
            new Range("rule.iterations", 0, 1_000_000, true),
            new Range("http.port", 0, 65_535, true),
            new Range("link.port", 0, 65_535, true),
            new Range("link.max_connections", 1, 65_536, true),
            new Range("link.max_unauthenticated", 1, 65_536, true),
            new Range("link.auth_timeout_ms", 1, DAY_MS, true),
            new Range("cluster.server_wait_s", 1, 86_400, true),
            new Range("cluster.failure_timeout_s", 2, 300, true),
            new Range("records_kept", 0, 1_000_000, true),
            new Range("cluster.port", 0, 65_535, true),
            new Range("ws.control_rate", 0.001, 1e9, false),
            new Range("ws.control_burst", 1, 1e9, true),
            new Range("ws.handshake_timeout_ms", 1, DAY_MS, true),
            new Range("ws.write_stall_ms", 1, DAY_MS, true),
            new Range("ws.max_connections_per_address", 1, 1_000_000, true),
            new Range("ws.max_connections", 1, 1_000_000, true));

    private Configuration() {
    }

    /** Classpath location of the defaults: conf/flagagg.json, packaged into the jar. */
    public static final String DEFAULTS_RESOURCE = "conf/flagagg.json";
    private static final JsonObject DEFAULTS = readDefaults();

    /** The defaults: conf/flagagg.json as packaged, the only place they live (a fresh copy). */
    public static JsonObject defaults() {
        return DEFAULTS.copy();
    }

    private static JsonObject readDefaults() {
        try (InputStream in = Configuration.class.getClassLoader().getResourceAsStream(DEFAULTS_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(DEFAULTS_RESOURCE + " is missing from the classpath");
            }
            return new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The effective configuration: the defaults, then {@code file} (may be null), then the FLAGAGG_*
     * variables of {@code env}, then {@code flags} (a JSON layer of the keys the command line set), each
     * later layer winning; checked ({@link #check}) before the flags and after them.
     */
    public static JsonObject load(Path file, Map<String, String> env, JsonObject flags) {
        JsonObject json = defaults();
        if (file != null) {
            JsonObject layer;
            try {
                layer = new JsonObject(Files.readString(file));
            } catch (NoSuchFileException e) {
                throw new InputException(file + ": no such configuration file");
            } catch (DecodeException e) {
                throw new InputException(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
            } catch (IOException e) {
                throw new InputException(file + ": cannot read: " + e.getMessage());
            }
            checkKeys(file + ": ", "", layer, DEFAULTS);
            json.mergeIn(layer, true);
        }
        env.forEach((name, value) -> {
            if (name.startsWith("FLAGAGG_") && name.length() > "FLAGAGG_".length()) {
                String[] path = name.substring("FLAGAGG_".length()).toLowerCase(Locale.ROOT).split("__");
                JsonObject at = json;
                JsonObject shape = DEFAULTS;
                for (int i = 0; i < path.length - 1 && shape != null; i++) {
                    shape = shape.getValue(path[i]) instanceof JsonObject o ? o : null;
                    at = at.getJsonObject(path[i]);
                }
                String key = path[path.length - 1];
                if (shape != null && shape.containsKey(key) && !(shape.getValue(key) instanceof JsonObject)) {
                    at.put(key, typed(shape.getValue(key), value));
                }
            }
        });
        // Checked before the flags too: a bad value in a file or variable is refused even where a flag overrides it.
        check(json);
        checkKeys("", "", flags, DEFAULTS);
        json.mergeIn(flags, true);
        check(json);
        return json;
    }

    /** A path key's value: an empty string means none (null). */
    static Path path(String value) {
        return value.isEmpty() ? null : Path.of(value);
    }

    /** Refuses keys the defaults do not have and values of another type, naming the key. */
    private static void checkKeys(String where, String prefix, JsonObject layer, JsonObject shape) {
        for (String key : layer.fieldNames()) {
            String name = prefix + key;
            if (!shape.containsKey(key)) {
                throw new InputException(where + "unknown configuration key '" + name + "' (known"
                        + (prefix.isEmpty() ? "" : " in " + prefix.substring(0, prefix.length() - 1)) + ": "
                        + String.join(", ", new TreeSet<>(shape.fieldNames())) + ")");
            }
            Object want = shape.getValue(key);
            Object got = layer.getValue(key);
            if (!kind(want).equals(kind(got))) {
                throw new InputException(where + "configuration key '" + name + "' must be " + kind(want) + ", got "
                        + abbreviated(got == null ? "null" : Json.encode(got)));
            }
            if (want instanceof JsonObject section) {
                checkKeys(where, name + ".", (JsonObject) got, section);
            }
        }
    }

    private static String abbreviated(String text) {
        return text.length() <= 60 ? text : text.substring(0, 57) + "...";
    }

    private static String kind(Object value) {
        return value instanceof Number ? "a number" : value instanceof Boolean ? "true or false"
                : value instanceof String ? "a string" : value instanceof JsonObject ? "an object"
                : value instanceof JsonArray ? "a list" : "null";
    }

    /**
     * Checks the effective configuration (after flags): every key of its type, every number in its range.
     * Throws an {@link InputException} naming the first key that is wrong.
     */
    private static void check(JsonObject json) {
        checkKeys("", "", json, DEFAULTS);
        for (Range range : RANGES) {
            Object value = valueAt(json, range.key());
            if (value == null) {
                continue;
            }
            double v = ((Number) value).doubleValue();
            if (!(v >= range.min() && v <= range.max()) || range.integral() && v != Math.rint(v)) {
                throw new InputException(range.key() + " must be " + (range.integral() ? "an integer" : "a number")
                        + " in " + bound(range.min()) + ".." + bound(range.max()) + ", got " + value);
            }
        }
    }

    private static String bound(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }

    private static Object valueAt(JsonObject json, String dotted) {
        String[] path = dotted.split("\\.");
        JsonObject at = json;
        for (int i = 0; i < path.length - 1 && at != null; i++) {
            at = at.getJsonObject(path[i]);
        }
        return at == null ? null : at.getValue(path[path.length - 1]);
    }

    /** An environment value as the type of the key's default; left a string when it does not parse. */
    private static Object typed(Object like, String value) {
        if (like instanceof String) {
            return value;
        }
        if (like instanceof JsonArray) {
            JsonArray list = new JsonArray();
            Arrays.stream(value.split(",")).map(String::strip).filter(v -> !v.isEmpty()).forEach(list::add);
            return list;
        }
        if (value.equals("true") || value.equals("false")) {
            return Boolean.parseBoolean(value);
        }
        try {
            return value.contains(".") || value.contains("e") || value.contains("E")
                    ? (Object) Double.parseDouble(value) : (Object) Long.parseLong(value);
        } catch (NumberFormatException e) {
            return value;
        }
    }
}
