package org.flagagg.wire;

/** Event-bus addresses of one job, all under flagagg.JOB. */
public record Addresses(String job) {

    /** Event-bus header of a data link's chunk requests: the relay of the connection the frame came on. */
    public static final String RELAY_HEADER = "relay";
    /** Event-bus header of a chunk from another JVM: the chunk_token its slot's join was given. */
    public static final String TOKEN_HEADER = "chunk_token";
    /**
     * Event-bus header of a sharded job's messages between its servers' JVMs: the job's shard token, given
     * to shards placed on shard hosts, that control requests, reports and chunks forwarded by a gateway or a
     * data link carry when they cross to another member.
     */
    public static final String SHARD_TOKEN_HEADER = "shard_token";
    /** Label of a shard placement's proof: HMAC(secret, label, job JSON, shard, token, coordinator, issued). */
    public static final String PLACE_PROOF = "flagagg-shard-place";
    /** Label of an event-bus join's proof: HMAC(secret, label, job, worker, dim, slot, relay, nonce). */
    public static final String JOIN_PROOF = "flagagg-join";

    /** Request/reply, JSON: a worker joins and gets its session. */
    public String join() {
        return "flagagg." + job + ".join";
    }

    /** Request/reply, binary chunk frames worker to aggregator; the reply is the credit. */
    public String chunks() {
        return "flagagg." + job + ".chunks";
    }

    /**
     * Request/reply, binary chunk frames of shard {@code shard}'s columns: shard 0 (the coordinator) keeps
     * {@link #chunks()}, shard k > 0 has {@code flagagg.JOB.chunks.K}.
     */
    public String chunks(int shard) {
        return shard == 0 ? chunks() : chunks() + "." + shard;
    }

    /** Request/reply, JSON: the coordinator's control messages to shard k > 0 (joins, exclusions, close, output). */
    public String shard(int shard) {
        return "flagagg." + job + ".shard." + shard;
    }

    /** Every address the engine of a job of {@code shards} shards consumes: joins, chunks, control, reports. */
    public java.util.List<String> engine(int shards) {
        java.util.List<String> all = new java.util.ArrayList<>(java.util.List.of(join(), coordinator()));
        for (int k = 0; k < shards; k++) {
            all.add(chunks(k));
            if (k > 0) {
                all.add(shard(k));
            }
        }
        return all;
    }

    /** Send, JSON: shard k > 0 reports to the coordinator (a worker started, delivered, was excluded; a failure). */
    public String coordinator() {
        return "flagagg." + job + ".coordinator";
    }

    /** Request/reply to one worker: the round summary (JSON), then the aggregate's chunk frames. */
    public String results(int slot) {
        return "flagagg." + job + ".worker." + slot;
    }

    /** Publish, JSON: every round record, for metrics and the dashboard. */
    public String rounds() {
        return "flagagg." + job + ".rounds";
    }

    /** Publish, the round id: the round's chunks were released from the store and its record logged. */
    public String released() {
        return "flagagg." + job + ".released";
    }

    /** Request/reply, JSON: where the aggregator's data link listens ({host, port}); see org.flagagg.link. */
    public String link() {
        return "flagagg." + job + ".link";
    }

    /** Request/reply to one worker node's data-link connection: aggregate chunk frames for all its workers. */
    public String relay(String id) {
        return relayPrefix() + id;
    }

    /** Every relay address starts with this; a join may name no other. */
    public String relayPrefix() {
        return "flagagg." + job + ".relay.";
    }
}
