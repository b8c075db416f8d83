package org.flagagg.engine;

/**
 * The coordinator's view of a sharded round beyond its own shard's {@link Round}: which workers started it
 * on any shard (for the quorum that starts the adaptive deadline) and which delivered every column of each
 * other shard. A worker takes part only when it delivered on every shard; exclusions live in the
 * coordinator's Round (every shard's exclusion is applied there). Confined to the coordinator's event loop.
 */
final class ShardVotes {
    private final int shards;
    /** delivered[k][slot] for shards k >= 1; shard 0's own Round knows its deliveries. */
    private final boolean[][] delivered;
    private final boolean[] started;
    private int startedCount;

    ShardVotes(int shards, int p) {
        this.shards = shards;
        this.delivered = new boolean[shards][p];
        this.started = new boolean[p];
    }

    /** The slot started the round on some shard; true the first time. */
    boolean start(int slot) {
        if (started[slot]) {
            return false;
        }
        started[slot] = true;
        startedCount++;
        return true;
    }

    /** Workers that started the round on any shard. */
    int started() {
        return startedCount;
    }

    /** Shard k >= 1 says the slot stored every chunk of its columns. */
    void deliver(int shard, int slot) {
        delivered[shard][slot] = true;
    }

    /** The slot delivered on every shard but the coordinator's. */
    boolean deliveredOnOthers(int slot) {
        for (int k = 1; k < shards; k++) {
            if (!delivered[k][slot]) {
                return false;
            }
        }
        return true;
    }

    /** Participants: not excluded and delivered on every shard (the coordinator's round knows both of its own). */
    int[] participants(Round own, int p) {
        int[] out = new int[p];
        int n = 0;
        for (int s = 0; s < p; s++) {
            if (own.delivered(s) && deliveredOnOthers(s)) {
                out[n++] = s;
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** Every worker not excluded delivered on every shard: the round can close now. */
    boolean allDelivered(Round own, int p) {
        for (int s = 0; s < p; s++) {
            if (own.excludedReason(s) == null && !(own.delivered(s) && deliveredOnOthers(s))) {
                return false;
            }
        }
        return true;
    }
}
