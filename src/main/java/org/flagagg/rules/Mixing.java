package org.flagagg.rules;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

/**
 * A pre-aggregation stage: an m x p mixing matrix M built from the p inputs' Gram matrix. The rule
 * underneath sees the m mixed inputs y_b = sum_j M_bj g_j (see {@link PreAggregatedRule}). Parsed from a
 * spec like the attacks' ({@code name[:key=value,...]}):
 * <ul>
 *   <li>{@code nnm}: nearest-neighbour mixing (Allouah et al. 2023), m = p: y_i is the mean of the p - f
 *   inputs nearest to g_i (itself included; ties by lower index), distances from the Gram matrix;</li>
 *   <li>{@code bucket:s=2,seed=0}: bucketing (Karimireddy et al. 2022), m = ceil(p / s): a random
 *   permutation of the inputs cut into consecutive buckets of s (the last may be smaller), y_b the mean of
 *   bucket b. The k-th round this rule solves (k = 0, 1, ...) draws its permutation from seed XOR hash(k);</li>
 *   <li>{@code clip:k=K}: adaptive robust clipping (ARC, Allouah et al. 2024), m = p, M diagonal: the K
 *   inputs of largest norm are scaled down to the norm of the (K+1)-th largest; K defaults to
 *   floor(2 f (p - f) / p).</li>
 * </ul>
 */
abstract sealed class Mixing permits Mixing.NearestNeighbours, Mixing.Buckets, Mixing.Clip {

    /** A mixing matrix (rows: mixed inputs, columns: the p inputs) and what to report about it. */
    record Matrix(double[][] rows, Details details) {
    }

    /** Each stage's keys. */
    static final Map<String, List<String>> PARAMETERS = Map.of("nnm", List.of(), "bucket", List.of("s", "seed"),
            "clip", List.of("k"));

    private final String name;
    private final boolean needsGram;

    private Mixing(String name, boolean needsGram) {
        this.name = name;
        this.needsGram = needsGram;
    }

    /** Canonical name: nnm, bucket or clip. */
    final String name() {
        return name;
    }

    /** Whether {@link #matrix} reads the Gram matrix. */
    final boolean needsGram() {
        return needsGram;
    }

    /** m, the number of mixed inputs of p inputs. */
    int outputs(int p) {
        return p;
    }

    /** @throws IllegalArgumentException when p inputs are too few for this stage */
    abstract void validate(int p);

    /** M for p inputs; {@code gram} is p x p row-major, or null when {@link #needsGram} is false. */
    abstract Matrix matrix(int p, double[] gram);

    /**
     * Parses a spec; {@code f} is the rule's f (nnm mixes p - f neighbours, clip's default K uses it).
     *
     * @throws IllegalArgumentException naming the spec, the key and what was expected
     */
    static Mixing parse(String spec, int f) {
        int colon = spec.indexOf(':');
        String name = (colon < 0 ? spec : spec.substring(0, colon)).trim().toLowerCase(Locale.ROOT);
        if (!PARAMETERS.containsKey(name)) {
            throw new IllegalArgumentException("unknown pre-aggregation '" + name + "' (pre: nnm, bucket:s=2, clip)");
        }
        Map<String, Long> given = new LinkedHashMap<>();
        if (colon >= 0) {
            for (String item : spec.substring(colon + 1).split(",", -1)) {
                int eq = item.indexOf('=');
                String key = (eq < 0 ? item : item.substring(0, eq)).trim().toLowerCase(Locale.ROOT);
                if (!PARAMETERS.get(name).contains(key)) {
                    throw new IllegalArgumentException("pre-aggregation '" + name + "' has no parameter '" + key
                            + "' (its parameters: " + String.join(", ", PARAMETERS.get(name)) + ")");
                }
                String value = eq < 0 ? "" : item.substring(eq + 1).trim();
                try {
                    given.put(key, Long.parseLong(value));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("pre-aggregation '" + name + "': " + key
                            + " must be an integer, got '" + value + "'");
                }
            }
        }
        return switch (name) {
            case "nnm" -> new NearestNeighbours(f);
            case "bucket" -> new Buckets(intValue(given.getOrDefault("s", 2L), "bucket: s", 1),
                    given.getOrDefault("seed", 0L));
            default -> new Clip(given.containsKey("k") ? intValue(given.get("k"), "clip: k", 0) : -1, f);
        };
    }

    private static int intValue(long v, String what, int min) {
        if (v < min || v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(what + " must be an integer >= " + min + ", got " + v);
        }
        return (int) v;
    }

    /** ||g_i - g_j||^2 from the (symmetrised) Gram matrix, clamped at 0 against rounding. */
    private static double squaredDistance(int p, double[] gram, int i, int j) {
        return Math.max(0, gram[i * p + i] + gram[j * p + j] - gram[i * p + j] - gram[j * p + i]);
    }

