package org.flagagg.multihost;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;
import org.flagagg.config.Cluster;
import org.flagagg.config.Configuration;
import org.flagagg.config.JobConfig;
import org.flagagg.config.ServerConfig;
import org.flagagg.config.JobServer;
import org.flagagg.server.Server;
import org.flagagg.sim.Fleet;
import org.flagagg.wire.JobSecret;
import org.flagagg.worker.LinkClient;
import org.flagagg.worker.Worker;

/**
 * The Java worker host of the multi-host test: a cluster member in its own network namespace whose workers
 * join a job over the data link and exchange rounds when told, as a training JVM using the Worker API would.
 * Started by {@code deploy/host.sh worker} (FLAGAGG_MAIN names this class), so it takes the cluster flags
 * that script adds: {@code worker --cluster --cluster-host H --cluster-members M --conf FILE --seed S
 * --slots 0,1,2 --out DIR}. The job's dimension and worker count come from the configuration; each slot's
 * gradient of round r is {@link Fleet}'s (seeded), so the test regenerates it offline.
 *
 * <p>Commands on stdin, one a line, each answered on stdout: {@code join JOB} ("joined JOB" or "error ..."),
 * {@code round R} (one "slot S round R included|left out|failed: REASON" line per slot, then "done R"; the
 * aggregate goes to DIR/JOB-rR-sS.f32), {@code leave} ("left"). End of input stops it.
 *
 * <p>Across a failover a slot carries on as a training loop would: a step that fails with
 * {@link Worker.AggregatorLostException} prints "retry slot S round R: REASON" and is retried at the worker's
 * next round N (after it joined the job again, if its session was lost: then "rejoined JOB slot S round N"), up
 * to {@value #MAX_RETRIES} times; its outcome line then names round N ("slot S round N included"), its aggregate
 * goes to DIR/JOB-rN-sS.f32, and "done R" still names the command's round.
 */
public final class WorkerHostMain {
    /** Longest a join or a round may take before it is reported failed. */
    private static final long STEP_S = 90;
    /** How many times one step is retried after an aggregator was lost. */
    private static final int MAX_RETRIES = 3;

    private final Cluster.Node node;
    private final JobConfig job;
    private final JobSecret secret;
    private final Fleet fleet;
    private final int[] slots;
    private final Path out;
    private final long serverWaitMs;
    private String jobName;
    private LinkClient link;
    private final List<SlotWorker> workers = new ArrayList<>();

