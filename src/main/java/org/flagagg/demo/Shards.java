package org.flagagg.demo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * How the training images are split among the p workers (demo --split), seeded. Every image goes to exactly
 * one worker and every worker gets at least one:
 * <ul>
 *   <li>{@code iid}: worker w gets the contiguous range [w n / p, (w + 1) n / p) of the (already shuffled)
 *   images;</li>
 *   <li>{@code labels:k=2}: label slots dealt like cards: independent seeded permutations of the C labels
 *   laid end to end, worker w taking slots [w k, (w + 1) k); a worker dealt a label twice swaps the
 *   repeat with another worker's slot. So every worker holds k distinct labels, every label is held by
 *   floor or ceil of p k / C workers, and which workers share labels is random (a cyclic deal would give
 *   groups of p k / C workers with identical labels, as alike as colluders). Each label's images, shuffled,
 *   are cut into equal parts among its holders. Needs p k >= C, or some labels would be held by no one;</li>
 *   <li>{@code dirichlet:alpha=0.5}: for each label, worker shares drawn from Dirichlet(alpha, ..., alpha)
 *   (Hsu et al. 2019) and the label's shuffled images cut at the rounded cumulative shares. A worker left
 *   with no image gets one from the largest shard. Small alpha: few labels per worker; large: near iid.</li>
 * </ul>
 */
public final class Shards {

    private static final long SALT = 0x5348415244533231L;
    /** Marsaglia-Tsang accepts with probability > 0.95; this many rejections in a row does not happen. */
    private static final int MAX_GAMMA_TRIES = 10_000;

    private Shards() {
    }

    /**
     * The image indices of each worker, ascending.
     *
     * @throws IllegalArgumentException for a bad spec, or one that leaves a label or a worker without images
     */
    public static int[][] split(String spec, int[] labels, int classes, int workers, long seed) {
        if (workers < 1 || labels.length < workers) {
            throw new IllegalArgumentException("--split needs at least one image per worker (" + labels.length
                    + " images, p = " + workers + ")");
        }
        String s = spec == null ? "iid" : spec.trim().toLowerCase(Locale.ROOT);
        int colon = s.indexOf(':');
        String name = colon < 0 ? s : s.substring(0, colon);
        String[] param = colon < 0 ? new String[0] : s.substring(colon + 1).split("=", 2);
        SplittableRandom random = new SplittableRandom(seed ^ SALT);
        int[][] shards = switch (name) {
            case "iid" -> {
                requireKey(spec, param, null);
                yield iid(labels.length, workers);
            }
            case "labels" -> {
                requireKey(spec, param, "k");
                yield byLabels(labels, classes, workers, (int) number(spec, param, 1, classes), random);
            }
            case "dirichlet" -> {
                requireKey(spec, param, "alpha");
                yield dirichlet(labels, classes, workers, number(spec, param, 1e-3, 1e6), random);
            }
            default -> throw new IllegalArgumentException("unknown split '" + spec
                    + "' (splits: iid, labels:k=2, dirichlet:alpha=0.5)");
        };
        for (int w = 0; w < workers; w++) {
            Arrays.sort(shards[w]);
        }
        return shards;
    }

    private static void requireKey(String spec, String[] param, String key) {
        boolean ok = key == null ? param.length == 0 : param.length == 2 && param[0].trim().equals(key);
        if (!ok) {
            throw new IllegalArgumentException("split '" + spec + "': expected "
                    + (key == null ? "no parameter" : key + "=..."));
        }
    }

