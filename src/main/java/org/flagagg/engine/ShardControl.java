package org.flagagg.engine;

import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.flagagg.wire.Codes;

/**
 * A shard k > 0's side of a sharded job: it answers the coordinator's control requests (a slot's join, an
 * exclusion, close with its partial Gram matrix, the same solve and its output pass, stream, fail) and
 * reports to the coordinator what happened to a worker or to the shard in its columns. The chunk's way
 * itself stays in {@link AggregatorVerticle}. Confined to the shard's event loop, but the folds and the
 * solve on a math thread.
 */
final class ShardControl {
    private final ShardParts parts;
    private final int shard;
    private final AggregateStreamer streamer;
    /** Test hook: the next control request of this op fails (a shard failing mid-round). */
    private volatile String failNext;

    ShardControl(ShardParts parts, int shard, AggregateStreamer streamer) {
        this.parts = parts;
        this.shard = shard;
        this.streamer = streamer;
    }

    /** Test hook: the next control request {@code op} ("close", "output", ...) fails. */
    void failNext(String op) {
        failNext = op;
    }

    /** Tells the coordinator what happened to a worker (or the shard) in this shard's part of the round. */
    void report(RoundRun run, String op, int slot, String reason) {
        JsonObject report = new JsonObject().put("op", op).put("shard", shard).put("round", run.round.id())
                .put("slot", slot);
        if (reason != null) {
            report.put("reason", reason);
        }
        parts.link().report(report);
    }

    /** The coordinator's control requests: a slot's join, an exclusion, close, output, stream, fail. */
    void onControl(Message<Object> msg) {
        if (!(msg.body() instanceof JsonObject body) || !parts.link().fromThisJob(msg)) {
            msg.fail(Codes.FORBIDDEN, "shard control takes JSON from this job's coordinator only");
            return;
        }
        String op = body.getString("op");
        if (op != null && op.equals(failNext)) {
            failNext = null;
            msg.fail(Codes.SERVER_ERROR, "test hook: " + op + " fails");
            return;
        }
        if ("slot".equals(op)) {
            parts.slots().replicate(body);
            msg.reply(null);
            return;
        }
        long id = body.getLong("round");
        RoundRun run = parts.admission().get(id);
        if (run == null) {
            // Nothing of the round reached this shard (or it already ended here): the round ids move on.
            if (!"exclude".equals(op)) {
                parts.admission().skip(id);
            }
            if ("close".equals(op) || "output".equals(op)) {
                msg.fail(Codes.SERVER_ERROR, "round " + id + " is not open on shard " + shard);
            } else if (!"exclude".equals(op)) {
                msg.reply(null);
            }
            return;
        }
        switch (op) {
            case "exclude" -> {
                if (run.round.status() == Round.Status.OPEN) {
                    parts.engine().exclude(run, body.getInteger("slot"), body.getString("reason"), false);
                }
            }
            case "close" -> close(run, ShardWire.ints(body.getJsonArray("participants"))).onComplete(reply(msg));
            case "output" -> output(run, body).onComplete(reply(msg));
            case "stream" -> {
                run.round.finish(true);
                parts.admission().finished(run, true);
                parts.load().openRounds.set(parts.admission().openCount());
                streamer.stream(run.round, run.participants, null,
                        () -> parts.engine().release(run).onComplete(v -> msg.reply(null)));
            }
            case "fail" -> {
                if (run.round.status() == Round.Status.OPEN) {
                    run.round.close();
                }
                run.whenIdle().onComplete(v -> {
                    run.round.finish(false);
                    parts.admission().finished(run, false);
                    parts.load().openRounds.set(parts.admission().openCount());
                    parts.engine().release(run)
                            .onComplete(r -> msg.reply(new JsonObject().put("tally", run.round.tally())));
                });
            }
            default -> msg.fail(Codes.BAD_REQUEST, "unknown shard control op '" + op + "'");
        }
    }

    private static <T> Handler<AsyncResult<T>> reply(Message<Object> msg) {
        return ar -> {
            if (ar.succeeded()) {
                msg.reply(ar.result());
            } else {
                msg.fail(Codes.SERVER_ERROR, ar.cause().getMessage());
            }
        };
    }

    /** Close: no more chunks; the leftover columns are folded over the participants; the partial Gram goes back. */
    private Future<JsonObject> close(RoundRun run, int[] participants) {
        run.closedNanos = System.nanoTime();
        List<Integer> unfolded = run.round.status() == Round.Status.OPEN ? run.round.close() : List.of();
        return run.whenIdle().compose(v -> {
            if (run.failure != null) {
                return Future.failedFuture(run.failure);
            }
            return parts.math().executeBlocking(() -> {
                parts.roundMath().foldRest(run, participants, unfolded);
                return run.pipeline.exportGram();
            }, false);
        }).map(gram -> {
            JsonObject reply = new JsonObject().put("tally", run.round.tally()).put("fold_ns", run.foldNanos());
            if (gram != null) {
                reply.put("hi", ShardWire.bytes(gram[0])).put("lo", ShardWire.bytes(gram[1]));
            }
            return reply;
        });
    }

    /** Output: the same solve as the coordinator's on the summed matrix, then this shard's output pass. */
    private Future<JsonObject> output(RoundRun run, JsonObject body) {
        int[] participants = ShardWire.ints(body.getJsonArray("participants"));
        byte[] gramBytes = body.getBinary("gram");
        return parts.math().executeBlocking(() -> run.pipeline.solve(participants.length, gramBytes == null ? null
                : ShardWire.doubles(gramBytes, participants.length * participants.length)), false)
                .compose(solution -> parts.engine().output(run, participants, solution))
                .map(solution -> new JsonObject().put("digest", ShardWire.digest(solution))
                        .put("output_ns", run.outputNanos).put("cpu_ns", run.cpuNanos()));
    }
}