    private WorkerHostMain(Cluster.Node node, ServerConfig settings, long seed, int[] slots, Path out) {
        this.node = node;
        this.job = settings.job();
        this.secret = Server.jobSecret(settings, true);
        this.fleet = new Fleet(new Fleet.Config(seed, 0, "none", "none"), job.workers(), job.dim());
        this.slots = slots;
        this.out = out;
        this.serverWaitMs = settings.cluster().serverWaitS() * 1000;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].startsWith("--") && i + 1 < args.length && !args[i + 1].startsWith("--")) {
                options.put(args[i], args[++i]);
            }
        }
        JsonObject flags = new JsonObject().put("cluster", new JsonObject()
                .put("host", options.get("--cluster-host"))
                .put("members", new JsonArray(Arrays.asList(options.get("--cluster-members").split(",")))));
        ServerConfig settings = ServerConfig.parse(Configuration.load(Path.of(options.get("--conf")), System.getenv(),
                flags));
        int[] slots = Arrays.stream(options.get("--slots").split(",")).mapToInt(Integer::parseInt).toArray();
        Cluster.Node node = Cluster.startWorkerNode(settings.cluster(), settings.job().job()).toCompletionStage().toCompletableFuture()
                .get(STEP_S, TimeUnit.SECONDS);
        WorkerHostMain host = new WorkerHostMain(node, settings, Long.parseLong(options.get("--seed")), slots,
                Path.of(options.get("--out")));
        System.out.println("member " + node.member());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            String[] command = line.trim().split(" ");
            try {
                switch (command[0]) {
                    case "join" -> host.join(command[1]);
                    case "round" -> host.round(Long.parseLong(command[1]));
                    case "leave" -> host.leave();
                    default -> System.out.println("error unknown command '" + line + "'");
                }
            } catch (Exception e) {
                System.out.println("error " + line + ": " + e);
            }
            System.out.flush();
        }
        host.leave();
        node.vertx().close().toCompletionStage().toCompletableFuture().get(STEP_S, TimeUnit.SECONDS);
        System.exit(0);
    }

    /** Finds JOB's server in the cluster, opens a data link to it and joins every slot. */
    private void join(String name) throws Exception {
        leave();
        jobName = name;
        await(JobServer.find(node, name, serverWaitMs));
        link = await(LinkClient.connect(node.vertx(), name, secret));
        for (int slot : slots) {
            SlotWorker worker = new SlotWorker(name, slot, job.dim(), link);
            await(node.vertx().deployVerticle(worker));
            workers.add(worker);
        }
        System.out.println("joined " + name);
    }

    /** Every slot exchanges round R at once (or the round it retried at); one line per slot, then "done R". */
    private void round(long round) throws Exception {
        List<Future<Worker.Aggregate>> exchanges = new ArrayList<>();
        for (SlotWorker worker : workers) {
            exchanges.add(worker.step(round, r -> {
                float[] gradient = new float[(int) job.dim()];
                fleet.trueGradient(r, worker.slot, 0, gradient.length, gradient);
                return gradient;
            }));
        }
        for (int k = 0; k < workers.size(); k++) {
            int slot = workers.get(k).slot;
            long exchanged = round;
            String result;
            try {
                Worker.Aggregate aggregate = await(exchanges.get(k));
                exchanged = aggregate.round();
                write(out.resolve(jobName + "-r" + exchanged + "-s" + slot + ".f32"), aggregate.values());
                result = aggregate.included() ? "included" : "left out"; // a straggler or excluded: not a participant
            } catch (Exception e) {
                result = "failed: " + (e.getCause() != null ? e.getCause() : e);
            }
            System.out.println("slot " + slot + " round " + exchanged + " " + result);
        }
        System.out.println("done " + round);
    }

    private void leave() throws Exception {
        for (SlotWorker worker : workers) {
            await(node.vertx().undeploy(worker.deploymentID()).recover(e -> Future.succeededFuture()));
        }
        workers.clear();
        if (link != null) {
            await(link.close().recover(e -> Future.succeededFuture()));
            link = null;
            System.out.println("left");
        }
    }

    private static void write(Path file, float[] values) throws Exception {
        ByteBuffer bytes = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(values);
        Files.write(file, bytes.array());
    }

    private static <T> T await(Future<T> future) throws Exception {
        return future.toCompletionStage().toCompletableFuture().get(STEP_S, TimeUnit.SECONDS);
    }

    /** One slot's worker, a verticle so that it has an event-loop context of its own. */
    private static final class SlotWorker extends VerticleBase {
        final String job;
        final int slot;
        final long dim;
        final LinkClient link;
        Worker worker;

        SlotWorker(String job, int slot, long dim, LinkClient link) {
            this.job = job;
            this.slot = slot;
            this.dim = dim;
            this.link = link;
        }

        @Override
        public Future<?> start() {
            return Worker.join(vertx, job, "w" + slot, dim, slot, link).onSuccess(w -> worker = w);
        }

        @Override
        public Future<?> stop() {
            return worker == null ? Future.succeededFuture() : worker.close();
        }

        /**
         * Exchanges round R with the gradient {@code gradientOf} makes (on a worker thread); after an
         * {@link Worker.AggregatorLostException}, again at the worker's next round, at most {@link #MAX_RETRIES}
         * times.
         */
        Future<Worker.Aggregate> step(long round, LongFunction<float[]> gradientOf) {
            Promise<Worker.Aggregate> result = Promise.promise();
            context.runOnContext(v -> attempt(round, gradientOf, MAX_RETRIES).onComplete(result));
            return result.future();
        }

        private Future<Worker.Aggregate> attempt(long round, LongFunction<float[]> gradientOf, int retries) {
            return vertx.executeBlocking(() -> gradientOf.apply(round))
                    .compose(gradient -> worker.exchange(round, gradient))
                    .recover(e -> {
                        if (!(e instanceof Worker.AggregatorLostException) || retries == 0) {
                            return Future.failedFuture(e);
                        }
                        System.out.println("retry slot " + slot + " round " + round + ": " + e.getMessage());
                        long rejoins = worker.rejoins();
                        return worker.ready().compose(next -> {
                            if (worker.rejoins() > rejoins) {
                                System.out.println("rejoined " + job + " slot " + slot + " round " + next);
                            }
                            return attempt(next, gradientOf, retries - 1);
                        });
                    });
        }
    }
}
