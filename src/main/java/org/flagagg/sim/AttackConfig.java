package org.flagagg.sim;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * An attack and its parameters, as a user gives them (CLI, configuration). Parameters an attack does not
 * use are ignored by it. Build one with {@link #of(String, long)} (the attack's defaults) or parse a
 * short spec with {@link #parse(String, long)}:
 *
 * <pre>
 *   spec   := name [ ":" param { "," param } ]
 *   param  := key "=" value
 * </pre>
 *
 * e.g. {@code lie}, {@code empire:eps=10}, {@code random:dist=gaussian,std=2}, {@code nan:mode=inf,fraction=0.5}.
 * Names and keys are case-insensitive; spaces around tokens are ignored. Each attack accepts only its own
 * keys (see {@link #PARAMETERS}); {@code seed} is accepted by all and overrides the seed given alongside.
 *
 * @param name     canonical attack name (see {@link Attacks#NAMES})
 * @param seed     seed of the attack's counter-based random numbers (random, drop, nan)
 * @param k        reverse: faulty workers send -k * own (default 10)
 * @param eps      empire: colluders send -eps * mean(honest) (default 0.1)
 * @param fraction drop: probability that a coordinate is zeroed (default 0.1); nan: probability that a
 *                 coordinate is replaced by the non-finite value (default 1)
 * @param noise    random: the noise distribution (default uniform [0, 1)); lienoise: its std is the noise's
 *                 standard deviation in units of the honest sigma (default 1)
 * @param z        lie, lienoise: the z to use instead of the paper's z_max; NaN (the default) computes z_max
 * @param mode     nan: which non-finite value is injected (default NaN)
 * @param target   duplicate: index of the honest worker whose gradient is copied (default 0)
 *
 * <p>{@code mimic} (Karimireddy, He and Jaggi 2022: the colluders copy one honest worker) is parsed as
 * {@code duplicate}, which is that attack.
 */
public record AttackConfig(String name, long seed, double k, double eps, double fraction,
                           Noise noise, double z, NonFinite mode, int target) {

    /** Noise distributions of the random attack. */
    public enum Distribution { UNIFORM, GAUSSIAN }

    /** The value the nan attack injects. */
    public enum NonFinite {
        NAN(Float.NaN, "nan"), INF(Float.POSITIVE_INFINITY, "inf"), NEG_INF(Float.NEGATIVE_INFINITY, "-inf");

        final float value;
        final String label;

        NonFinite(float value, String label) {
            this.value = value;
            this.label = label;
        }
    }

    /**
     * The random attack's noise: uniform in [low, high), or gaussian(mean, std). Only the fields of the
     * chosen distribution matter; the others keep their defaults.
     */
    public record Noise(Distribution distribution, double low, double high, double mean, double std) {

        public static final Noise DEFAULT = uniform(0, 1);

        public static Noise uniform(double low, double high) {
            return new Noise(Distribution.UNIFORM, low, high, 0, 1);
        }

        public static Noise gaussian(double mean, double std) {
            return new Noise(Distribution.GAUSSIAN, 0, 1, mean, std);
        }

        public Noise {
            if (distribution == null) {
                throw new IllegalArgumentException("random: dist must be uniform or gaussian");
            }
            if (!Double.isFinite(low) || !Double.isFinite(high) || !(low < high)) {
                throw new IllegalArgumentException(
                        "random: uniform needs finite low < high, got low = " + low + ", high = " + high);
            }
            if (!Double.isFinite(mean)) {
                throw new IllegalArgumentException("random: gaussian mean must be finite, got " + mean);
            }
            if (!Double.isFinite(std) || std < 0) {
                throw new IllegalArgumentException("random: gaussian std must be finite and >= 0, got " + std);
            }
        }
    }

    /** The keys each attack accepts in a spec, besides {@code seed}. */
    public static final Map<String, List<String>> PARAMETERS = parameters();

    private static Map<String, List<String>> parameters() {
        Map<String, List<String>> m = new LinkedHashMap<>();
        m.put("none", List.of());
        m.put("random", List.of("dist", "low", "high", "mean", "std"));
        m.put("reverse", List.of("k"));
        m.put("drop", List.of("fraction"));
        m.put("lie", List.of("z"));
        m.put("empire", List.of("eps"));
        m.put("signflip", List.of());
        m.put("nan", List.of("mode", "fraction"));
        m.put("zero", List.of());
        m.put("duplicate", List.of("target"));
        m.put("lienoise", List.of("z", "std"));
        return java.util.Collections.unmodifiableMap(m);
    }

    public AttackConfig {
        if (name == null || !Attacks.NAMES.contains(name)) {
            throw unknown(name);
        }
        if (!Double.isFinite(k)) {
            throw new IllegalArgumentException("reverse: k must be a finite number, got " + k);
        }
        if (!Double.isFinite(eps)) {
            throw new IllegalArgumentException("empire: eps must be a finite number, got " + eps);
        }
        if (!(fraction >= 0 && fraction <= 1)) {
            throw new IllegalArgumentException(name + ": fraction must be in [0, 1], got " + fraction);
        }
        if (noise == null) {
            throw new IllegalArgumentException("random: noise must not be null");
        }
        if (Double.isInfinite(z)) {
            throw new IllegalArgumentException("lie: z must be a finite number (or NaN for z_max), got " + z);
        }
        if (mode == null) {
            throw new IllegalArgumentException("nan: mode must be nan, inf or -inf");
        }
        if (target < 0) {
            throw new IllegalArgumentException("duplicate: target must be an honest worker index >= 0, got " + target);
        }
    }

    /** The named attack with its default parameters. */
    public static AttackConfig of(String name, long seed) {
        double fraction = "nan".equals(name) ? 1.0 : 0.1;
        return new AttackConfig(name, seed, 10, 0.1, fraction, Noise.DEFAULT, Double.NaN, NonFinite.NAN, 0);
    }

    public static AttackConfig of(String name) {
        return of(name, 0);
    }

    public AttackConfig withSeed(long s) {
        return new AttackConfig(name, s, k, eps, fraction, noise, z, mode, target);
    }

    public AttackConfig withK(double newK) {
        return new AttackConfig(name, seed, newK, eps, fraction, noise, z, mode, target);
    }

    public AttackConfig withEps(double e) {
        return new AttackConfig(name, seed, k, e, fraction, noise, z, mode, target);
    }

    public AttackConfig withFraction(double f) {
        return new AttackConfig(name, seed, k, eps, f, noise, z, mode, target);
    }

    public AttackConfig withNoise(Noise n) {
        return new AttackConfig(name, seed, k, eps, fraction, n, z, mode, target);
    }

    public AttackConfig withZ(double newZ) {
        return new AttackConfig(name, seed, k, eps, fraction, noise, newZ, mode, target);
    }

    public AttackConfig withMode(NonFinite m) {
        return new AttackConfig(name, seed, k, eps, fraction, noise, z, m, target);
    }

    public AttackConfig withTarget(int t) {
        return new AttackConfig(name, seed, k, eps, fraction, noise, z, mode, t);
    }

    /** Parses a spec with seed 0 (unless the spec sets one). */
    public static AttackConfig parse(String spec) {
        return parse(spec, 0);
    }

    /**
     * Parses {@code name[:key=value,...]}; see the class comment.
     *
     * @param seed the seed to use unless the spec has {@code seed=...}
     * @throws IllegalArgumentException naming the spec, the key and what was expected
     */
    public static AttackConfig parse(String spec, long seed) {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException(
                    "empty attack spec (attacks: " + String.join(", ", Attacks.NAMES) + ")");
        }
        int colon = spec.indexOf(':');
        String name = (colon < 0 ? spec : spec.substring(0, colon)).trim().toLowerCase(Locale.ROOT);
        if (name.equals("mimic")) {
            name = "duplicate";
        }
        if (!Attacks.NAMES.contains(name)) {
            throw unknown(name);
        }
        Map<String, String> given = new LinkedHashMap<>();
        if (colon >= 0) {
            for (String item : spec.substring(colon + 1).split(",", -1)) {
                int eq = item.indexOf('=');
                String key = (eq < 0 ? item : item.substring(0, eq)).trim().toLowerCase(Locale.ROOT);
                if (key.isEmpty()) {
                    throw new IllegalArgumentException("attack spec '" + spec
                            + "': empty parameter; write name:key=value,key=value");
                }
                if (!key.equals("seed") && !PARAMETERS.get(name).contains(key)) {
                    throw new IllegalArgumentException("attack '" + name + "' has no parameter '" + key
                            + "' (its parameters: " + String.join(", ", keysOf(name)) + ")");
                }
                String value = eq < 0 ? "" : item.substring(eq + 1).trim();
                if (value.isEmpty()) {
                    throw new IllegalArgumentException("attack spec '" + spec + "': parameter '" + key
                            + "' needs a value, as in " + key + "=...");
                }
                if (given.put(key, value) != null) {
                    throw new IllegalArgumentException("attack spec '" + spec + "': parameter '" + key
                            + "' given twice");
                }
            }
        }
        return build(name, seed, given);
    }

    private static AttackConfig build(String name, long seed, Map<String, String> given) {
        AttackConfig c = of(name, seed);
        if (given.containsKey("seed")) {
            c = c.withSeed(parseLong(name, "seed", given.get("seed")));
        }
        if (given.containsKey("k")) {
            c = c.withK(parseFinite(name, "k", given.get("k")));
        }
        if (given.containsKey("eps")) {
            c = c.withEps(parseFinite(name, "eps", given.get("eps")));
        }
        if (given.containsKey("fraction")) {
            c = c.withFraction(parseFinite(name, "fraction", given.get("fraction")));
        }
        if (given.containsKey("z")) {
            c = c.withZ(parseFinite(name, "z", given.get("z")));
        }
        if (given.containsKey("target")) {
            long t = parseLong(name, "target", given.get("target"));
            if (t < 0 || t > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(
                        "attack 'duplicate': target must be an honest worker index >= 0, got " + t);
            }
            c = c.withTarget((int) t);
        }
        if (given.containsKey("mode")) {
            String m = given.get("mode").toLowerCase(Locale.ROOT);
            NonFinite mode = switch (m) {
                case "nan" -> NonFinite.NAN;
                case "inf", "+inf" -> NonFinite.INF;
                case "-inf" -> NonFinite.NEG_INF;
                default -> throw new IllegalArgumentException(
                        "attack 'nan': mode must be nan, inf or -inf, got '" + given.get("mode") + "'");
            };
            c = c.withMode(mode);
        }
        if (name.equals("random")) {
            c = c.withNoise(parseNoise(given));
        }
        if (given.containsKey("std") && name.equals("lienoise")) {
            double std = parseFinite(name, "std", given.get("std"));
            if (std < 0) {
                throw new IllegalArgumentException("attack 'lienoise': std must be >= 0, got " + std);
            }
            c = c.withNoise(Noise.gaussian(0, std));
        }
        return c;
    }

    private static Noise parseNoise(Map<String, String> given) {
        String dist = given.getOrDefault("dist", "uniform").toLowerCase(Locale.ROOT);
        switch (dist) {
            case "uniform" -> {
                if (given.containsKey("mean") || given.containsKey("std")) {
                    throw new IllegalArgumentException(
                            "attack 'random': mean and std apply to dist=gaussian, not dist=uniform (use low, high)");
                }
                double low = given.containsKey("low") ? parseFinite("random", "low", given.get("low")) : 0;
                double high = given.containsKey("high") ? parseFinite("random", "high", given.get("high")) : 1;
                return Noise.uniform(low, high);
            }
            case "gaussian", "normal" -> {
                if (given.containsKey("low") || given.containsKey("high")) {
                    throw new IllegalArgumentException(
                            "attack 'random': low and high apply to dist=uniform, not dist=gaussian (use mean, std)");
                }
                double mean = given.containsKey("mean") ? parseFinite("random", "mean", given.get("mean")) : 0;
                double std = given.containsKey("std") ? parseFinite("random", "std", given.get("std")) : 1;
                return Noise.gaussian(mean, std);
            }
            default -> throw new IllegalArgumentException(
                    "attack 'random': dist must be uniform or gaussian, got '" + given.get("dist") + "'");
        }
    }

    /** The canonical spec of this configuration: {@code parse(spec(), anySeed)} gives it back. */
    public String spec() {
        StringBuilder sb = new StringBuilder(name).append(':');
        switch (name) {
            case "random" -> {
                if (noise.distribution() == Distribution.UNIFORM) {
                    sb.append("dist=uniform,low=").append(noise.low()).append(",high=").append(noise.high());
                } else {
                    sb.append("dist=gaussian,mean=").append(noise.mean()).append(",std=").append(noise.std());
                }
                sb.append(',');
            }
            case "reverse" -> sb.append("k=").append(k).append(',');
            case "drop" -> sb.append("fraction=").append(fraction).append(',');
            case "lie" -> {
                if (!Double.isNaN(z)) {
                    sb.append("z=").append(z).append(',');
                }
            }
            case "empire" -> sb.append("eps=").append(eps).append(',');
            case "nan" -> sb.append("mode=").append(mode.label).append(",fraction=").append(fraction).append(',');
            case "duplicate" -> sb.append("target=").append(target).append(',');
            case "lienoise" -> {
                if (!Double.isNaN(z)) {
                    sb.append("z=").append(z).append(',');
                }
                sb.append("std=").append(noise.std()).append(',');
            }
            default -> {
            }
        }
        return sb.append("seed=").append(seed).toString();
    }

    private static List<String> keysOf(String name) {
        List<String> keys = new java.util.ArrayList<>(PARAMETERS.get(name));
        keys.add("seed");
        return keys;
    }

    private static double parseFinite(String attack, String key, String value) {
        double v;
        try {
            v = Double.parseDouble(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    "attack '" + attack + "': " + key + " must be a number, got '" + value + "'");
        }
        if (!Double.isFinite(v)) {
            throw new IllegalArgumentException(
                    "attack '" + attack + "': " + key + " must be a finite number, got '" + value + "'");
        }
        return v;
    }

    private static long parseLong(String attack, String key, String value) {
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    "attack '" + attack + "': " + key + " must be an integer, got '" + value + "'");
        }
    }

    private static IllegalArgumentException unknown(String name) {
        return new IllegalArgumentException(
                "unknown attack '" + name + "' (attacks: " + String.join(", ", Attacks.NAMES) + ")");
    }
}
