package org.flagagg.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

/** The split of a job's chunk columns over its shards: contiguous, balanced, covering, and checked. */
class ShardPlanTest {

    @Test
    void shardsAreContiguousBalancedAndEveryColumnHasExactlyItsShard() {
        for (int chunks = 1; chunks <= 40; chunks++) {
            for (int shards = 1; shards <= chunks; shards++) {
                ShardPlan plan = new ShardPlan(shards, chunks);
                assertThat(plan.first(0)).isZero();
                assertThat(plan.end(shards - 1)).isEqualTo(chunks);
                int least = Integer.MAX_VALUE;
                int most = 0;
                for (int k = 0; k < shards; k++) {
                    assertThat(plan.columns(k)).isPositive();
                    least = Math.min(least, plan.columns(k));
                    most = Math.max(most, plan.columns(k));
                    if (k > 0) {
                        assertThat(plan.first(k)).isEqualTo(plan.end(k - 1));
                    }
                    for (int c = plan.first(k); c < plan.end(k); c++) {
                        assertThat(plan.shardOf(c)).as("column %d of %d over %d shards", c, chunks, shards).isEqualTo(k);
                    }
                }
                assertThat(most - least).isLessThanOrEqualTo(1);
            }
        }
    }

    @Test
    void columnsOutsideTheJobGoToAnEdgeShardWhichRefusesThem() {
        ShardPlan plan = new ShardPlan(3, 16);
        assertThat(plan.shardOf(-1)).isZero();
        assertThat(plan.shardOf(999)).isEqualTo(2);
        assertThat(plan.shardOf(Integer.MAX_VALUE)).isEqualTo(2);
    }

    @Test
    void aPlanNeedsOneToChunksShards() {
        assertThatThrownBy(() -> new ShardPlan(0, 16)).hasMessage("shards must be in 1..16 (the job's chunks), got 0");
        assertThatThrownBy(() -> new ShardPlan(17, 16)).hasMessage("shards must be in 1..16 (the job's chunks), got 17");
    }

    @Test
    void theSessionCarriesThePlanAndAnUnshardedSessionHasNone() {
        ShardPlan plan = new ShardPlan(3, 16);
        JsonObject session = plan.toSession(new JsonObject().put("chunks", 16));
        assertThat(ShardPlan.fromSession(session)).isEqualTo(plan);
        assertThat(ShardPlan.fromSession(new JsonObject().put("chunks", 16))).isEqualTo(ShardPlan.single(16));
        session.put("shard_columns", new JsonArray().add(new JsonArray().add(0).add(8)));
        assertThatThrownBy(() -> ShardPlan.fromSession(session)).hasMessageContaining("not the balanced split");
    }
}
