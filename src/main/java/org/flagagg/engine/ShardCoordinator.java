package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.flagagg.config.JobConfig;
import org.flagagg.rules.Solution;
import org.flagagg.wire.Codes;
import org.flagagg.wire.ShardPlan;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Shard 0's side of a sharded job (S > 1): it replicates each join to every shard, applies the shards'
 * reports (starts, deliveries, exclusions, failures) to the round's {@link ShardVotes}, tells every shard of
 * an exclusion, and at close asks every shard for its partial Gram matrix, sums them in shard order in
 * double-double, solves once, checks every shard's solution digest, and ends or streams the shards' parts.
 * The chunk's way itself stays in {@link AggregatorVerticle}, which calls this at its hand-offs. Confined to
 * the coordinator's event loop, but the summing and solving on a math thread.
 */
final class ShardCoordinator {
    private static final Logger LOG = LoggerFactory.getLogger(ShardCoordinator.class);

    private final ShardParts parts;
    private final JobConfig job;
    private final ShardPlan plan;
    private final int p;

    ShardCoordinator(ShardParts parts, JobConfig job) {
        this.parts = parts;
        this.job = job;
        this.plan = job.plan();
        this.p = job.workers();
    }

    /** Answers a join once every shard knows the slot (and who may send for it): no shard sees an unknown slot. */
    void replicateJoin(Message<Object> msg, JsonObject session) {
        JsonObject replica = parts.slots().replica(session.getInteger("slot")).put("op", "slot");
        Future.all(parts.link().requestAll(replica)).onComplete(ar -> {
            if (ar.succeeded()) {
                msg.reply(session);
            } else {
                msg.fail(Codes.SERVER_ERROR, "the join did not reach every shard: " + ar.cause().getMessage());
            }
        });
    }

    /** A report of shard k > 0: a worker started, delivered or was excluded there, or the shard failed. */
    void onReport(Message<Object> msg) {
        if (!(msg.body() instanceof JsonObject body) || !parts.link().fromThisJob(msg)) {
            LOG.debug("ignored a shard report that is not JSON from a shard of this job");
            return;
        }
        long id = body.getLong("round");
        int slot = body.getInteger("slot", -1);
        String op = body.getString("op");
        RoundRun run = parts.admission().get(id);
        if (run == null) {
            // A round may begin on another shard (a start, or an exclusion of a first chunk): it opens here then.
            try {
                run = parts.admission().roundFor(id, parts.engine()::open);
                parts.load().openRounds.set(parts.admission().openCount());
            } catch (Refusal r) {
                failOnShards(id, "the coordinator cannot open round " + id + ": " + r.getMessage());
                return;
            }
        }
        if (run == null || run.round.status() != Round.Status.OPEN) {
            return; // over: a late report changes nothing
        }
        switch (op) {
            case "started" -> parts.engine().started(run, slot);
            case "delivered" -> {
                run.votes.deliver(body.getInteger("shard"), slot);
                parts.engine().closeIfDelivered(run);
            }
            case "excluded" -> parts.engine().exclude(run, slot, body.getString("reason"), true);
            case "failed" -> parts.engine().failed(run, body.getString("reason"), "shard failure");
            default -> LOG.warn("ignored a shard report of unknown op '{}'", op);
        }
    }

    /** A round only some shards opened: they end it as failed. */
    private void failOnShards(long id, String reason) {
        LOG.warn("round {}: {}", id, reason);
        parts.link().requestAll(new JsonObject().put("op", "fail").put("round", id).put("reason", reason));
    }

    /** A worker excluded on any shard is excluded on every shard. */
    void excludeEverywhere(RoundRun run, int slot, String reason) {
        parts.link().sendAll(new JsonObject().put("op", "exclude").put("round", run.round.id()).put("slot", slot)
                .put("reason", reason));
    }

