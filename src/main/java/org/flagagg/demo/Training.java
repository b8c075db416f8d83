package org.flagagg.demo;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.flagagg.config.JobConfig;
import org.flagagg.engine.Deadlines;
import org.flagagg.fa.FlagOptions;
import org.flagagg.rules.Rules;
import org.flagagg.sim.Attack;
import org.flagagg.sim.AttackConfig;
import org.flagagg.sim.Attacks;
import org.flagagg.server.Server;
import org.flagagg.sim.StragglerSpec;
import org.flagagg.worker.Worker;

/**
 * Data-parallel SGD through the real round engine: an embedded aggregator and P workers, each a verticle
 * with its own {@link Worker} and its own copy of the model's parameters. Per round every worker
 * computes the gradient of a minibatch of its own shard; the first F workers (the Byzantine ones) replace
 * theirs with the attack's output, computed omnisciently from the honest gradients of the round (as
 * {@code sim.Fleet} does; {@code adaptive:lie|ipm} also tries the rule in use, {@link AdaptiveAttack}); all exchange through the engine (chunks, credits, deadline, quorum) and every
 * worker applies the aggregate it got back, {@code w -= lr * aggregate}. The honest copies therefore stay
 * bit-identical, which the run checks every round.
 *
 * <p>Every random draw (initial weights, minibatches, attack noise, stragglers) comes from the seed, so runs
 * of different rules and attacks see the same data in the same order. {@link #run} blocks: call it from a
 * thread that is not a Vert.x event loop.
 *
 * <p>Over 400 lines because one run is one loop (gradients, attack, exchange, update, records) best read whole.
 */
public final class Training {

    /**
     * What every run of a demo shares.
     *
     * @param workers      P
     * @param byzantine    F, the first F slots (w0 .. w{F-1})
     * @param batch        images per worker per round
     * @param learningRate the SGD step, the same for every rule
     * @param rounds       rounds per run
     * @param evalEvery    test accuracy and loss every this many rounds (and after the last)
     * @param seed         seed of every random draw
     * @param flag         the Flag Aggregator's options
     * @param chunkCoords  coordinates per chunk on the wire
     * @param deadlineMs   the round deadline of runs with stragglers (the others wait for every worker)
     * @param split        how the training images are shared out among the workers ({@link Shards})
     * @param schedule     the learning rate over the rounds: constant, or cosine (from learningRate down to 0)
     */
    public record Settings(int workers, int byzantine, int batch, double learningRate, int rounds, int evalEvery,
            long seed, FlagOptions flag, int chunkCoords, long deadlineMs, String split, String schedule) {

        /** The learning-rate schedules. */
        public static final List<String> SCHEDULES = List.of("constant", "cosine");

        /** With iid shards and a constant learning rate. */
        public Settings(int workers, int byzantine, int batch, double learningRate, int rounds, int evalEvery,
                long seed, FlagOptions flag, int chunkCoords, long deadlineMs) {
            this(workers, byzantine, batch, learningRate, rounds, evalEvery, seed, flag, chunkCoords, deadlineMs, "iid",
                    "constant");
        }

        public Settings {
            if (!SCHEDULES.contains(schedule)) {
                throw new IllegalArgumentException("schedule must be one of " + SCHEDULES + ", got '" + schedule + "'");
            }
            if (workers < 1) {
                throw new IllegalArgumentException("workers p must be >= 1, got " + workers);
            }
            if (byzantine < 0 || byzantine >= workers) {
                throw new IllegalArgumentException("byzantine f must be in 0..p-1 (p = " + workers + "), got " + byzantine);
            }
            if (batch < 1 || rounds < 1 || evalEvery < 1 || chunkCoords < 1 || deadlineMs < 1) {
                throw new IllegalArgumentException("batch, rounds, eval-every, chunk and deadline must be >= 1, got "
                        + batch + ", " + rounds + ", " + evalEvery + ", " + chunkCoords + ", " + deadlineMs);
            }
            if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
                throw new IllegalArgumentException("learning rate must be a finite number > 0, got " + learningRate);
            }
        }

