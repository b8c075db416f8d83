package org.flagagg.sim;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * How the simulated workers misbehave in time. A spec is one or more parts joined by '+':
 *
 * <pre>
 *   none
 *   delay:ms=200[,workers=1]                       fixed extra delay before sending, every round
 *   lognormal:median_ms=50,sigma=1[,workers=P]     delay before sending = median * exp(sigma * Z), Z ~ N(0, 1)
 *   dropout:p=0.1[,workers=P]                      the worker skips the round (sends nothing) with probability p
 *   slowreader:ms=5[,workers=1]                    the worker acknowledges each aggregate chunk ms late
 * </pre>
 *
 * e.g. {@code lognormal:median_ms=20,sigma=0.5+dropout:p=0.05}. {@code workers=K} picks the last K slots
 * (slots P - K .. P - 1; the Byzantine workers are the first F, so stragglers are honest unless K > P - F);
 * K larger than P means all. Delays of several parts add up. Random draws are counter-based: a pure
 * function of (seed, round, slot), so a run is reproducible.
 */
public final class StragglerSpec {

    /** Part names, in the order the docs list them. */
    public static final List<String> KINDS = List.of("none", "delay", "lognormal", "dropout", "slowreader");

    private static final long SALT_LOGNORMAL = 0x4c4f474e4f524d4cL;
    private static final long SALT_DROPOUT = 0x44524f504f555421L;

    /** One part of a spec; {@code workers} is the count of last slots it applies to (MAX_VALUE: all). */
    record Part(String kind, double ms, double sigma, double p, int workers) {
        boolean applies(int slot, int total) {
            return slot >= total - Math.min(workers, total);
        }
    }

    private final String spec;
    private final List<Part> parts;

    private StragglerSpec(String spec, List<Part> parts) {
        this.spec = spec;
        this.parts = parts;
    }

    public static final StragglerSpec NONE = new StragglerSpec("none", List.of());