    private static double number(String spec, String[] param, double min, double max) {
        double v;
        try {
            v = Double.parseDouble(param[1].trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("split '" + spec + "': " + param[0].trim() + " must be a number");
        }
        if (!(v >= min && v <= max) || (param[0].trim().equals("k") && v != Math.rint(v))) {
            throw new IllegalArgumentException("split '" + spec + "': " + param[0].trim() + " must be "
                    + (param[0].trim().equals("k") ? "an integer " : "") + "in [" + min + ", " + max + "], got "
                    + param[1].trim());
        }
        return v;
    }

    static int[][] iid(int n, int workers) {
        int[][] shards = new int[workers][];
        for (int w = 0; w < workers; w++) {
            int from = (int) ((long) w * n / workers);
            int to = (int) ((long) (w + 1) * n / workers);
            shards[w] = range(from, to);
        }
        return shards;
    }

    private static int[][] byLabels(int[] labels, int classes, int workers, int k, SplittableRandom random) {
        if ((long) workers * k < classes) {
            throw new IllegalArgumentException("split labels:k=" + k + " with p = " + workers + " leaves labels with no "
                    + "worker: needs p * k >= " + classes);
        }
        int[] slots = dealLabels(classes, workers, k, random);
        List<List<Integer>> holders = new ArrayList<>();
        for (int c = 0; c < classes; c++) {
            holders.add(new ArrayList<>());
        }
        for (int i = 0; i < slots.length; i++) {
            holders.get(slots[i]).add(i / k);
        }
        List<List<Integer>> parts = emptyLists(workers);
        int[][] byClass = byClass(labels, classes, random);
        for (int c = 0; c < classes; c++) {
            int[] images = byClass[c];
            List<Integer> who = holders.get(c);
            for (int h = 0; h < who.size(); h++) {
                int from = (int) ((long) h * images.length / who.size());
                int to = (int) ((long) (h + 1) * images.length / who.size());
                for (int i = from; i < to; i++) {
                    parts.get(who.get(h)).add(images[i]);
                }
            }
        }
        return nonEmpty(parts, "labels:k=" + k);
    }

    /** Label slot i belongs to worker i / k; see the class comment. */
    static int[] dealLabels(int classes, int workers, int k, SplittableRandom random) {
        int[] slots = new int[workers * k];
        for (int from = 0; from < slots.length; from += classes) {
            int[] block = shuffled(range(0, classes), random);
            System.arraycopy(block, 0, slots, from, Math.min(classes, slots.length - from));
        }
        for (int i = 0; i < slots.length; i++) {
            if (holds(slots, k, i / k, slots[i], i)) {
                int j = swapPartner(slots, k, i);
                int t = slots[i];
                slots[i] = slots[j];
                slots[j] = t;
            }
        }
        return slots;
    }

    /** Whether worker w holds label c in a slot other than {@code except}. */
    private static boolean holds(int[] slots, int k, int w, int c, int except) {
        for (int i = w * k; i < (w + 1) * k; i++) {
            if (i != except && slots[i] == c) {
                return true;
            }
        }
        return false;
    }

    /** A slot j of another worker whose label i's worker lacks and whose worker lacks slots[i]. */
    private static int swapPartner(int[] slots, int k, int i) {
        for (int j = 0; j < slots.length; j++) {
            if (j / k != i / k && !holds(slots, k, i / k, slots[j], i) && !holds(slots, k, j / k, slots[i], j)) {
                return j;
            }
        }
        throw new IllegalStateException("no label to swap for slot " + i + " (k = " + k + ")");
    }

    private static int[][] dirichlet(int[] labels, int classes, int workers, double alpha, SplittableRandom random) {
        List<List<Integer>> parts = emptyLists(workers);
        int[][] byClass = byClass(labels, classes, random);
        double[] share = new double[workers];
        for (int c = 0; c < classes; c++) {
            double sum = 0;
            for (int w = 0; w < workers; w++) {
                share[w] = gamma(alpha, random);
                sum += share[w];
            }
            if (!(sum > 0)) { // every draw underflowed (tiny alpha): the alpha -> 0 limit, one worker takes all
                Arrays.fill(share, 0);
                share[random.nextInt(workers)] = 1;
                sum = 1;
            }
            int[] images = byClass[c];
            double cumulative = 0;
            int from = 0;
            for (int w = 0; w < workers; w++) {
                cumulative += share[w] / sum;
                int to = w == workers - 1 ? images.length : (int) Math.min(images.length, Math.round(cumulative * images.length));
                for (int i = from; i < to; i++) {
                    parts.get(w).add(images[i]);
                }
                from = Math.max(from, to);
            }
        }
        for (int w = 0; w < workers; w++) {
            if (parts.get(w).isEmpty()) {
                List<Integer> largest = parts.stream().max((a, b) -> Integer.compare(a.size(), b.size())).orElseThrow();
                parts.get(w).add(largest.remove(largest.size() - 1));
            }
        }
        return nonEmpty(parts, "dirichlet");
    }

    /** Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 by Gamma(shape + 1) U^(1 / shape). */
    static double gamma(double shape, SplittableRandom random) {
        if (shape < 1) {
            return gamma(shape + 1, random) * Math.pow(random.nextDouble(), 1 / shape);
        }
        double d = shape - 1.0 / 3;
        double c = 1 / Math.sqrt(9 * d);
        for (int tries = 0; tries < MAX_GAMMA_TRIES; tries++) {
            double x = random.nextGaussian();
            double v = 1 + c * x;
            if (v <= 0) {
                continue;
            }
            v = v * v * v;
            double u = random.nextDouble();
            if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) {
                return d * v;
            }
        }
        throw new IllegalStateException("gamma sampler rejected " + MAX_GAMMA_TRIES + " draws in a row");
    }

    /** Each label's image indices, shuffled. */
    private static int[][] byClass(int[] labels, int classes, SplittableRandom random) {
        int[] count = new int[classes];
        for (int label : labels) {
            count[label]++;
        }
        int[][] byClass = new int[classes][];
        for (int c = 0; c < classes; c++) {
            byClass[c] = new int[count[c]];
        }
        int[] filled = new int[classes];
        for (int i = 0; i < labels.length; i++) {
            byClass[labels[i]][filled[labels[i]]++] = i;
        }
        for (int c = 0; c < classes; c++) {
            shuffled(byClass[c], random);
        }
        return byClass;
    }

    private static int[][] nonEmpty(List<List<Integer>> parts, String what) {
        int[][] shards = new int[parts.size()][];
        for (int w = 0; w < shards.length; w++) {
            if (parts.get(w).isEmpty()) {
                throw new IllegalArgumentException("split " + what + " leaves worker w" + w
                        + " without images: use more training images");
            }
            shards[w] = parts.get(w).stream().mapToInt(Integer::intValue).toArray();
        }
        return shards;
    }

    private static List<List<Integer>> emptyLists(int count) {
        List<List<Integer>> lists = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            lists.add(new ArrayList<>());
        }
        return lists;
    }

    private static int[] range(int from, int to) {
        int[] r = new int[to - from];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }

    /** Fisher-Yates in place; returns its argument. */
    private static int[] shuffled(int[] a, SplittableRandom random) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }
}
