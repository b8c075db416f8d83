package org.flagagg.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.flagagg.Await.await;
import static org.flagagg.link.RawNode.concat;
import static org.flagagg.link.RawNode.le32;

import io.netty.buffer.Unpooled;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.flagagg.Await;
import org.flagagg.config.JobConfig;
import org.flagagg.engine.Deadlines;
import org.flagagg.engine.Engine;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.Codes;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.LinkRecords;
import org.flagagg.wire.LinkRecordsTest;
import org.flagagg.worker.LinkClient;
import org.flagagg.worker.Worker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Rounds whose gradient and aggregate chunks go over the data link (a {@link LinkServer} beside the
 * aggregator, {@link LinkClient}s as worker nodes), in one process on the loopback interface: against the
 * offline rule, mixed with event-bus workers, with a NaN, with garbage on the port and with a node that
 * goes away mid-round.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class LinkRoundTest {
    static final int CHUNK = 128;
    /** A slot no worker holds: a spy attached there sees every aggregate frame its node receives. */
    static final int SPY_SLOT = 1_000;

    /** The job secret of every link in these tests (RawNode authenticates with the same text). */
    static final JobSecret SECRET = JobSecret.of(RawNode.SECRET);

    @TempDir
    Path dir;

    /** Small jobs: 3000 coordinates in 24 chunks, the last one partial. */
    JobConfig job(JsonObject overrides) {
        return Engine.job(new JsonObject().put("dim", 3000).put("chunk_coords", CHUNK).mergeIn(overrides, true), dir);
    }

    /** Deploys the data link beside the engine's aggregator, on a free loopback port; returns the port. */
    static int deployLink(Vertx vertx, JobConfig job) throws Exception {
        LinkServer server = new LinkServer(job, SECRET, "127.0.0.1", 0);
        await(vertx.deployVerticle(server));
        return server.actualPort();
    }

    /** A worker node: finds the link over the bus, connects, waits for the WELCOME. */
    static LinkClient connect(Vertx vertx, JobConfig job) throws Exception {
        return await(LinkClient.connect(vertx, job.job(), SECRET));
    }

    static float[][] firstRows(float[][] g, int count) {
        return Arrays.copyOf(g, count);
    }

    /** Counts the aggregate frames one node received, per round and chunk. */
    static final class Spy implements LinkClient.Receiver {
        final Context context;
        final int chunks;
        final Map<Long, int[]> frames = new HashMap<>();
        final List<String> wrong = new ArrayList<>();

        Spy(Vertx vertx, int chunks) {
            this.context = vertx.getOrCreateContext();
            this.chunks = chunks;
        }

        static Spy attach(Vertx vertx, LinkClient node, JobConfig job) {
            Spy spy = new Spy(vertx, job.chunks());
            node.attach(SPY_SLOT, spy);
            return spy;
        }

        @Override
        public Context context() {
            return context;
        }

        @Override
        public synchronized Future<Void> aggregateChunk(ChunkFrame.Header h, float[] values) {
            if (h.kind() != ChunkFrame.KIND_AGGREGATE || h.chunkIndex() >= chunks
                    || h.offset() != (long) h.chunkIndex() * CHUNK || values.length < h.count()) {
                wrong.add(h.toString());
            } else {
                frames.computeIfAbsent(h.round(), r -> new int[chunks])[h.chunkIndex()]++;
            }
            return Future.succeededFuture();
        }

        synchronized int[] frames(long round) {
            return frames.getOrDefault(round, new int[chunks]).clone();
        }

        synchronized List<String> wrong() {
            return List.copyOf(wrong);
        }
    }

    static void assertEveryChunkOnce(Spy spy, long round) {
        assertThat(spy.wrong()).isEmpty();
        assertThat(spy.frames(round)).as("aggregate frames of round " + round + " per chunk, on this node")
                .hasSize(spy.chunks).containsOnly(1);
    }

    /** Worker w sends g[w] for the round; the futures of their aggregates, in worker order. */
    static List<CompletableFuture<Worker.Aggregate>> exchangeAll(List<Engine.Client> clients, long round,
            float[][] g) {
        List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
        for (int w = 0; w < clients.size(); w++) {
            results.add(clients.get(w).exchange(round, g[w]));
        }
        return results;
    }

    static void assertAggregates(List<CompletableFuture<Worker.Aggregate>> results, long round, float[] expected)
            throws Exception {
        for (CompletableFuture<Worker.Aggregate> result : results) {
            Worker.Aggregate a = Await.get(result);
            assertThat(a.round()).isEqualTo(round);
            assertThat(a.included()).isTrue();
            Engine.assertSameAggregate(a.values(), expected);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"flag", "mean"})
    void workersBehindOneLinkGetTheOfflineAggregateEachRound(String rule, Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 5).put("rule", new JsonObject().put("name", rule).put("f", 1)));
        try (Engine engine = Engine.start(vertx, job)) {
            deployLink(vertx, job);
            LinkClient node = connect(vertx, job);
            Spy spy = Spy.attach(vertx, node, job);
            List<Engine.Client> clients = new ArrayList<>();
            for (int w = 0; w < 5; w++) {
                clients.add(engine.client("w" + w, w, node));
            }
            for (long round = 0; round < 2; round++) {
                float[][] g = Engine.gradients(5, (int) job.dim(), 30 + round);
                assertAggregates(exchangeAll(clients, round, g), round, engine.offline(g));

                JsonObject record = Await.get(engine.recordOf(round));
                assertThat(record.getString("status")).isEqualTo("completed");
                assertThat(record.getString("rule")).isEqualTo(rule);
                assertThat(record.getString("trigger")).isEqualTo("all workers delivered");
                assertThat(record.getJsonArray("participants")).containsExactly("w0", "w1", "w2", "w3", "w4");
                // Every gradient chunk crossed the link once: none lost, none doubled.
                assertThat(record.getLong("chunks_in")).isEqualTo(5L * job.chunks());

                Await.get(engine.releasedOf(round));
                assertThat(engine.store.stats().bytesInMemory()).isZero();
                // The aggregate came once for the node's five workers: one stream, each chunk once.
                assertEveryChunkOnce(spy, round);
                assertThat(engine.aggregator.load().aggregateChunksSent()).isEqualTo((round + 1) * job.chunks());
                assertThat(engine.aggregator.load().aggregateChunksInFlight()).isZero();
                assertThat(engine.aggregator.load().chunksInProcess()).isZero();
            }
            await(node.close());
        }
    }

    @Test
    void twoNodesAndAnEventBusWorkerShareARound(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 5).put("rule", new JsonObject().put("name", "flag").put("f", 1)));
        try (Engine engine = Engine.start(vertx, job)) {
            deployLink(vertx, job);
            LinkClient a = connect(vertx, job);
            LinkClient b = connect(vertx, job);
            assertThat(a.relay()).isNotEqualTo(b.relay()).startsWith(new Addresses(job.job()).relayPrefix());
            Spy spyA = Spy.attach(vertx, a, job);
            Spy spyB = Spy.attach(vertx, b, job);
            List<Engine.Client> clients = List.of(engine.client("w0", 0, a), engine.client("w1", 1, a),
                    engine.client("w2", 2, b), engine.client("w3", 3, b), engine.client("w4", 4));
            for (long round = 0; round < 2; round++) {
                float[][] g = Engine.gradients(5, (int) job.dim(), 40 + round);
                assertAggregates(exchangeAll(clients, round, g), round, engine.offline(g));
                JsonObject record = Await.get(engine.recordOf(round));
                assertThat(record.getString("status")).isEqualTo("completed");
                assertThat(record.getJsonArray("participants")).containsExactly("w0", "w1", "w2", "w3", "w4");

                Await.get(engine.releasedOf(round));
                assertEveryChunkOnce(spyA, round);
                assertEveryChunkOnce(spyB, round);
                // Three streams: node A's relay, node B's relay, and the event-bus worker's own address.
                assertThat(engine.aggregator.load().aggregateChunksSent()).isEqualTo(3 * (round + 1) * job.chunks());
                assertThat(engine.store.stats().bytesInMemory()).isZero();
            }
            await(a.close());
            await(b.close());
        }
    }

    @Test
    void aWorkerSendingANaNOverTheLinkIsExcludedAndItsNodeGoesOn(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 5).put("quorum", 4));
        try (Engine engine = Engine.start(vertx, job)) {
            deployLink(vertx, job);
            LinkClient node = connect(vertx, job);
            List<Engine.Client> clients = new ArrayList<>();
            for (int w = 0; w < 5; w++) {
                clients.add(engine.client("w" + w, w, node));
            }
            float[][] g = Engine.gradients(5, (int) job.dim(), 50);
            float[] poisoned = g[4].clone();
            poisoned[3 * CHUNK + 7] = Float.NaN;
            List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                results.add(clients.get(w).exchange(0, g[w]));
            }
            CompletableFuture<Worker.Aggregate> faulty = clients.get(4).exchange(0, poisoned);

            float[] expected = engine.offline(firstRows(g, 4));
            assertAggregates(results, 0, expected);
            Worker.Aggregate excluded = Await.get(faulty);
            assertThat(excluded.included()).isFalse();
            assertThat(excluded.reason()).startsWith("excluded: non-finite value NaN at coordinate " + (3 * CHUNK + 7));
            Engine.assertSameAggregate(excluded.values(), expected);

            JsonObject record = Await.get(engine.recordOf(0));
            assertThat(record.getString("status")).isEqualTo("completed");
            assertThat(record.getJsonArray("participants")).containsExactly("w0", "w1", "w2", "w3");
            assertThat(record.getJsonObject("excluded").getString("w4"))
                    .isEqualTo("non-finite value NaN at coordinate " + (3 * CHUNK + 7));
            assertThat(record.getJsonObject("rejected").getInteger("non_finite")).isEqualTo(1);
            Await.get(engine.releasedOf(0));
            assertThat(engine.store.stats().bytesInMemory()).isZero();
        }
    }

    /** null when the chunk was accepted, else the code of the aggregator's refusal. */
    static Integer code(Future<Void> sent) throws Exception {
        try {
            await(sent);
            return null;
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(ReplyException.class);
            ReplyException refused = (ReplyException) e.getCause();
            assertThat(refused.failureType()).isEqualTo(ReplyFailure.RECIPIENT_FAILURE);
            return refused.failureCode();
        }
    }

    static Future<Void> sendChunk(LinkClient node, long round, int slot, int index, float[] gradient) {
        int offset = index * CHUNK;
        int count = Math.min(CHUNK, gradient.length - offset);
        return node.send(round, slot, index, offset, Arrays.copyOfRange(gradient, offset, offset + count), count);
    }

    @Test
    void refusalsFailSendWithTheAggregatorsCodeAndAClosedLinkFailsPendingSends(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 2).put("quorum", 1).put("dim", 1000));
        try (Engine engine = Engine.start(vertx, job)) {
            deployLink(vertx, job);
            LinkClient node = connect(vertx, job);
            float[][] g = Engine.gradients(2, (int) job.dim(), 60);

            assertThat(code(sendChunk(node, 0, 1, 0, g[1]))).as("slot 1 has not joined").isEqualTo(Codes.UNKNOWN_WORKER);
            Addresses addresses = new Addresses(job.job());
            for (int w = 0; w < 2; w++) {
                await(vertx.eventBus().request(addresses.join(), new JsonObject().put("worker", "w" + w)
                        .put("dim", job.dim()).put("slot", w).put("relay", node.relay())));
            }
            float[] poisoned = g[0].clone();
            poisoned[3] = Float.POSITIVE_INFINITY;
            Future<Void> bad = sendChunk(node, 0, 0, 0, poisoned);
            assertThat(code(bad)).isEqualTo(Codes.BAD_CHUNK);
            assertThat(bad.cause()).hasMessageContaining("non-finite value Infinity at coordinate 3");
            assertThat(code(sendChunk(node, 0, 0, 1, g[0]))).as("w0 is excluded").isEqualTo(Codes.EXCLUDED);
            for (int k = 0; k < job.chunks(); k++) {
                assertThat(code(sendChunk(node, 0, 1, k, g[1]))).as("chunk " + k + " of w1").isNull();
            }
            // w1 delivered, w0 is excluded: round 0 closes with w1 alone (quorum 1).
            JsonObject record = Await.get(engine.recordOf(0));
            assertThat(record.getString("status")).isEqualTo("completed");
            assertThat(record.getJsonArray("participants")).containsExactly("w1");
            assertThat(code(sendChunk(node, 0, 1, 0, g[1]))).as("round 0 is over").isEqualTo(Codes.ROUND_OVER);
            assertThat(code(sendChunk(node, 5, 1, 0, g[1]))).as("round 5 is ahead").isEqualTo(Codes.TOO_EARLY);
            assertThat(code(sendChunk(node, 1, 1, 0, g[1]))).isNull();
            assertThat(code(sendChunk(node, 2, 1, 0, g[1]))).isNull();
            assertThat(code(sendChunk(node, 3, 1, 0, g[1]))).as("max_open_rounds is 2").isEqualTo(Codes.TOO_MANY);

            // Closing the node settles every send still waiting for its ACK: none is left hanging.
            List<Future<Void>> pending = new ArrayList<>();
            for (int k = 1; k < job.chunks(); k++) {
                pending.add(sendChunk(node, 2, 1, k, g[1]));
            }
            await(node.close());
            for (Future<Void> sent : pending) {
                await(sent.recover(e -> Future.succeededFuture())); // completes, whatever the outcome
                assertThat(sent.isComplete()).isTrue();
                if (sent.failed() && !(sent.cause() instanceof ReplyException)) {
                    assertThat(sent.cause()).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
                }
            }
            Future<Void> afterClose = sendChunk(node, 2, 1, 1, g[1]);
            assertThat(afterClose.failed()).as("a send on a closed link fails at once").isTrue();
            assertThat(afterClose.cause()).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }
    }

    static Stream<Arguments> garbage() {
        int max = LinkRecords.readLimit(CHUNK);
        return Stream.of(
                Arguments.of("length 0xFFFFFFFF", concat(le32(0xFFFFFFFFL), new byte[] {2, 0, 0, 0, 0})),
                Arguments.of("length 0", concat(le32(0), new byte[16])),
                Arguments.of("length 4, under 5", concat(le32(4), new byte[] {2, 0, 0, 0})),
                Arguments.of("length over the read limit", concat(le32(max + 1), new byte[] {2})),
                Arguments.of("an HTTP request", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII)),
                Arguments.of("an unknown record type", RawNode.record(9, 0, new byte[0])),
                Arguments.of("a WELCOME from the node", LinkRecordsTest.drain(LinkRecords.welcome("{}"))),
                Arguments.of("a second HELLO", RawNode.hello(LinkRecords.VERSION)),
                Arguments.of("an ACK for no aggregate frame", LinkRecordsTest.drain(LinkRecords.ack(42, 0, null))));
    }

    static Stream<Arguments> badOpenings() {
        return Stream.of(
                Arguments.of("a FRAME before HELLO", LinkRecordsTest.drain(LinkRecords.frame(Unpooled.buffer(), 0, ChunkFrame.KIND_GRADIENT,
                        0, 0, 0, 0, new float[CHUNK], CHUNK))),
                Arguments.of("an ACK before HELLO", RawNode.ack(0, 0)),
                Arguments.of("a HELLO for version 1", RawNode.hello(1)),
                Arguments.of("a HELLO for another job", RawNode.hello(LinkRecords.VERSION, "other", "ab".repeat(32))),
                Arguments.of("a HELLO without a nonce", RawNode.record(LinkRecords.HELLO, 0,
                        ("{\"version\":" + LinkRecords.VERSION + ",\"job\":\"default\"}").getBytes(StandardCharsets.UTF_8))),
                Arguments.of("a HELLO that is not JSON", RawNode.record(LinkRecords.HELLO, 0, new byte[] {'{'})));
    }

    /** The server answers only a HELLO it understands: anything else first gets a BYE with the reason, and the close. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("badOpenings")
    void aNodeMustOpenWithAHelloOfThisVersion(String what, byte[] opening, Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 2).put("dim", 1000).put("rule", new JsonObject().put("name", "mean")));
        try (Engine engine = Engine.start(vertx, job)) {
            int port = deployLink(vertx, job);
            try (java.net.Socket raw = RawNode.open(port)) {
                raw.getOutputStream().write(opening);
                raw.getOutputStream().flush();
                assertThat(RawNode.refusal(RawNode.readUntilClosed(raw.getInputStream())))
                        .as("the refusal after " + what).startsWith(Codes.BAD_REQUEST + " ");
            }
            // A proper node still gets in.
            try (RawNode ok = RawNode.connect(port, job.job())) {
                assertThat(ok.welcome.getInteger("version")).isEqualTo(LinkRecords.VERSION);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("garbage")
    void garbageOnTheLinkPortClosesThatConnectionOnly(String what, byte[] garbage, Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 2).put("dim", 1000).put("rule", new JsonObject().put("name", "mean")));
        try (Engine engine = Engine.start(vertx, job)) {
            int port = deployLink(vertx, job);
            LinkClient node = connect(vertx, job);
            List<Engine.Client> clients = List.of(engine.client("w0", 0, node), engine.client("w1", 1, node));

            try (RawNode raw = RawNode.connect(port, job.job())) {
                assertThat(raw.welcome.getInteger("version")).isEqualTo(LinkRecords.VERSION);
                assertThat(raw.welcome.getInteger("max_record")).isEqualTo(LinkRecords.maxRecord(CHUNK));
                assertThat(raw.welcome.getString("relay")).startsWith(new Addresses(job.job()).relayPrefix())
                        .isNotEqualTo(node.relay());
                raw.write(garbage);
                assertThat(RawNode.refusal(raw.readUntilClosed())).as("the refusal after " + what)
                        .startsWith(Codes.BAD_REQUEST + " ");
            }

            // The aggregator and the other node's connection are untouched.
            float[][] g = Engine.gradients(2, (int) job.dim(), 70);
            List<CompletableFuture<Worker.Aggregate>> results = List.of(clients.get(0).exchange(0, g[0]),
                    clients.get(1).exchange(0, g[1]));
            assertAggregates(results, 0, engine.offline(g));
            assertThat(Await.get(engine.recordOf(0)).getString("status")).isEqualTo("completed");
            await(node.close());
        }
    }

    @Test
    void aNodeClosedMidExchangeLeavesTheRoundToTheOtherNodeAndCanComeBack(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 4).put("quorum", 2)
                .put("deadline", new JsonObject().put("mode", "fixed").put("min_ms", 100).put("max_ms", 1000)));
        // The deadline also waits for node A's two workers, however long a loaded machine makes them take.
        try (Engine engine = Engine.start(vertx, job, Deadlines.waitingFor(2))) {
            deployLink(vertx, job);
            LinkClient a = connect(vertx, job);
            LinkClient b = connect(vertx, job);
            List<Engine.Client> clients = new ArrayList<>(List.of(engine.client("w0", 0, a), engine.client("w1", 1, a),
                    engine.client("w2", 2, b), engine.client("w3", 3, b)));
            float[][] g = Engine.gradients(4, (int) job.dim(), 80);
            // Node B goes away when either of its workers is about to send chunk `cut`: neither gets further.
            int cut = job.credits() + 2;
            assertThat(cut).isLessThan(job.chunks());
            List<CompletableFuture<Worker.Aggregate>> onA = List.of(clients.get(0).exchange(0, g[0]),
                    clients.get(1).exchange(0, g[1]));
            List<CompletableFuture<Worker.Aggregate>> onB = new ArrayList<>();
            for (int w = 2; w < 4; w++) {
                float[] gradient = g[w];
                Engine.Client client = clients.get(w);
                onB.add(Await.on(client.context(), () -> client.worker().exchange(0, (offset, count, dst) -> {
                    if (offset >= (long) cut * CHUNK) {
                        b.close();
                    }
                    System.arraycopy(gradient, (int) offset, dst, 0, count);
                }, (offset, values, count) -> {
                })));
            }

            // B's workers learn at once that their chunks cannot go: their exchanges fail, they do not hang.
            for (CompletableFuture<Worker.Aggregate> f : onB) {
                assertThatThrownBy(() -> Await.get(f)).isInstanceOf(ExecutionException.class)
                        .cause().isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("data link").hasMessageContaining("closed");
            }
            Future<Void> late = sendChunk(b, 0, 2, cut, g[2]);
            assertThat(late.failed()).isTrue();
            assertThat(late.cause()).isInstanceOf(IllegalStateException.class);

            // A's workers get the aggregate of A's gradients when the deadline closes the round.
            assertAggregates(onA, 0, engine.offline(firstRows(g, 2)));
            JsonObject record = Await.get(engine.recordOf(0));
            assertThat(record.getString("status")).isEqualTo("completed");
            assertThat(record.getString("trigger")).startsWith("deadline");
            assertThat(record.getJsonArray("participants")).containsExactly("w0", "w1");
            assertThat(record.getJsonObject("excluded")).isEmpty();
            JsonArray stragglers = record.getJsonArray("stragglers");
            assertThat(stragglers).hasSize(2);
            for (int k = 0; k < 2; k++) {
                JsonObject s = stragglers.getJsonObject(k);
                assertThat(s.getString("worker")).isEqualTo("w" + (k + 2));
                assertThat(s.getInteger("chunks")).isBetween(0, cut);
                assertThat(s.getInteger("of")).isEqualTo(job.chunks());
            }
            // Its chunks (B's partial gradients included) are freed though B's relay is gone.
            Await.get(engine.releasedOf(0));
            assertThat(engine.store.stats().bytesInMemory()).isZero();
            assertThat(engine.aggregator.load().aggregateChunksInFlight()).isZero();
            assertThat(engine.aggregator.load().chunksInProcess()).isZero();

            // Node B comes back with a new connection; its workers join again through it and round 1 is whole.
            for (int w = 2; w < 4; w++) {
                Engine.Client old = clients.get(w);
                Await.get(Await.on(old.context(), () -> old.worker().close()));
            }
            LinkClient b2 = connect(vertx, job);
            clients.set(2, engine.client("w2", 2, b2));
            clients.set(3, engine.client("w3", 3, b2));
            float[][] next = Engine.gradients(4, (int) job.dim(), 81);
            List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                results.add(clients.get(w).exchange(1, next[w]));
            }
            assertAggregates(results, 1, engine.offline(next));
            JsonObject whole = Await.get(engine.recordOf(1));
            assertThat(whole.getString("trigger")).isEqualTo("all workers delivered");
            assertThat(whole.getJsonArray("participants")).containsExactly("w0", "w1", "w2", "w3");
            Await.get(engine.releasedOf(1));
            assertThat(engine.store.stats().bytesInMemory()).isZero();
            await(a.close());
            await(b2.close());
        }
    }

    @Test
    void aNodeClosedWhileItsWorkersReceiveTheAggregateFailsTheirExchanges(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 4));
        try (Engine engine = Engine.start(vertx, job)) {
            deployLink(vertx, job);
            LinkClient a = connect(vertx, job);
            LinkClient b = connect(vertx, job);
            List<Engine.Client> clients = List.of(engine.client("w0", 0, a), engine.client("w1", 1, a),
                    engine.client("w2", 2, b), engine.client("w3", 3, b));
            float[][] g = Engine.gradients(4, (int) job.dim(), 90);
            List<CompletableFuture<Worker.Aggregate>> onA = List.of(clients.get(0).exchange(0, g[0]),
                    clients.get(1).exchange(0, g[1]));
            // B's workers send their whole gradient, then hold the aggregate chunks they get (slow readers)
            // until B has closed: the node cannot ACK them, so it is mid-aggregate when it closes.
            CompletableFuture<Void> firstChunkOnB = new CompletableFuture<>();
            Promise<Void> closedB = Promise.promise();
            List<CompletableFuture<Worker.Aggregate>> onB = new ArrayList<>();
            for (int w = 2; w < 4; w++) {
                float[] gradient = g[w];
                Engine.Client client = clients.get(w);
                onB.add(Await.on(client.context(), () -> client.worker().exchange(0,
                        (offset, count, dst) -> System.arraycopy(gradient, (int) offset, dst, 0, count),
                        (offset, values, count) -> {
                            firstChunkOnB.complete(null);
                            return closedB.future();
                        }, Future.succeededFuture())));
            }
            JsonObject record = Await.get(engine.recordOf(0));
            assertThat(record.getString("trigger")).isEqualTo("all workers delivered");
            assertAggregates(onA, 0, engine.offline(g));
            Await.get(firstChunkOnB);
            assertThat(onB).noneMatch(CompletableFuture::isDone);

            await(b.close());
            closedB.complete(); // B's workers now wait on nothing but the link
            // The rest of the aggregate can no longer reach them: their exchanges fail now, not at their timeout.
            for (CompletableFuture<Worker.Aggregate> f : onB) {
                assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                        .cause().isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("data link").hasMessageContaining("closed");
            }
            // The aggregator gives B's stream up at once (its unacknowledged frames fail with 410) and frees
            // the round: well before result_timeout_ms (30 s), which would free it too.
            engine.releasedOf(0).get(10, TimeUnit.SECONDS);
            assertThat(engine.store.stats().bytesInMemory()).isZero();
            assertThat(engine.aggregator.load().aggregateChunksInFlight()).isZero();
            assertThat(engine.aggregator.load().aggregateChunksSent()).isEqualTo(job.chunks());
            await(a.close());
        }
    }

    /**
     * Joins slot 0 for a raw node (its aggregate goes to the node's relay) and answers slot 0's summaries on
     * the bus, as a worker of that node would; the summary of the round comes out.
     */
    static CompletableFuture<JsonObject> joinRaw(Vertx vertx, JobConfig job, RawNode node) throws Exception {
        Addresses addresses = new Addresses(job.job());
        CompletableFuture<JsonObject> summary = new CompletableFuture<>();
        await(vertx.eventBus().consumer(addresses.results(0), m -> {
            if (m.body() instanceof JsonObject s) {
                m.reply(null);
                summary.complete(s);
            } else {
                m.fail(Codes.BAD_REQUEST, "the raw node's aggregate comes over its link");
            }
        }).completion());
        await(vertx.eventBus().request(addresses.join(), new JsonObject().put("worker", "raw").put("dim", job.dim())
                .put("slot", 0).put("relay", node.welcome.getString("relay"))));
        return summary;
    }

    /** Sends the raw node's gradient one FRAME record at a time, each answered by an ACK with code 0. */
    static void sendGradient(RawNode node, JobConfig job, long round, float[] gradient) throws Exception {
        for (int k = 0; k < job.chunks(); k++) {
            int offset = k * CHUNK;
            int count = Math.min(CHUNK, gradient.length - offset);
            int seq = 100 + k;
            node.write(RawNode.record(LinkRecords.FRAME, seq,
                    ChunkFrame.toBytes(ChunkFrame.KIND_GRADIENT, round, 0, k, offset, gradient, offset, count)));
            RawNode.Rec ack = node.read();
            assertThat(ack.type()).isEqualTo(LinkRecords.ACK);
            assertThat(ack.seq()).isEqualTo(seq);
            assertThat(ack.code()).as(ack.text()).isZero();
            assertThat(ack.body()).as("an accepting ACK has no reason").hasSize(4);
        }
    }

    @Test
    void aNodeWrittenFromTheRecordLayoutAloneGetsTheAggregate(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 2).put("dim", 1000).put("rule", new JsonObject().put("name", "mean")));
        try (Engine engine = Engine.start(vertx, job); RawNode node = RawNode.connect(deployLink(vertx, job), job.job())) {
            CompletableFuture<JsonObject> summary = joinRaw(vertx, job, node);
            Engine.Client busWorker = engine.client("w1", 1);
            float[][] g = Engine.gradients(2, (int) job.dim(), 100);
            CompletableFuture<Worker.Aggregate> other = busWorker.exchange(0, g[1]);
            sendGradient(node, job, 0, g[0]);

            assertThat(Await.get(summary).getInteger("chunks")).isEqualTo(job.chunks());
            float[] aggregate = new float[(int) job.dim()];
            boolean[] seen = new boolean[job.chunks()];
            for (int k = 0; k < job.chunks(); k++) {
                RawNode.Rec frame = node.read();
                assertThat(frame.type()).isEqualTo(LinkRecords.FRAME);
                ChunkFrame.Header h = ChunkFrame.parse(frame.body(), 0, frame.body().length);
                assertThat(h.kind()).isEqualTo(ChunkFrame.KIND_AGGREGATE);
                assertThat(h.round()).isZero();
                assertThat(seen[h.chunkIndex()]).as("chunk " + h.chunkIndex() + " twice").isFalse();
                seen[h.chunkIndex()] = true;
                float[] values = new float[h.count()];
                ChunkFrame.readPayload(java.nio.ByteBuffer.wrap(frame.body()), h, values, 0);
                System.arraycopy(values, 0, aggregate, (int) h.offset(), h.count());
                node.write(RawNode.ack(frame.seq(), 0));
            }
            float[] expected = engine.offline(g);
            Engine.assertSameAggregate(aggregate, expected);
            Engine.assertSameAggregate(Await.get(other).values(), expected);
            Await.get(engine.releasedOf(0));
            assertThat(engine.aggregator.load().aggregateChunksSent()).isEqualTo(2L * job.chunks());
            assertThat(engine.store.stats().bytesInMemory()).isZero();
        }
    }

    @Test
    void anAckWithoutItsCodeClosesTheConnectionAndTheAggregatorGivesUpAtOnce(Vertx vertx) throws Exception {
        // result_timeout_ms is 30 s: a frame left unanswered would hold the round that long.
        JobConfig job = job(new JsonObject().put("workers", 1).put("dim", 1000).put("rule", new JsonObject().put("name", "mean")));
        try (Engine engine = Engine.start(vertx, job); RawNode node = RawNode.connect(deployLink(vertx, job), job.job())) {
            CompletableFuture<JsonObject> summary = joinRaw(vertx, job, node);
            sendGradient(node, job, 0, Engine.gradients(1, (int) job.dim(), 110)[0]);
            assertThat(Await.get(summary).getString("status")).isEqualTo("completed");
            RawNode.Rec frame = node.read();
            assertThat(frame.type()).isEqualTo(LinkRecords.FRAME);

            node.write(RawNode.record(LinkRecords.ACK, frame.seq(), new byte[0]));
            node.readUntilClosed();
            engine.releasedOf(0).get(10, TimeUnit.SECONDS);
            assertThat(engine.store.stats().bytesInMemory()).isZero();
            assertThat(engine.aggregator.load().aggregateChunksInFlight()).isZero();
        }
    }

    @Test
    void smallChunksRefusedWithLongReasonsKeepTheLinkUp(Vertx vertx) throws Exception {
        // max_record is 5 + 40 + 4 x 4 = 61 bytes: less than an ACK carrying a refusal's reason.
        JobConfig job = Engine.job(new JsonObject().put("workers", 3).put("quorum", 2).put("dim", 200).put("chunk_coords", 4), dir);
        try (Engine engine = Engine.start(vertx, job)) {
            deployLink(vertx, job);
            LinkClient node = connect(vertx, job);
            List<Engine.Client> clients = new ArrayList<>();
            for (int w = 0; w < 3; w++) {
                clients.add(engine.client("w" + w, w, node));
            }
            float[][] g = Engine.gradients(3, (int) job.dim(), 120);
            float[] poisoned = g[2].clone();
            poisoned[1] = Float.NaN;
            List<CompletableFuture<Worker.Aggregate>> results = List.of(clients.get(0).exchange(0, g[0]),
                    clients.get(1).exchange(0, g[1]));
            CompletableFuture<Worker.Aggregate> faulty = clients.get(2).exchange(0, poisoned);
            float[] expected = engine.offline(firstRows(g, 2));
            assertAggregates(results, 0, expected);
            assertThat(Await.get(faulty).included()).isFalse();
            // Refusals whose reasons are longer than a chunk's record arrive as such, on a link still up.
            Future<Void> misplaced = node.send(1, 0, 0, 8, Arrays.copyOf(g[0], 4), 4);
            assertThat(code(misplaced)).isEqualTo(Codes.BAD_CHUNK);
            assertThat(misplaced.cause().getMessage()).startsWith("wrong shape")
                    .hasSizeGreaterThan(LinkRecords.maxRecord(4));
            Future<Void> after = node.send(1, 0, 1, 4, Arrays.copyOf(g[0], 4), 4);
            assertThat(code(after)).isEqualTo(Codes.EXCLUDED);
            assertThat(after.cause().getMessage()).hasSizeGreaterThan(LinkRecords.maxRecord(4));
        }
    }

    @Test
    void undeployingTheLinkServerClosesItsConnections(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 1).put("rule", new JsonObject().put("name", "mean")));
        try (Engine engine = Engine.start(vertx, job)) {
            String link = await(vertx.deployVerticle(new LinkServer(job, SECRET, "127.0.0.1", 0)));
            LinkClient node = connect(vertx, job);
            Engine.Client client = engine.client("w0", 0, node);
            await(vertx.undeploy(link));
            CompletableFuture<Worker.Aggregate> f = client.exchange(0, Engine.gradients(1, (int) job.dim(), 130)[0]);
            assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(IllegalStateException.class).hasMessageContaining("data link");
            assertThatThrownBy(() -> await(LinkClient.connect(vertx, job.job(), SECRET)))
                    .as("no link announced any more").isInstanceOf(ExecutionException.class);
        }
    }
}
