package org.flagagg.fa;

/**
 * Parameters of the Flag Aggregator (see docs/algorithm.md).
 *
 * @param rank       subspace rank r; 0 means ceil(p / 2)
 * @param lambda     weight of the pairwise terms, >= 0
 * @param iterations at most this many IRLS steps after the flag-mean start; 0 returns the flag mean
 *                   (what the authors' code computes by default in high dimension)
 * @param tol        stop when a step lowers the objective by at most this
 * @param eps        IRLS weight regulariser
 * @param scale      how the output is scaled
 */
public record FlagOptions(int rank, double lambda, int iterations, double tol, double eps, Scale scale) {

    /** Output scaling. */
    public enum Scale {
        /** a = (1/r) sum_i Y Y^T x_i, the authors' formula: its norm does not follow the gradients'. */
        PAPER,
        /** the paper's direction rescaled to the median norm of the gradients FA kept (the default). */
        NORM;

        /** The scale named {@code paper} or {@code norm} (any case). */
        public static Scale of(String name) {
            return switch (name == null ? "" : name.toLowerCase(java.util.Locale.ROOT)) {
                case "paper" -> PAPER;
                case "norm" -> NORM;
                default -> throw new IllegalArgumentException("--scale must be paper or norm, got '" + name + "'");
            };
        }
    }

    /** The defaults, with the norm scale, so a learning rate tuned for mean fits FA too. */
    public static final FlagOptions DEFAULTS = new FlagOptions(0, 0.0, 10, 1e-10, 1e-7, Scale.NORM);

    public FlagOptions {
        if (rank < 0) {
            throw new IllegalArgumentException("rank r must be >= 1 (or 0 for ceil(p/2)), got " + rank);
        }
        if (!(lambda >= 0) || Double.isInfinite(lambda)) {
            throw new IllegalArgumentException("lambda must be a finite number >= 0, got " + lambda);
        }
        if (iterations < 0) {
            throw new IllegalArgumentException("iterations must be >= 0, got " + iterations);
        }
        if (!(tol >= 0) || !(eps > 0)) {
            throw new IllegalArgumentException("tol must be >= 0 and eps > 0");
        }
        if (scale == null) {
            throw new IllegalArgumentException("scale must be paper or norm");
        }
    }

    /** The rank used for p kept gradients. */
    public int rankFor(int p) {
        return rank == 0 ? (p + 1) / 2 : rank;
    }

    public FlagOptions withRank(int r) {
        return new FlagOptions(r, lambda, iterations, tol, eps, scale);
    }

    public FlagOptions withLambda(double l) {
        return new FlagOptions(rank, l, iterations, tol, eps, scale);
    }

    public FlagOptions withIterations(int t) {
        return new FlagOptions(rank, lambda, t, tol, eps, scale);
    }

    public FlagOptions withScale(Scale s) {
        return new FlagOptions(rank, lambda, iterations, tol, eps, s);
    }
}
