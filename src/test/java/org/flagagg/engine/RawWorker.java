package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.flagagg.Await;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.ShardPlan;

/**
 * A test worker that speaks the bus protocol by hand: it sends whatever frames a test builds (valid, shuffled,
 * corrupt) and collects the summary and aggregate chunks the aggregator streams back.
 */
public final class RawWorker {

    final Vertx vertx;
    final Addresses addresses;
    public final int slot;
    public final JsonObject session;
    final Map<Long, Result> results = new ConcurrentHashMap<>();
    private MessageConsumer<Object> consumer;

    /** What came back for one round. */
    public static final class Result {
        public final CompletableFuture<JsonObject> summary = new CompletableFuture<>();
        public final CompletableFuture<float[]> aggregate = new CompletableFuture<>();
        float[] values;
        int chunks;
    }

    private RawWorker(Vertx vertx, String job, JsonObject session) {
        this.vertx = vertx;
        this.addresses = new Addresses(job);
        this.slot = session.getInteger("slot");
        this.session = session;
    }

    public static RawWorker join(Vertx vertx, String job, String id, long dim, int slot) throws Exception {
        JsonObject request = new JsonObject().put("worker", id).put("dim", dim);
        if (slot >= 0) {
            request.put("slot", slot);
        }
        JsonObject reply = vertx.eventBus().<JsonObject>request(new Addresses(job).join(), request).map(Message::body)
                .toCompletionStage().toCompletableFuture().get(Await.WAIT_S, TimeUnit.SECONDS);
        RawWorker worker = new RawWorker(vertx, job, reply);
        worker.consumer = vertx.eventBus().consumer(worker.addresses.results(worker.slot), worker::onResult);
        worker.consumer.completion().toCompletionStage().toCompletableFuture().get(Await.WAIT_S, TimeUnit.SECONDS);
        return worker;
    }

    public Result result(long round) {
        return results.computeIfAbsent(round, r -> new Result());
    }

    private void onResult(Message<Object> msg) {
        if (msg.body() instanceof JsonObject summary) {
            Result r = result(summary.getLong("round"));
            synchronized (r) {
                r.values = new float[(int) (long) session.getLong("dim")];
                r.chunks = summary.getInteger("chunks");
            }
            msg.reply(null);
            r.summary.complete(summary);
            if (r.chunks == 0) {
                r.aggregate.complete(null);
            }
        } else if (msg.body() instanceof Buffer frame) {
            ChunkFrame.Header h = ChunkFrame.parse(frame);
            Result r = result(h.round());
            boolean done;
            synchronized (r) {
                ChunkFrame.readPayload(frame, h, r.values, (int) h.offset());
                done = --r.chunks == 0;
            }
            msg.reply(null);
            if (done) {
                r.aggregate.complete(r.values);
            }
        }
    }

    /** Sends one frame and waits for the reply: null when acknowledged, else the failure code. */
    public Integer send(Buffer frame) throws Exception {
        // The shard that owns the frame's column (flagagg.JOB.chunks when unsharded).
        int shard = ShardPlan.fromSession(session).shardOf(frame);
        Future<Integer> reply = vertx.eventBus().request(addresses.chunks(shard), frame).map(m -> (Integer) null)
                .recover(e -> e instanceof ReplyException r ? Future.succeededFuture(r.failureCode()) : Future.failedFuture(e));
        return reply.toCompletionStage().toCompletableFuture().get(Await.WAIT_S, TimeUnit.SECONDS);
    }

    /** Sends chunk {@code index} of {@code gradient} for {@code round} and returns the reply code (null = ok). */
    public Integer sendChunk(long round, int index, float[] gradient) throws Exception {
        return send(frame(round, index, gradient));
    }

    public Buffer frame(long round, int index, float[] gradient) {
        int chunk = session.getInteger("chunk_coords");
        int offset = index * chunk;
        int count = Math.min(chunk, gradient.length - offset);
        return ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, round, slot, index, offset, gradient, offset, count);
    }

    public int chunks() {
        return session.getInteger("chunks");
    }
}