        /**
         * The step of round {@code round} (0-based). Cosine decays from learningRate towards 0 over the run
         * (half a cosine period, SGDR without restarts): large steps early, small ones when the final
         * accuracy is measured, so evaluations stop swinging with the last minibatches.
         */
        public double learningRate(int round) {
            return schedule.equals("cosine") ? learningRate * 0.5 * (1 + Math.cos(Math.PI * round / rounds)) : learningRate;
        }
    }

    /** One run: a rule (canonical name, or pre+name such as nnm+trmean), an attack spec and a straggler spec. */
    public record Spec(String rule, String attack, String stragglers) {
    }

    /**
     * What a run measured.
     *
     * @param evalRounds  rounds completed at each evaluation (0 = the initial model)
     * @param accuracy    test accuracy (0..1) at each evaluation
     * @param loss        test cross-entropy at each evaluation (NaN if the model diverged)
     * @param quality     flag only: q_i per round (rows) and worker slot (columns), NaN where the worker's
     *                    gradient was not in the round; null for other rules
     * @param byzantine   the Byzantine workers' ids
     * @param failedRounds rounds the engine failed (no aggregate: nobody updated)
     * @param lateGradients gradients that missed their round's deadline (stragglers)
     * @param inSync      whether the honest workers' parameters stayed identical in every round
     * @param parameters  the first honest worker's final parameters
     * @param byzantineDropped per round, the share of the Byzantine workers the rule dropped (dropped_by_rule of
     *                    the round record); NaN for a failed round
     * @param filtering   whether the rule dropped any worker in any round (a selecting rule, such as cfa)
     */
    public record Result(Spec spec, int[] evalRounds, double[] accuracy, double[] loss, double[][] quality,
            List<String> byzantine, int failedRounds, int lateGradients, boolean inSync, double seconds,
            float[] parameters, double[] byzantineDropped, boolean filtering) {
        /** Evaluations the final accuracy averages over. */
        public static final int FINAL_EVALUATIONS = 5;

        /**
         * The mean of the last {@link #FINAL_EVALUATIONS} test accuracies (the last 20 rounds by default). At a
         * constant learning rate one evaluation swings by up to 10 points from the next, so the very last one
         * says more about the draw than about the rule.
         */
        public double finalAccuracy() {
            int from = Math.max(0, accuracy.length - FINAL_EVALUATIONS);
            double sum = 0;
            for (int e = from; e < accuracy.length; e++) {
                sum += accuracy[e];
            }
            return sum / (accuracy.length - from);
        }
    }

    /** Called on the driving thread after each round: rounds done, rounds of the run. */
    @FunctionalInterface
    public interface Progress {
        void update(int done, int total);

        /** Called once a run's aggregator is up, before its first round (the live dashboard follows it). */
        default void engineStarted(Server engine) {
        }
    }

    private static final long SALT_BATCH = 0x4241544348455331L;
    private static final long SALT_ATTACK = 0x4154544b44454d4fL;

    private final Vertx vertx;
    private final Dataset train;
    private final Dataset test;
    private final Mlp model;
    private final Settings settings;
    /** Each worker's training images ({@link Shards}); its minibatches are drawn from them. */
    private final int[][] shards;
    private int jobs;
    /** Tests: a deadline also waits for the run's quorum ({@link #waitingForTheQuorum}). */
    private boolean waitForQuorum;

    public Training(Vertx vertx, Dataset train, Dataset test, Mlp model, Settings settings) {
        if (train.features() != model.inputs() || test.features() != model.inputs()) {
            throw new IllegalArgumentException("the model takes " + model.inputs() + " inputs, the images have "
                    + train.features() + " (train) and " + test.features() + " (test) pixels");
        }
        if (train.size() < settings.workers()) {
            throw new IllegalArgumentException("the training set (" + train.size() + " images) is smaller than p = "
                    + settings.workers() + ": every worker needs a shard");
        }
        this.vertx = vertx;
        this.train = train;
        this.test = test;
        this.model = model;
        this.settings = settings;
        this.shards = Shards.split(settings.split(), train.labels(), train.classes(), settings.workers(), settings.seed());
    }

    public Settings settings() {
        return settings;
    }

    /**
     * For tests: a round's deadline passes only once the run's quorum (its on-time workers) delivered too
     * ({@link Deadlines#waitingFor}), so a loaded machine cannot make an on-time worker late.
     */
    public Training waitingForTheQuorum() {
        waitForQuorum = true;
        return this;
    }

    /** Checks a spec without running it: the rule fits P (and the quorum), the attack and stragglers parse. */
    public void validate(Spec spec) {
        int p = settings.workers();
        StragglerSpec stragglers = StragglerSpec.parse(spec.stragglers());
        Rules.create(ruleConfig(spec.rule())).validate(p);
        if (hasStragglers(stragglers)) {
            Rules.create(ruleConfig(spec.rule())).validate(quorum(stragglers));
        }
        if (AdaptiveAttack.isAdaptive(spec.attack())) {
            AdaptiveAttack.parse(spec.attack(), Rules.create(ruleConfig(spec.rule())));
        } else {
            Attacks.create(AttackConfig.parse(spec.attack(), settings.seed()));
        }
    }

    /** The job of a run: quorum and deadline follow from its stragglers. */
    JobConfig job(Spec spec, Path roundLog) {
        StragglerSpec stragglers = StragglerSpec.parse(spec.stragglers());
        boolean late = hasStragglers(stragglers);
        org.flagagg.rules.RuleConfig rule = ruleConfig(spec.rule());
        JsonObject json = new JsonObject()
                .put("job", "demo-" + (++jobs))
                .put("rule", new JsonObject().put("name", rule.name()).put("pre", rule.pre()).put("f", rule.f()).put("m", 0)
                        .put("r", rule.flag().rank()).put("lambda", rule.flag().lambda())
                        .put("iterations", rule.flag().iterations())
                        .put("scale", rule.flag().scale().name().toLowerCase(java.util.Locale.ROOT)))
                .put("workers", settings.workers())
                .put("dim", (long) model.dimension())
                .put("chunk_coords", settings.chunkCoords())
                .put("slab_kib", Math.max(64, settings.chunkCoords() * 4 / 1024 + 1))
                .put("quorum", late ? quorum(stragglers) : settings.workers())
                .put("deadline", new JsonObject().put("mode", "fixed").put("min_ms", 1)
                        .put("max_ms", late ? settings.deadlineMs() : 60_000L))
                .put("memory_budget_mb", 64)
                .put("round_log", roundLog == null ? "" : roundLog.toString());
        return JobConfig.fromJson(json);
    }

    /** "rule" or "pre+rule" (the pre-aggregation of --pre before the last '+'). */
    private org.flagagg.rules.RuleConfig ruleConfig(String rule) {
        int plus = rule.lastIndexOf('+');
        return new org.flagagg.rules.RuleConfig(rule.substring(plus + 1), settings.byzantine(), 0, settings.flag(),
                plus < 0 ? "" : rule.substring(0, plus));
    }

    private static boolean hasStragglers(StragglerSpec spec) {
        return !spec.spec().equals("none");
    }

    /** Workers that are never late under the spec: the quorum of a run with stragglers. */
    private int quorum(StragglerSpec spec) {
        int p = settings.workers();
        int onTime = 0;
        for (int slot = 0; slot < p; slot++) {
            boolean late = spec.sendDelayMs(settings.seed(), 0, slot, p) >= settings.deadlineMs()
                    || spec.ackDelayMs(slot, p) > 0 || spec.dropsOut(settings.seed(), 0, slot, p);
            if (!late) {
                onTime++;
            }
        }
        return Math.max(1, onTime);
    }

    /** Trains one model under {@code spec}; blocks until the run ends. */
    public Result run(Spec spec, Path roundLog, Progress progress) {
        long t0 = System.nanoTime();
        validate(spec);
        int p = settings.workers();
        int f = settings.byzantine();
        int d = model.dimension();
        StragglerSpec stragglers = StragglerSpec.parse(spec.stragglers());
        AdaptiveAttack adaptive = AdaptiveAttack.isAdaptive(spec.attack())
                ? AdaptiveAttack.parse(spec.attack(), Rules.create(ruleConfig(spec.rule()))) : null;
        AttackConfig attackConfig = adaptive == null ? AttackConfig.parse(spec.attack(), settings.seed()) : null;
        boolean flag = spec.rule().equals("flag");
        JobConfig job = job(spec, roundLog);

        float[] initial = model.initialParameters(settings.seed());
        float[][] params = new float[p][];
        for (int w = 0; w < p; w++) {
            params[w] = initial.clone();
        }
        float[][] grads = new float[p][d];
        float[][] sent = new float[p][];
        float[][] aggregates = new float[p][d];
        float[][] attackOut = new float[f][d];
        float[][] honest = new float[p - f][];
        float[][] own = new float[f][];
        Mlp.Workspace[] spaces = new Mlp.Workspace[p];
        SplittableRandom[] batches = new SplittableRandom[p];
        int[][] batchIndex = new int[p][settings.batch()];
        for (int w = 0; w < p; w++) {
            spaces[w] = model.workspace();
            batches[w] = batchStream(settings.seed(), w);
        }
        List<String> byzantine = new ArrayList<>();
        for (int b = 0; b < f; b++) {
            byzantine.add("w" + b);
        }
        int evals = (settings.rounds() + settings.evalEvery() - 1) / settings.evalEvery() + 1;
        int[] evalRounds = new int[evals];
        double[] accuracy = new double[evals];
        double[] loss = new double[evals];
        double[][] quality = flag ? new double[settings.rounds()][p] : null;
        int e = 0;
        Mlp.Evaluation start = model.evaluate(params[f], test);
        accuracy[e] = start.accuracy();
        loss[e++] = start.loss();
        int failed = 0;
        int late = 0;
        boolean inSync = true;
        double[] byzantineDropped = new double[settings.rounds()];
        boolean filtering = false;

        Server engine = Server.deploy(vertx, job, waitForQuorum ? Deadlines.waitingFor(job.quorum())
                : Deadlines.timers()).await();
        progress.engineStarted(engine);
        List<String> deployments = new ArrayList<>();
        DemoWorker[] workers = new DemoWorker[p];
        try {
            for (int w = 0; w < p; w++) {
                workers[w] = new DemoWorker(job.job(), d, w);
                deployments.add(vertx.deployVerticle(workers[w]).await());
            }
            long roundId = 0;
            for (int round = 0; round < settings.rounds(); round++) {
                // Each worker's minibatch from its own shard, drawn whatever the rule: same data for every run.
                IntStream.range(0, p).parallel().forEach(w -> {
                    int[] idx = batchIndex[w];
                    int[] mine = shards[w];
                    for (int b = 0; b < idx.length; b++) {
                        idx[b] = mine[batches[w].nextInt(mine.length)];
                    }
                    model.lossAndGradient(params[w], train, idx, idx.length, grads[w], spaces[w]);
                });
                for (int w = 0; w < p; w++) {
                    sent[w] = grads[w];
                }
                if (f > 0) {
                    System.arraycopy(grads, f, honest, 0, p - f);
                    System.arraycopy(grads, 0, own, 0, f);
                    if (adaptive != null) {
                        adaptive.apply(honest, own, attackOut);
                    } else {
                        attack(attackConfig, round).apply(0, honest, own, d, attackOut);
                    }
                    System.arraycopy(attackOut, 0, sent, 0, f);
                }
                // The server's round ids: a round every worker drops out of never opens, and the next keeps its id.
                long id = roundId;
                int r = round;
                if (IntStream.range(0, p).anyMatch(w -> !stragglers.dropsOut(settings.seed(), r, w, p))) {
                    roundId++;
                }
                List<Future<Worker.Aggregate>> exchanges = new ArrayList<>();
                for (int w = 0; w < p; w++) {
                    exchanges.add(exchange(workers[w], round, id, sent[w], aggregates[w], stragglers));
                }
                Future.join(exchanges).otherwiseEmpty().await();
                JsonObject record = null;
                for (int w = 0; w < p; w++) {
                    Future<Worker.Aggregate> x = exchanges.get(w);
                    if (!x.succeeded()) {
                        continue;
                    }
                    float[] a = aggregates[w];
                    float[] theta = params[w];
                    float lr = (float) settings.learningRate(round);
                    for (int i = 0; i < d; i++) {
                        theta[i] -= lr * a[i];
                    }
                    if (record == null) {
                        record = x.result().record();
                    }
                }
                if (record == null) {
                    failed++;
                    byzantineDropped[round] = Double.NaN;
                } else {
                    JsonObject dropped = record.getJsonObject("dropped_by_rule", new JsonObject());
                    filtering |= !dropped.isEmpty();
                    byzantineDropped[round] = f == 0 ? 0 : byzantine.stream().filter(dropped::containsKey).count() / (double) f;
                    late += record.getJsonArray("stragglers", new io.vertx.core.json.JsonArray()).size();
                    if (flag) {
                        fillQuality(record, quality[round]);
                    }
                }
                for (int w = f + 1; w < p && inSync; w++) {
                    inSync = Arrays.equals(params[f], params[w]);
                }
                if ((round + 1) % settings.evalEvery() == 0 || round + 1 == settings.rounds()) {
                    Mlp.Evaluation ev = model.evaluate(params[f], test);
                    evalRounds[e] = round + 1;
                    accuracy[e] = ev.accuracy();
                    loss[e++] = ev.loss();
                }
                progress.update(round + 1, settings.rounds());
            }
        } finally {
            for (String id : deployments) {
                vertx.undeploy(id).await();
            }
            engine.close().await();
        }
        return new Result(spec, Arrays.copyOf(evalRounds, e), Arrays.copyOf(accuracy, e), Arrays.copyOf(loss, e),
                quality, byzantine, failed, late, inSync, (System.nanoTime() - t0) / 1e9, params[f], byzantineDropped,
                filtering);
    }

    /** Worker w's minibatch draws: image {@code shard_w[nextInt(|shard_w|)]}, batch by batch. */
    static SplittableRandom batchStream(long seed, int worker) {
        return new SplittableRandom(seed ^ SALT_BATCH ^ (worker * 0x9E3779B97F4A7C15L));
    }

    /** The attack of a round: its seed moves with the round so random attacks differ per round. */
    private Attack attack(AttackConfig config, int round) {
        long seed = new SplittableRandom(config.seed() ^ SALT_ATTACK ^ (round * 0xBF58476D1CE4E5B9L)).nextLong();
        return Attacks.create(config.withSeed(seed));
    }

    /** details.quality of a flag round record (keyed by worker id) into q[slot]; NaN where missing or null. */
    static void fillQuality(JsonObject record, double[] q) {
        Arrays.fill(q, Double.NaN);
        JsonObject details = record.getJsonObject("details");
        Object byWorker = details == null ? null : details.getValue("quality");
        if (!(byWorker instanceof JsonObject map)) {
            return;
        }
        for (String id : map.fieldNames()) {
            Object v = map.getValue(id);
            if (v instanceof Number n && id.startsWith("w")) {
                int slot = Integer.parseInt(id.substring(1));
                if (slot >= 0 && slot < q.length) {
                    q[slot] = n.doubleValue();
                }
            }
        }
    }

    /** One worker's exchange of a round, run on its own context; completes with the aggregate it got. */
    private Future<Worker.Aggregate> exchange(DemoWorker worker, long round, long id, float[] gradient,
            float[] into, StragglerSpec stragglers) {
        int p = settings.workers();
        long delay = stragglers.sendDelayMs(settings.seed(), round, worker.slot, p);
        boolean drops = stragglers.dropsOut(settings.seed(), round, worker.slot, p);
        Promise<Worker.Aggregate> done = Promise.promise();
        worker.context().runOnContext(v -> {
            Future<Void> sendWhen = drops ? Future.failedFuture("dropped out")
                    : delay > 0 ? timer(delay) : Future.succeededFuture();
            Worker.GradientReader reader = (offset, count, dst) ->
                    System.arraycopy(gradient, (int) offset, dst, 0, count);
            Worker.AsyncResultSink sink = (offset, values, count) -> {
                System.arraycopy(values, 0, into, (int) offset, count);
                return Future.succeededFuture();
            };
            Future<Worker.Aggregate> x;
            try {
                x = worker.client.exchange(id, reader, sink, sendWhen);
            } catch (RuntimeException ex) {
                x = Future.failedFuture(ex);
            }
            x.onComplete(done);
        });
        return done.future();
    }

    private Future<Void> timer(long ms) {
        Promise<Void> promise = Promise.promise();
        vertx.setTimer(ms, t -> promise.complete());
        return promise.future();
    }

    /** A worker: a verticle, so its client lives on its own event-loop context. */
    private static final class DemoWorker extends VerticleBase {
        private final String job;
        private final long dim;
        final int slot;
        Worker client;

        DemoWorker(String job, long dim, int slot) {
            this.job = job;
            this.dim = dim;
            this.slot = slot;
        }

        @Override
        public Future<?> start() {
            return Worker.join(vertx, job, "w" + slot, dim, slot).onSuccess(c -> client = c);
        }

        Context context() {
            return context;
        }

        @Override
        public Future<?> stop() {
            return client == null ? Future.succeededFuture() : client.close();
        }
    }
}
