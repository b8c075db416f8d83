package org.flagagg.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.flagagg.Await.await;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.flagagg.Await;
import org.flagagg.config.Configuration;
import org.flagagg.config.InputException;
import org.flagagg.config.JobConfig;
import org.flagagg.config.ServerConfig;
import org.flagagg.round.Warmup;
import org.flagagg.worker.Worker;
import org.flagagg.wire.JobSecret;
import org.flagagg.worker.Worker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The composition root: builds the parts it is asked for, refuses a bad configuration with one line, leaves nothing behind. */
class ServerTest {
    @TempDir
    Path dir;
    private final Vertx vertx = Vertx.vertx();

    @AfterEach
    void close() throws Exception {
        await(vertx.close());
    }

    /** A small job over the packaged defaults, on free ports, with {@code overrides} laid over it. */
    private ServerConfig config(JsonObject overrides) {
        JsonObject json = Configuration.defaults().mergeIn(new JsonObject()
                .put("workers", 2).put("dim", 1000).put("chunk_coords", 256).put("memory_budget_mb", 8)
                .put("slab_kib", 64).put("spill_dir", dir.resolve("spill").toString()).put("round_log", "")
                .put("http", new JsonObject().put("port", 0)), true).mergeIn(overrides, true);
        return ServerConfig.parse(json);
    }

    @Test
    void deploysTheAskedPartsAndUndeploysThemAtClose() throws Exception {
        Server server = await(Server.deploy(vertx, config(new JsonObject()), new Server.Parts(true, true, false),
                JobSecret.random()));
        assertThat(server.httpPort()).isPositive();
        assertThat(server.linkPort()).isPositive();
        assertThat(server.workersUrl()).isEqualTo("ws://127.0.0.1:" + server.httpPort() + "/v1/workers");
        assertThat(vertx.deploymentIDs()).hasSize(2);
        await(server.close());
        assertThat(vertx.deploymentIDs()).isEmpty();

        Server engine = await(Server.deploy(vertx, config(new JsonObject()).job()));
        assertThat(engine.httpPort()).isEqualTo(-1);
        assertThat(engine.linkPort()).isEqualTo(-1);
        assertThat(vertx.deploymentIDs()).hasSize(1);
        await(engine.close());
        assertThat(vertx.deploymentIDs()).isEmpty();

        // Started on its own Vert.x (the server command), everything; closing stops that Vert.x.
        Server started = await(Server.start(config(new JsonObject()), false));
        assertThat(started.httpPort()).isPositive();
        assertThat(started.linkPort()).isEqualTo(-1);
        assertThat(started.node().member()).isNull();
        assertThat(started.vertx().deploymentIDs()).hasSize(1);
        await(started.close());
        assertThatThrownBy(() -> started.vertx().deployVerticle(new io.vertx.core.VerticleBase() { }).await())
                .as("a closed Vert.x deploys nothing").isNotNull();
    }

    /**
     * With jit_warmup on, the server is ready only after the warm-up ran, on a worker thread; with it off none
     * runs; and the round's aggregate is the same bits either way. flag at p = 11 is this test's own (the
     * warm-up runs once per JVM for a rule and p).
     */
    @Test
    void theJitWarmupRunsOffTheEventLoopOnlyWhenOnAndLeavesTheAggregateBitIdentical() throws Exception {
        int p = 11;
        float[][] gradients = org.flagagg.engine.Engine.gradients(p, 3000, 5);
        JsonObject job = new JsonObject().put("workers", p).put("dim", 3000).put("chunk_coords", 1024)
                .put("rule", new JsonObject().put("name", "flag"));

        Server cold = await(Server.deploy(vertx, config(job.copy().put("job", "cold").put("jit_warmup", false)),
                Server.Parts.ENGINE, null));
        assertThat(Warmup.reportOf("flag", p)).as("jit_warmup false runs none").isNull();
        float[] off = round(cold, gradients);
        await(cold.close());

        Server warm = await(Server.deploy(vertx, config(job.copy().put("job", "warm")), Server.Parts.ENGINE, null));
        Warmup.Report report = Warmup.reportOf("flag", p);
        assertThat(report).as("done before the server is ready").isNotNull();
        assertThat(report.thread()).startsWith("vert.x-worker-thread").doesNotContain("eventloop");
        float[] on = round(warm, gradients);
        await(warm.close());

        assertThat(on).containsExactly(off);
        assertThat(on).isNotEqualTo(new float[on.length]);
    }

