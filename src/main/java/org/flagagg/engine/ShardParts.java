package org.flagagg.engine;

import io.vertx.core.WorkerExecutor;

/**
 * What a shard's side of the agreement ({@link ShardCoordinator} at shard 0, {@link ShardControl} at k > 0)
 * uses of its verticle: the verticle itself (for the chunk's way: exclude, output, release, ...), the link to
 * the other shards, the math threads and the round state. Made once, as the verticle starts.
 */
record ShardParts(AggregatorVerticle engine, ShardLink link, WorkerExecutor math, RoundMath roundMath, Slots slots,
        RoundAdmission admission, EngineLoad load) {
}
