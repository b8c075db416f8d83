package org.flagagg.hostile;

import static org.flagagg.Await.await;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.flagagg.Await;
import org.flagagg.config.JobConfig;
import org.flagagg.engine.Engine;
import org.flagagg.link.LinkServer;
import org.flagagg.link.RawNode;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.LinkRecords;
import org.flagagg.worker.LinkClient;
import org.flagagg.worker.Worker;

/**
 * Run in a small forked JVM by {@link LinkAttackTest}: the pre-HELLO allocation attack. Many connections to
 * the data link each send only a record length (a full chunk frame's, about 1 MiB) and a type byte, and never
 * authenticate; the server used to allocate every declared record at once. Then an honest node runs a round.
 * Prints "key=value" lines; exits 1 on any failure (an OutOfMemoryError included).
 *
 * <p>Arguments: tempDir connections.
 */
public final class LinkFloodMain {
    static final int CHUNK = 262_144;

    private LinkFloodMain() {
    }

    static long usedHeapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int connections = Integer.parseInt(args[1]);
        Vertx vertx = Vertx.vertx();
        int status = 1;
        try {
            JobConfig job = Engine.job(new JsonObject().put("workers", 2).put("dim", 2L * CHUNK)
                    .put("chunk_coords", CHUNK).put("memory_budget_mb", 8).put("slab_kib", 1024)
                    .put("rule", new JsonObject().put("name", "mean")), dir);
            JobSecret secret = JobSecret.of(RawNode.SECRET);
            try (Engine engine = Engine.start(vertx, job)) {
                LinkServer server = new LinkServer(job, secret, "127.0.0.1", 0);
                await(vertx.deployVerticle(server));
                long baseline = usedHeapAfterGc();
                System.out.println("heap_max_bytes=" + Runtime.getRuntime().maxMemory());
                System.out.println("declared_bytes=" + (long) connections * LinkRecords.maxRecord(CHUNK));

                // Every attacker sends 5 bytes: u32 length of a full FRAME record, then the FRAME type.
                byte[] opening = RawNode.concat(RawNode.le32(LinkRecords.maxRecord(CHUNK)), new byte[] {LinkRecords.FRAME});
                List<Socket> attackers = new ArrayList<>();
                for (int i = 0; i < connections; i++) {
                    Socket s = RawNode.open(server.actualPort());
                    s.getOutputStream().write(opening);
                    s.getOutputStream().flush();
                    attackers.add(s);
                }
                int refused = 0;
                String firstReason = null;
                for (Socket s : attackers) {
                    String reason = RawNode.refusal(RawNode.readUntilClosed(s.getInputStream()));
                    refused++;
                    firstReason = firstReason == null ? reason : firstReason;
                    s.close();
                }
                System.out.println("refused=" + refused);
                System.out.println("first_reason=" + firstReason);
                // Measured before the honest round, whose chunk-sized arrays the pools keep for the next.
                System.out.println("heap_growth_bytes=" + (usedHeapAfterGc() - baseline));

                // An honest node still gets in and its workers' round is right.
                LinkClient node = await(LinkClient.connect(vertx, job.job(), secret));
                Engine.Client w0 = engine.client("w0", 0, node);
                Engine.Client w1 = engine.client("w1", 1, node);
                float[][] g = Engine.gradients(2, (int) job.dim(), 7);
                CompletableFuture<Worker.Aggregate> a0 = w0.exchange(0, g[0]);
                CompletableFuture<Worker.Aggregate> a1 = w1.exchange(0, g[1]);
                float[] expected = engine.offline(g);
                Engine.assertSameAggregate(Await.get(a0).values(), expected);
                Engine.assertSameAggregate(Await.get(a1).values(), expected);
                System.out.println("honest_round=" + Await.get(engine.recordOf(0)).getString("status"));
                await(node.close());
                status = 0;
            }
        } catch (Throwable e) {
            e.printStackTrace();
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get();
        }
        System.out.flush();
        System.exit(status);
    }
}