    /** Parses a spec (see the class comment); throws IllegalArgumentException saying what is wrong. */
    public static StragglerSpec parse(String spec) {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("empty straggler spec (forms: none, delay:ms=M[,workers=K], "
                    + "lognormal:median_ms=M,sigma=S[,workers=K], dropout:p=P[,workers=K], slowreader:ms=M[,workers=K])");
        }
        List<Part> parts = new ArrayList<>();
        for (String text : spec.split("\\+", -1)) {
            Part part = parsePart(spec, text.trim());
            if (part != null) {
                parts.add(part);
            }
        }
        return new StragglerSpec(spec.trim(), List.copyOf(parts));
    }

    private static Part parsePart(String spec, String text) {
        if (text.isEmpty()) {
            throw new IllegalArgumentException("straggler spec '" + spec + "': empty part around '+'");
        }
        int colon = text.indexOf(':');
        String kind = (colon < 0 ? text : text.substring(0, colon)).trim().toLowerCase(Locale.ROOT);
        Map<String, String> given = new LinkedHashMap<>();
        if (colon >= 0) {
            for (String item : text.substring(colon + 1).split(",", -1)) {
                int eq = item.indexOf('=');
                String key = (eq < 0 ? item : item.substring(0, eq)).trim().toLowerCase(Locale.ROOT);
                String value = eq < 0 ? "" : item.substring(eq + 1).trim();
                if (key.isEmpty() || value.isEmpty()) {
                    throw new IllegalArgumentException("straggler spec '" + spec + "': '" + item.trim()
                            + "' is not key=value (write " + kind + ":key=value,key=value)");
                }
                if (given.put(key, value) != null) {
                    throw new IllegalArgumentException("straggler spec '" + spec + "': '" + key + "' given twice");
                }
            }
        }
        return switch (kind) {
            case "none" -> {
                allow(spec, kind, given, Set.of());
                yield null;
            }
            case "delay" -> {
                allow(spec, kind, given, Set.of("ms", "workers"));
                yield new Part(kind, nonNegative(kind, "ms", required(spec, kind, given, "ms")), 0, 0,
                        workers(kind, given, 1));
            }
            case "lognormal" -> {
                allow(spec, kind, given, Set.of("median_ms", "sigma", "workers"));
                yield new Part(kind, nonNegative(kind, "median_ms", required(spec, kind, given, "median_ms")),
                        nonNegative(kind, "sigma", required(spec, kind, given, "sigma")), 0,
                        workers(kind, given, Integer.MAX_VALUE));
            }
            case "dropout" -> {
                allow(spec, kind, given, Set.of("p", "workers"));
                double p = number(kind, "p", required(spec, kind, given, "p"));
                if (!(p >= 0 && p <= 1)) {
                    throw new IllegalArgumentException("straggler 'dropout': p must be in [0, 1], got " + p);
                }
                yield new Part(kind, 0, 0, p, workers(kind, given, Integer.MAX_VALUE));
            }
            case "slowreader" -> {
                allow(spec, kind, given, Set.of("ms", "workers"));
                yield new Part(kind, nonNegative(kind, "ms", required(spec, kind, given, "ms")), 0, 0,
                        workers(kind, given, 1));
            }
            default -> throw new IllegalArgumentException("unknown straggler kind '" + kind + "' in '" + spec
                    + "' (kinds: " + String.join(", ", KINDS) + ")");
        };
    }

    private static void allow(String spec, String kind, Map<String, String> given, Set<String> keys) {
        for (String key : given.keySet()) {
            if (!keys.contains(key)) {
                throw new IllegalArgumentException("straggler '" + kind + "' has no parameter '" + key + "'"
                        + (keys.isEmpty() ? " (it takes none)" : " (its parameters: " + String.join(", ",
                                keys.stream().sorted().toList()) + ")") + " in '" + spec + "'");
            }
        }
    }

    private static String required(String spec, String kind, Map<String, String> given, String key) {
        String value = given.get(key);
        if (value == null) {
            throw new IllegalArgumentException("straggler '" + kind + "' needs " + key + "=... in '" + spec + "'");
        }
        return value;
    }

    private static double number(String kind, String key, String value) {
        double v;
        try {
            v = Double.parseDouble(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("straggler '" + kind + "': " + key + " must be a number, got '"
                    + value + "'");
        }
        if (!Double.isFinite(v)) {
            throw new IllegalArgumentException("straggler '" + kind + "': " + key + " must be finite, got '" + value + "'");
        }
        return v;
    }

    private static double nonNegative(String kind, String key, String value) {
        double v = number(kind, key, value);
        if (v < 0) {
            throw new IllegalArgumentException("straggler '" + kind + "': " + key + " must be >= 0, got " + value);
        }
        return v;
    }

    private static int workers(String kind, Map<String, String> given, int fallback) {
        String value = given.get("workers");
        if (value == null) {
            return fallback;
        }
        int k;
        try {
            k = Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("straggler '" + kind + "': workers must be an integer, got '" + value + "'");
        }
        if (k < 1) {
            throw new IllegalArgumentException("straggler '" + kind + "': workers must be >= 1, got " + k);
        }
        return k;
    }

    /** The spec as given (trimmed), or "none". */
    public String spec() {
        return spec;
    }

    List<Part> parts() {
        return parts;
    }

    /** Whether some worker waits before sending (a delay or lognormal part). */
    public boolean delaysSending() {
        return parts.stream().anyMatch(part -> part.kind().equals("delay") || part.kind().equals("lognormal"));
    }

    /** Milliseconds worker {@code slot} of {@code workers} waits before sending round {@code round}. */
    public long sendDelayMs(long seed, long round, int slot, int workers) {
        double ms = 0;
        for (Part part : parts) {
            if (!part.applies(slot, workers)) {
                continue;
            }
            if (part.kind().equals("delay")) {
                ms += part.ms();
            } else if (part.kind().equals("lognormal")) {
                double u = CounterRandom.openUniform(CounterRandom.streamKey(seed, SALT_LOGNORMAL, slot), round);
                ms += part.ms() * Math.exp(part.sigma() * NormalQuantile.inverseCdf(u));
            }
        }
        // Capped so a wild lognormal draw cannot overflow a timer; a day is "never" for a load test.
        return Math.round(Math.min(ms, 86_400_000.0));
    }

    /** Whether worker {@code slot} skips round {@code round}. */
    public boolean dropsOut(long seed, long round, int slot, int workers) {
        for (Part part : parts) {
            if (part.kind().equals("dropout") && part.applies(slot, workers)
                    && CounterRandom.uniform(CounterRandom.streamKey(seed, SALT_DROPOUT, slot), round) < part.p()) {
                return true;
            }
        }
        return false;
    }

    /** Milliseconds worker {@code slot} waits before acknowledging each aggregate chunk. */
    public long ackDelayMs(int slot, int workers) {
        double ms = 0;
        for (Part part : parts) {
            if (part.kind().equals("slowreader") && part.applies(slot, workers)) {
                ms += part.ms();
            }
        }
        return Math.round(ms);
    }

    @Override
    public String toString() {
        return spec;
    }
}
