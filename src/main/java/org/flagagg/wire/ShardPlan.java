package org.flagagg.wire;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * How a job's chunk columns [0, chunks) are split over S aggregator shards: contiguous ranges on chunk
 * boundaries, balanced (their sizes differ by at most one column), shard k owning [first(k), end(k)). Shard 0
 * is the coordinator. S = 1 is the unsharded engine. Workers and gateways learn the plan from the session
 * ({@link #toSession}) and send each chunk to its shard's address ({@link Addresses#chunks(int)}).
 */
public record ShardPlan(int shards, int chunks) {

    public ShardPlan {
        if (chunks < 1) {
            throw new IllegalArgumentException("a job has at least one chunk, got " + chunks);
        }
        if (shards < 1 || shards > chunks) {
            throw new IllegalArgumentException("shards must be in 1.." + chunks + " (the job's chunks), got " + shards);
        }
    }

    /** The unsharded plan of a job with {@code chunks} chunks. */
    public static ShardPlan single(int chunks) {
        return new ShardPlan(1, chunks);
    }

    /** First column of shard k. */
    public int first(int shard) {
        return (int) ((long) shard * chunks / shards);
    }

    /** One past the last column of shard k. */
    public int end(int shard) {
        return first(shard + 1);
    }

    /** Columns shard k owns. */
    public int columns(int shard) {
        return end(shard) - first(shard);
    }

    /**
     * The shard that owns column {@code column}; a column out of [0, chunks) goes to the first or last shard,
     * whose engine refuses it (wrong shape) as the unsharded engine does.
     */
    public int shardOf(int column) {
        int k = (int) Math.max(0, Math.min(shards - 1, (long) column * shards / chunks));
        while (k + 1 < shards && first(k + 1) <= column) {
            k++;
        }
        while (k > 0 && first(k) > column) {
            k--;
        }
        return k;
    }

    /**
     * The shard a raw chunk frame goes to, by the chunk index in its header; a frame too short to have one
     * goes to shard 0, which refuses it as malformed.
     */
    public int shardOf(io.vertx.core.buffer.Buffer frame) {
        return frame.length() < ChunkFrame.HEADER_BYTES ? 0 : shardOf(frame.getIntLE(ChunkFrame.AT_CHUNK));
    }

    /** The session's part of the plan: {@code shards} and each shard's [first, end) columns. */
    public JsonObject toSession(JsonObject session) {
        JsonArray ranges = new JsonArray();
        for (int k = 0; k < shards; k++) {
            ranges.add(new JsonArray().add(first(k)).add(end(k)));
        }
        return session.put("shards", shards).put("shard_columns", ranges);
    }

    /**
     * The plan a session describes: unsharded without a {@code shards} key. The ranges must be the ones this
     * class computes (every party computes them the same way); a session that says otherwise is refused.
     */
    public static ShardPlan fromSession(JsonObject session) {
        int chunks = session.getInteger("chunks");
        Integer shards = session.getInteger("shards");
        ShardPlan plan = shards == null ? single(chunks) : new ShardPlan(shards, chunks);
        JsonArray ranges = session.getJsonArray("shard_columns");
        if (ranges != null && !ranges.equals(plan.toSession(new JsonObject()).getJsonArray("shard_columns"))) {
            throw new IllegalArgumentException("the session's shard_columns " + ranges + " are not the balanced split of "
                    + chunks + " chunks over " + plan.shards + " shards");
        }
        return plan;
    }
}
