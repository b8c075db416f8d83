package org.flagagg.ws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.flagagg.Await.await;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.flagagg.Await;
import org.flagagg.config.GatewayConfig;
import org.flagagg.config.JobConfig;
import org.flagagg.config.TokenTable;
import org.flagagg.engine.Engine;
import org.flagagg.link.LinkServer;
import org.flagagg.web.HttpApi;
import org.flagagg.wire.JobSecret;
import org.flagagg.worker.LinkClient;
import org.flagagg.worker.Worker;
import org.flagagg.worker.WsTransport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients need no change for a sharded job: the gateway and the data link forward each chunk to the shard
 * that owns its column, and every shard streams its columns back through them. A round of three shards with a
 * Python WebSocket worker, a Java WebSocket worker, a Java worker behind a data link and one on the bus.
 */
@ExtendWith(VertxExtension.class)
class ShardedClientsTest {
    private static final String PYTHON_WORKER = String.join("\n",
            "import sys, numpy as np, flagagg",
            "url, token, slot, gradient, out = sys.argv[1:6]",
            "with flagagg.Client(url, token, slot=int(slot)) as c:",
            "    c.exchange(c.next_round, np.fromfile(gradient, dtype='<f4')).astype('<f4').tofile(out)");

    @TempDir
    Path dir;

    @Test
    void pythonWebSocketLinkAndBusWorkersTakePartInAShardedRound(Vertx vertx) throws Exception {
        Path client = WsServer.pythonClient();

        JobConfig job = Engine.job(new JsonObject().put("workers", 4).put("shards", 3)
                .put("rule", new JsonObject().put("name", "flag")), dir);
        Map<String, String> tokens = Map.of("w1", TokenTable.newToken(), "w2", TokenTable.newToken());
        JobSecret secret = JobSecret.of("a sharded test's link secret");
        try (Engine engine = Engine.start(vertx, job)) {
            Gateway gateway = new Gateway(vertx, job, TokenTable.ofTokens(tokens), GatewayConfig.defaults());
            HttpApi api = new HttpApi(vertx);
            gateway.mount(api);
            HttpServer http = await(api.listen(gateway.serverOptions(new HttpServerOptions().setHost("127.0.0.1").setPort(0))));
            String url = gateway.url("127.0.0.1", http.actualPort());
            await(vertx.deployVerticle(new LinkServer(job, secret, "127.0.0.1", 0)));
            LinkClient node = await(LinkClient.connect(vertx, job.job(), secret));

            float[][] g = Engine.gradients(4, (int) job.dim(), 16);
            Path gradient = dir.resolve("g2.f32");
            ByteBuffer bytes = ByteBuffer.allocate(4 * g[2].length).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : g[2]) {
                bytes.putFloat(v);
            }
            Files.write(gradient, bytes.array());
            ProcessBuilder python = new ProcessBuilder("python3", "-c", PYTHON_WORKER, url, tokens.get("w2"), "2",
                    gradient.toString(), dir.resolve("a2.f32").toString()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("py.log").toFile());
            python.environment().put("PYTHONPATH", client.toString());
            Process pythonWorker = python.start();

            Engine.Client linked = engine.client("w0", 0, node);
            Context wsContext = vertx.getOrCreateContext();
            Worker ws = Await.get(Await.on(wsContext, () -> Worker.connect(vertx, url, tokens.get("w1"), job.dim(),
                    new WsTransport.Options().setSlot(1))));
            Engine.Client bus = engine.client("w3", 3);
            List<CompletableFuture<Worker.Aggregate>> results = List.of(linked.exchange(0, g[0]),
                    Await.on(wsContext, () -> ws.exchange(0, g[1])), bus.exchange(0, g[3]));

            float[] expected = engine.offline(g);
            for (CompletableFuture<Worker.Aggregate> result : results) {
                Engine.assertSameAggregate(Await.get(result).values(), expected);
            }
            assertThat(pythonWorker.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(pythonWorker.exitValue()).as(Files.readString(dir.resolve("py.log"))).isZero();
            java.nio.FloatBuffer aggregate = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("a2.f32")))
                    .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            float[] values = new float[aggregate.remaining()];
            aggregate.get(values);
            Engine.assertSameAggregate(values, expected);

            JsonObject record = Await.get(engine.recordOf(0));
            assertThat(record.getJsonArray("participants")).containsExactly("w0", "w1", "w2", "w3");
            // Every shard received its columns' chunks from all four workers: none went to the wrong shard.
            assertThat(record.getJsonObject("rejected").isEmpty()).isTrue();
            assertThat(record.getJsonArray("shards")).hasSize(3);
            for (int k = 0; k < 3; k++) {
                assertThat(record.getJsonArray("shards").getJsonObject(k).getLong("bytes_in")).isPositive();
            }
            await(node.close());
            await(http.close());
        }
    }
}
