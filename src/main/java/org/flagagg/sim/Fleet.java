package org.flagagg.sim;

import org.flagagg.round.GradientSource;
import org.flagagg.worker.Worker;

/**
 * P simulated workers of a job whose gradients are a pure function of (seed, round, worker, coordinate),
 * so nothing of dimension n is ever held: any chunk of any worker's gradient can be regenerated at will.
 *
 * <p>True gradient of worker w in round r at coordinate i:
 * {@code g = D[(i + s_r) mod T] + noise * E_w[(i + s_{r,w}) mod T]}, where the shared direction table D and
 * the per-worker noise tables E_w hold T = min(dim, 2^16) approximately standard normal values (sum of four
 * 16-bit uniforms of one SplitMix64 output, rescaled to mean 0 and variance 1: bounded by +-3.46, exact to
 * reproduce), drawn once per fleet, and the shifts s move with the round. The honest workers agree on the
 * direction, which is the structure FA and the robust rules should recover. Tables make a chunk two reads
 * and an add per value, so a load test measures the aggregator, not the generator (hashing every value cost
 * ~6 ns, about the aggregator's whole budget per value at 1 GB/s); for dim > T the gradients repeat with
 * period T, which the rules do not care about.
 *
 * <p>The Byzantine workers are the first F slots (0 .. F - 1). Each sends the attack's output, computed
 * omnisciently per chunk from the true values of all P - F honest workers and of the F faulty ones at the
 * same coordinates (regenerated, not stored). The attack's seed changes with the round.
 */
public final class Fleet {

    private static final long SALT_DIRECTION = 0x4449524543543031L;
    private static final long SALT_NOISE = 0x4e4f495345303031L;
    private static final long SALT_ATTACK = 0x41545441434b3031L;
    /** Mean and standard deviation of the sum of four uniform integers in [0, 65535]. */
    private static final double SUM4_MEAN = 4 * 32767.5;
    private static final double SUM4_INV_STD = 1.0 / Math.sqrt(4 * (65536.0 * 65536.0 - 1) / 12);

    /**
     * What the fleet does; {@code attack} and {@code stragglers} are specs ({@link AttackConfig#parse},
     * {@link StragglerSpec#parse}).
     *
     * @param seed       seed of every random draw of the run
     * @param byzantine  F, the faulty workers (the first F slots), 0 <= F < P
     * @param attack     what they send, e.g. {@code lie} or {@code empire:eps=10}
     * @param stragglers how workers are late, e.g. {@code none} or {@code delay:ms=200,workers=2}
     * @param noise      standard deviation of each honest worker's noise around the shared direction
     */
    public record Config(long seed, int byzantine, String attack, String stragglers, double noise) {
        public static final double DEFAULT_NOISE = 0.5;

        public Config(long seed, int byzantine, String attack, String stragglers) {
            this(seed, byzantine, attack, stragglers, DEFAULT_NOISE);
        }

        public Config {
            if (byzantine < 0) {
                throw new IllegalArgumentException("byzantine workers must be >= 0, got " + byzantine);
            }
            if (!(noise >= 0) || Double.isInfinite(noise)) {
                throw new IllegalArgumentException("noise must be finite and >= 0, got " + noise);
            }
            attack = attack == null || attack.isBlank() ? "none" : attack.trim();
            stragglers = stragglers == null || stragglers.isBlank() ? "none" : stragglers.trim();
        }
    }