    /**
     * Closes a sharded round: every shard folds its leftover columns over the participants and sends its
     * partial Gram matrix (both words) while this shard folds its own; the partials are added in shard order,
     * the rule solves once here, and every shard runs its output pass on the same matrix, with a digest of its
     * solution that must match this one.
     */
    Future<Solution> close(RoundRun run, int[] participants, List<Integer> unfolded) {
        JsonObject close = new JsonObject().put("op", "close").put("round", run.round.id())
                .put("participants", ShardWire.ints(participants));
        List<Future<Object>> partials = parts.link().requestAll(close);
        Future<Void> own = parts.math().executeBlocking(() -> {
            parts.roundMath().foldRest(run, participants, unfolded);
            return null;
        }, false);
        int cells = p * p;
        return Future.all(own, Future.all(partials)).compose(v -> parts.math().executeBlocking(() -> {
            for (int k = 1; k < plan.shards(); k++) {
                JsonObject reply = (JsonObject) partials.get(k - 1).result();
                if (reply.containsKey("hi")) {
                    run.pipeline.mergeGram(ShardWire.doubles(reply.getBinary("hi"), cells),
                            ShardWire.doubles(reply.getBinary("lo"), cells));
                }
                run.tallies.add(reply.getJsonObject("tally"));
                run.shardStats.put(k, shardStat(k, reply.getJsonObject("tally").getLong("bytes_in"),
                        reply.getLong("fold_ns")));
            }
            run.shardStats.put(0, shardStat(0, run.round.bytesIn(), run.foldNanos()));
            double[] gram = run.pipeline.gramOf(participants);
            return new Object[] {parts.roundMath().solve(run, participants), gram};
        }, false)).compose(solved -> output(run, participants, (Solution) ((Object[]) solved)[0],
                (double[]) ((Object[]) solved)[1]));
    }

    /** Every shard's output pass (this one's too) on the same solution; fails if a shard solved differently. */
    private Future<Solution> output(RoundRun run, int[] participants, Solution solution, double[] gram) {
        JsonObject output = new JsonObject().put("op", "output").put("round", run.round.id())
                .put("participants", ShardWire.ints(participants));
        if (gram != null) {
            output.put("gram", ShardWire.bytes(gram));
        }
        List<Future<Object>> outputs = parts.link().requestAll(output);
        String digest = ShardWire.digest(solution);
        return Future.all(parts.engine().output(run, participants, solution), Future.all(outputs)).compose(v -> {
            run.shardStats.get(0).put("output_ms", run.outputNanos / 1e6).put("cpu_ms", run.cpuNanos() / 1e6);
            for (int k = 1; k < plan.shards(); k++) {
                JsonObject reply = (JsonObject) outputs.get(k - 1).result();
                if (!digest.equals(reply.getString("digest"))) {
                    return Future.failedFuture("shard " + k + " solved differently from the coordinator ("
                            + reply.getString("digest") + " vs " + digest + ")");
                }
                run.shardStats.get(k).put("output_ms", reply.getLong("output_ns") / 1e6)
                        .put("cpu_ms", reply.getLong("cpu_ns") / 1e6);
            }
            return Future.succeededFuture(solution);
        });
    }

    /** One entry of the record's {@code shards}. */
    private JsonObject shardStat(int k, long bytesIn, long foldNanos) {
        return new JsonObject().put("shard", k).put("columns", new JsonArray().add(plan.first(k)).add(plan.end(k)))
                .put("bytes_in", bytesIn).put("fold_ms", foldNanos / 1e6);
    }

    /**
     * The round failed at the coordinator: every shard ends its part; their tallies come back for the record
     * (so a failed round's record is the unsharded one too). Completes (never fails) once all answered.
     */
    Future<Void> failParts(RoundRun run, String error) {
        JsonObject fail = new JsonObject().put("op", "fail").put("round", run.round.id()).put("reason", error);
        List<Future<Object>> ends = parts.link().requestAll(fail);
        return Future.join(ends).transform(ar -> {
            run.tallies.clear();
            for (Future<Object> part : ends) {
                if (part.succeeded() && part.result() instanceof JsonObject reply && reply.containsKey("tally")) {
                    run.tallies.add(reply.getJsonObject("tally"));
                }
            }
            return Future.succeededFuture();
        });
    }

    /**
     * The other shards stream their columns once every worker had its summary (a worker takes chunks only
     * after it); completes (never fails) when every shard released its part.
     */
    Future<Void> streamParts(RoundRun run, Future<Void> summarised) {
        return summarised.compose(v -> {
            JsonObject request = new JsonObject().put("op", "stream").put("round", run.round.id());
            long timeoutMs = job.resultTimeoutMs() + job.shardTimeoutMs();
            return Future.join(parts.link().requestAll(request, timeoutMs)).<Void>mapEmpty();
        }).transform(ar -> Future.succeededFuture());
    }
}