    /** Nearest-neighbour mixing: y_i = mean of the p - f inputs nearest to g_i. */
    static final class NearestNeighbours extends Mixing {
        private final int f;

        NearestNeighbours(int f) {
            super("nnm", true);
            this.f = RuleChecks.requireF("nnm", f);
        }

        @Override
        void validate(int p) {
            if (p - f < 1) {
                throw new IllegalArgumentException("nnm needs p >= f + 1 (p = " + p + ", f = " + f + ")");
            }
        }

        @Override
        Matrix matrix(int p, double[] gram) {
            int neighbours = p - f;
            double[][] rows = new double[p][p];
            Integer[] order = new Integer[p];
            double[] distance = new double[p];
            for (int i = 0; i < p; i++) {
                for (int j = 0; j < p; j++) {
                    order[j] = j;
                    distance[j] = i == j ? 0 : squaredDistance(p, gram, i, j);
                }
                Arrays.sort(order, (a, b) -> distance[a] != distance[b] ? Double.compare(distance[a], distance[b])
                        : Integer.compare(a, b));
                for (int k = 0; k < neighbours; k++) {
                    rows[i][order[k]] = 1.0 / neighbours;
                }
            }
            return new Matrix(rows, Details.EMPTY.with("name", name()).with("neighbours", neighbours));
        }
    }

    /** Bucketing: a fresh random permutation per round, cut into buckets of s, each averaged. */
    static final class Buckets extends Mixing {
        private final int s;
        private final long seed;
        private final AtomicLong rounds = new AtomicLong();

        Buckets(int s, long seed) {
            super("bucket", false);
            this.s = s;
            this.seed = seed;
        }

        @Override
        int outputs(int p) {
            return (p + s - 1) / s;
        }

        @Override
        void validate(int p) {
            RuleChecks.requireInputs("bucket", p);
        }

        @Override
        Matrix matrix(int p, double[] gram) {
            long round = rounds.getAndIncrement();
            int[] perm = permutation(p, seed ^ new SplittableRandom(round).nextLong());
            int m = outputs(p);
            double[][] rows = new double[m][p];
            int[] bucketOf = new int[p];
            for (int b = 0; b < m; b++) {
                int from = b * s;
                int to = Math.min(p, from + s);
                for (int k = from; k < to; k++) {
                    rows[b][perm[k]] = 1.0 / (to - from);
                    bucketOf[perm[k]] = b;
                }
            }
            return new Matrix(rows, Details.EMPTY.with("name", name()).with("s", s).with("seed", seed)
                    .with("round", round).with("bucketOf", bucketOf));
        }

        /** Fisher-Yates from a SplittableRandom of the round's seed. */
        static int[] permutation(int p, long roundSeed) {
            SplittableRandom random = new SplittableRandom(roundSeed);
            int[] perm = RuleChecks.allInputs(p);
            for (int i = p - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                int t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            return perm;
        }
    }

    /** ARC: the K largest inputs clipped to the norm of the (K+1)-th largest. */
    static final class Clip extends Mixing {
        /** K, or -1 for floor(2 f (p - f) / p). */
        private final int k;
        private final int f;

        Clip(int k, int f) {
            super("clip", true);
            this.k = k;
            this.f = RuleChecks.requireF("clip", f);
        }

        @Override
        void validate(int p) {
            RuleChecks.requireInputs("clip", p);
            if (clipped(p) >= p) {
                throw new IllegalArgumentException("clip needs k < p (p = " + p + ", k = " + clipped(p) + ")");
            }
        }

        /** K for p inputs. */
        int clipped(int p) {
            return k >= 0 ? k : (int) (2L * f * Math.max(0, p - f) / p);
        }

        @Override
        Matrix matrix(int p, double[] gram) {
            int count = clipped(p);
            double[] norm = new double[p];
            Integer[] byNorm = new Integer[p];
            for (int i = 0; i < p; i++) {
                norm[i] = Math.sqrt(Math.max(0, gram[i * p + i]));
                byNorm[i] = i;
            }
            Arrays.sort(byNorm, (a, b) -> norm[a] != norm[b] ? Double.compare(norm[b], norm[a]) : Integer.compare(a, b));
            double threshold = norm[byNorm[count]];
            double[][] rows = new double[p][p];
            for (int i = 0; i < p; i++) {
                rows[i][i] = norm[i] > threshold ? threshold / norm[i] : 1;
            }
            int[] clipped = IntStream.range(0, p).filter(i -> rows[i][i] < 1).toArray();
            return new Matrix(rows, Details.EMPTY.with("name", name()).with("k", count).with("threshold", threshold)
                    .with("clipped", clipped));
        }
    }
}