    private final long seed;
    private final int workers;
    private final long dim;
    private final int byzantine;
    private final double noise;
    private final AttackConfig attack;
    private final String attackSpec;
    private final StragglerSpec stragglers;
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);
    /**
     * Longest table: 2^16 floats (256 KiB) per worker, plus one for the direction, so that all of them stay
     * in the L3 cache and generating a gradient does not take memory bandwidth from the aggregator.
     */
    static final int MAX_TABLE = 1 << 16;
    private final int table;
    private final float[] direction;
    private final float[][] noiseTables;

    public Fleet(Config config, int workers, long dim) {
        if (workers < 1 || dim < 1) {
            throw new IllegalArgumentException("a fleet needs workers >= 1 and dim >= 1, got " + workers + ", " + dim);
        }
        if (config.byzantine() >= workers) {
            throw new IllegalArgumentException("byzantine workers must be < workers (the attacks need an honest one): "
                    + "f = " + config.byzantine() + ", p = " + workers);
        }
        this.seed = config.seed();
        this.workers = workers;
        this.dim = dim;
        this.byzantine = config.byzantine();
        this.noise = config.noise();
        this.attack = AttackConfig.parse(config.attack(), CounterRandom.mix64(seed ^ SALT_ATTACK));
        this.attackSpec = config.attack();
        Attacks.create(attack); // fail now on a bad spec, not in the middle of a round
        this.stragglers = StragglerSpec.parse(config.stragglers());
        this.table = (int) Math.min(dim, MAX_TABLE);
        this.direction = normalTable(CounterRandom.streamKey(seed, SALT_DIRECTION, 0), table);
        this.noiseTables = new float[workers][];
        for (int w = 0; w < workers; w++) {
            noiseTables[w] = normalTable(CounterRandom.streamKey(seed, SALT_NOISE, w), table);
        }
        if (byzantine > 0) {
            // An attack that does not fit this P and F (duplicate's target) fails here, not on an event loop.
            sent(0, 0, 0, 1, new float[1]);
        }
    }

    public int workers() {
        return workers;
    }

    public long dim() {
        return dim;
    }

    public int byzantine() {
        return byzantine;
    }

    public long seed() {
        return seed;
    }

    public StragglerSpec stragglers() {
        return stragglers;
    }

    /** The attack spec as configured (the attack's seed is derived from the fleet's seed and the round). */
    public String attackSpec() {
        return attackSpec;
    }

    public boolean isByzantine(int slot) {
        return slot < byzantine;
    }

    /** The attack of round {@code round}: its seed moves with the round so random attacks differ per round. */
    public Attack attack(long round) {
        return Attacks.create(attack.withSeed(CounterRandom.streamKey(attack.seed(), SALT_ATTACK, (int) round)
                ^ (round >>> 32)));
    }

    /** Worker {@code slot}'s true (honest) gradient for round {@code round}, coordinates [offset, offset + count). */
    public void trueGradient(long round, int slot, long offset, int count, float[] dst) {
        long directionKey = CounterRandom.streamKey(seed, SALT_DIRECTION, (int) round) ^ (round >>> 32);
        int d = (int) Math.floorMod(offset + CounterRandom.mix64(directionKey), (long) table);
        int e = (int) Math.floorMod(offset + CounterRandom.mix64(directionKey ^ (slot + 1L) * SALT_NOISE), (long) table);
        float sigma = (float) noise;
        float[] noiseTable = noiseTables[slot];
        // Runs between the tables' wrap-arounds: branch-free inner loops that C2 vectorises.
        for (int i = 0; i < count; ) {
            int run = Math.min(count - i, Math.min(table - d, table - e));
            for (int k = 0; k < run; k++) {
                dst[i + k] = direction[d + k] + sigma * noiseTable[e + k];
            }
            i += run;
            d = d + run == table ? 0 : d + run;
            e = e + run == table ? 0 : e + run;
        }
    }

    private static float[] normalTable(long key, int length) {
        float[] values = new float[length];
        for (int i = 0; i < length; i++) {
            values[i] = (float) normal(CounterRandom.bits(key, i));
        }
        return values;
    }

    /** What worker {@code slot} sends for round {@code round}: its true gradient, or the attack's output. */
    public void sent(long round, int slot, long offset, int count, float[] dst) {
        if (!isByzantine(slot)) {
            trueGradient(round, slot, offset, count, dst);
            return;
        }
        Scratch s = scratch.get().ensure(workers - byzantine, byzantine, count);
        for (int h = 0; h < workers - byzantine; h++) {
            trueGradient(round, byzantine + h, offset, count, s.honest[h]);
        }
        for (int b = 0; b < byzantine; b++) {
            trueGradient(round, b, offset, count, s.own[b]);
        }
        attack(round).apply(offset, s.honest, s.own, count, s.out);
        System.arraycopy(s.out[slot], 0, dst, 0, count);
    }

    /** Worker {@code slot}'s gradient for a {@link Worker} exchange of round {@code round}. */
    public Worker.GradientReader reader(long round, int slot) {
        return (offset, count, dst) -> sent(round, slot, offset, count, dst);
    }

    /**
     * The offline view of a round: what the given slots sent, as a {@link GradientSource} (input k is slot
     * {@code slots[k]}), for checking the engine's aggregate.
     */
    public GradientSource source(long round, int[] slots) {
        for (int slot : slots) {
            if (slot < 0 || slot >= workers) {
                throw new IllegalArgumentException("slot must be in 0.." + (workers - 1) + ", got " + slot);
            }
        }
        int[] copy = slots.clone();
        return new GradientSource() {
            @Override
            public int workers() {
                return copy.length;
            }

            @Override
            public long dimension() {
                return dim;
            }

            @Override
            public void read(int worker, long offset, int len, float[] dst) {
                sent(round, copy[worker], offset, len, dst);
            }
        };
    }

    /** Approximately N(0, 1): Irwin-Hall of the four 16-bit quarters of 64 random bits. */
    static double normal(long bits) {
        long sum = (bits & 0xFFFF) + ((bits >>> 16) & 0xFFFF) + ((bits >>> 32) & 0xFFFF) + (bits >>> 48);
        return (sum - SUM4_MEAN) * SUM4_INV_STD;
    }

    /** Per-thread buffers of the Byzantine computation, grown to the largest chunk seen and reused. */
    private static final class Scratch {
        float[][] honest = new float[0][];
        float[][] own = new float[0][];
        float[][] out = new float[0][];
        int capacity;

        Scratch ensure(int h, int f, int count) {
            if (honest.length != h || own.length != f || capacity < count) {
                capacity = Math.max(capacity, count);
                honest = new float[h][capacity];
                own = new float[f][capacity];
                out = new float[f][capacity];
            }
            return this;
        }
    }
}