    /** Round 0 of {@code server}'s job with one event-bus worker per row of {@code gradients}: the aggregate. */
    private float[] round(Server server, float[][] gradients) throws Exception {
        JobConfig job = server.job();
        List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
        for (int slot = 0; slot < gradients.length; slot++) {
            Context context = vertx.getOrCreateContext();
            int s = slot;
            Worker worker = Await.get(Await.on(context, () -> Worker.join(vertx, job.job(), "w" + s, job.dim(), s)));
            results.add(Await.on(context, () -> worker.exchange(0, gradients[s])));
        }
        float[] aggregate = Await.get(results.get(0)).values();
        for (CompletableFuture<Worker.Aggregate> result : results) {
            assertThat(Await.get(result).values()).containsExactly(aggregate);
        }
        return aggregate;
    }

    @Test
    void aBadValueIsOneLineNamingItsKey() {
        assertThatThrownBy(() -> config(new JsonObject().put("quorum", 3)))
                .isInstanceOf(InputException.class).hasMessage("quorum must be in 1..workers (2), got 3");
        assertThatThrownBy(() -> config(new JsonObject().put("rule", new JsonObject().put("name", "nope"))))
                .isInstanceOf(InputException.class).message().doesNotContain("\n").contains("nope");
    }

    @Test
    void aMissingFileIsRefusedBeforeAnythingIsDeployed() {
        Path missing = dir.resolve("no-such-tokens");
        ServerConfig config = config(new JsonObject().put("ws", new JsonObject().put("tokens", missing.toString())));
        assertThatThrownBy(() -> Server.deploy(vertx, config, new Server.Parts(false, true, false), null).await())
                .hasMessage(missing + ": no such tokens file");
        assertThat(vertx.deploymentIDs()).isEmpty();
        // A clustered server needs the job secret: refused before Vert.x starts.
        assertThatThrownBy(() -> Server.start(config(new JsonObject()), true).await())
                .isInstanceOf(InputException.class).message().startsWith("--cluster needs the job secret")
                .doesNotContain("\n");
    }

    @Test
    void aTakenPortIsOneLineAndUndoesWhatWasDeployed() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            ServerConfig config = config(new JsonObject().put("http", new JsonObject().put("port", port)));
            assertThatThrownBy(() -> Server.deploy(vertx, config, new Server.Parts(false, true, false), null).await())
                    .isInstanceOf(InputException.class)
                    .hasMessageStartingWith("cannot listen on 127.0.0.1:" + port + " for the HTTP server: address already in use");
            assertThat(vertx.deploymentIDs()).isEmpty();
            // Started on its own Vert.x, the server closes it again.
            assertThatThrownBy(() -> Server.start(config, false).await())
                    .isInstanceOf(InputException.class)
                    .hasMessageStartingWith("cannot listen on 127.0.0.1:" + port + " for the HTTP server: address already in use");
        }
    }
    @Test
    void aShardedJobRunsItsShardsBesideTheCoordinatorAndAWorkerNeedsNothingMore() throws Exception {
        Server server = await(Server.deploy(vertx, config(new JsonObject().put("shards", 2)
                .put("rule", new JsonObject().put("name", "mean"))).job()));
        assertThat(vertx.deploymentIDs()).hasSize(2);
        float[] g0 = new float[1000];
        float[] g1 = new float[1000];
        for (int k = 0; k < 1000; k++) {
            g0[k] = k;
            g1[k] = 3 * k;
        }
        Worker w0 = await(Worker.join(vertx, server.job().job(), "w0", 1000, 0));
        Worker w1 = await(Worker.join(vertx, server.job().job(), "w1", 1000, 1));
        var a0 = w0.exchange(0, g0);
        var a1 = w1.exchange(0, g1);
        // The mean of k and 3k, coordinate by coordinate, whichever shard computed it.
        float[] mean = await(a0).values();
        assertThat(await(a1).values()).isEqualTo(mean);
        for (int k = 0; k < 1000; k += 97) {
            assertThat((double) mean[k]).isCloseTo(2.0 * k, org.assertj.core.data.Offset.offset(1e-3 * (k + 1)));
        }
        await(server.close());
        assertThat(vertx.deploymentIDs()).isEmpty();
    }
}
