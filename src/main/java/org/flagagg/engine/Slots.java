package org.flagagg.engine;

import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;
import org.flagagg.config.JobConfig;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.Codes;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.VertxInternals;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The job's p worker slots: who holds each, where its results go, and who may act for it. A join takes a
 * slot (a worker in another JVM first proves the job secret over a fresh nonce of this aggregator); a chunk
 * is refused unless its sender may act for the slot it names. Confined to the aggregator's event loop.
 */
final class Slots {
    private static final Logger LOG = LoggerFactory.getLogger(Slots.class);
    /** How long a join nonce is good for after this aggregator issued it. */
    static final long NONCE_TTL_MS = 30_000;

    private final JobConfig job;
    private final Addresses addresses;
    private final int p;
    private final String[] workerIds;
    /** Where each worker's aggregate chunks go: its node's relay (a data link), or null for its own address. */
    private final String[] relays;
    /** Per slot, the token its chunks from another JVM must carry; null when it joined in this JVM. */
    private final String[] chunkTokens;
    private final Map<String, Integer> slotsById = new HashMap<>();
    /** The job secret workers in other JVMs prove on join, or null: then none can join. */
    private final JobSecret secret;
    /** The job's shard token when its shards may run on other members (null: all in this JVM). */
    private String shardToken;
    /** Tags this aggregator's join nonces, so it keeps no state for a nonce until a join spends it. */
    private final JobSecret nonceKey = JobSecret.random();
    /** Nonces spent by joins with a valid proof, and when they were issued; pruned after NONCE_TTL_MS. */
    private final Map<String, Long> spentNonces = new HashMap<>();

    Slots(JobConfig job, Addresses addresses, JobSecret secret) {
        this.job = job;
        this.addresses = addresses;
        this.secret = secret;
        this.p = job.workers();
        this.workerIds = new String[p];
        this.relays = new String[p];
        this.chunkTokens = new String[p];
    }

    /**
     * Shards may run on other members: every join gets a chunk token (a worker of the coordinator's JVM sends
     * to shards elsewhere too), and a frame a gateway or data link of the job forwarded from another member
     * carries the shard token instead.
     */
    void shardToken(String token) {
        this.shardToken = token;
    }

    boolean joined(int slot) {
        return slot >= 0 && slot < p && workerIds[slot] != null;
    }

    /** The worker's id, or "slot-N" for a slot nobody holds. */
    String name(int slot) {
        return workerIds[slot] == null ? "slot-" + slot : workerIds[slot];
    }

    /** Where the slot's aggregate chunks go: its node's relay, else its own results address. */
    String destination(int slot) {
        return relays[slot] != null ? relays[slot] : addresses.results(slot);
    }

    /**
     * Answers a join message's body: a nonce for a challenge, else the session for the slot taken (and the
     * chunk token a worker of another JVM must send). {@code currentRound} is the round to send now.
     */
    JsonObject join(JsonObject body, boolean remote, long currentRound) throws Refusal {
        if (body.containsKey("challenge")) {
            return new JsonObject().put("nonce", issueNonce());
        }
        String id;
        long dim;
        Integer wanted;
        String relay;
        try {
            id = body.getString("worker");
            dim = body.getLong("dim", -1L);
            wanted = body.getInteger("slot");
            relay = body.getString("relay");
        } catch (ClassCastException e) {
            throw new Refusal(Codes.BAD_REQUEST, "join fields have wrong types: worker and relay are strings, dim and "
                    + "slot are integers");
        }
        if (relay != null && !relay.startsWith(addresses.relayPrefix())) {
            throw new Refusal(Codes.BAD_REQUEST, "relay must be a data-link relay address (" + addresses.relayPrefix()
                    + "...)");
        }
        if (id == null || id.isBlank() || id.length() > 128) {
            throw new Refusal(Codes.BAD_REQUEST, "worker id must be 1-128 characters");
        }
        if (dim != job.dim()) {
            throw new Refusal(Codes.BAD_REQUEST, "dimension mismatch: job '" + job.job() + "' has dim " + job.dim()
                    + ", worker '" + id + "' has " + dim);
        }
        if (wanted != null && (wanted < 0 || wanted >= p)) {
            throw new Refusal(Codes.BAD_REQUEST, "slot must be in 0.." + (p - 1) + ", got " + wanted);
        }
        String unproven = remote ? checkJoinProof(body, id, dim, wanted, relay) : null;
        if (unproven != null) {
            LOG.warn("refused the join of '{}' from another JVM: {}", id, unproven);
            throw new Refusal(Codes.UNAUTHORIZED, unproven);
        }
        Integer slot = slotsById.get(id);
        if (slot == null) {
            slot = wanted != null ? wanted : freeSlot();
            if (slot == null) {
                throw new Refusal(Codes.CLOSED, "job '" + job.job() + "' already has its " + p + " workers");
            }
            if (workerIds[slot] != null) {
                throw new Refusal(Codes.CLOSED, "slot " + slot + " is not free (slots 0.." + (p - 1) + ")");
            }
            workerIds[slot] = id;
            slotsById.put(id, slot);
            LOG.debug("worker {} joined job {} as slot {}", id, job.job(), slot);
        } else if (wanted != null && !wanted.equals(slot)) {
            throw new Refusal(Codes.CLOSED, "worker '" + id + "' already holds slot " + slot);
        }
        relays[slot] = relay;
        // A new join of the slot voids the old token; a worker of this JVM needs none.
        chunkTokens[slot] = remote || shardToken != null ? JobSecret.nonce() : null;
        JsonObject session = job.session().put("worker", id).put("slot", slot).put("round", currentRound);
        return chunkTokens[slot] == null ? session : session.put(Addresses.TOKEN_HEADER, chunkTokens[slot]);
    }

    /**
     * What a shard needs to know of a slot the coordinator granted: the worker, its relay and chunk token, so
     * the shard's {@link #senderRefusal} checks the same as the coordinator's.
     */
    JsonObject replica(int slot) {
        return new JsonObject().put("slot", slot).put("worker", workerIds[slot]).put("relay", relays[slot])
                .put("token", chunkTokens[slot]);
    }

    /** A shard takes the coordinator's {@link #replica} of a slot (a join, or a rejoin with a new token). */
    void replicate(JsonObject replica) {
        int slot = replica.getInteger("slot");
        String id = replica.getString("worker");
        if (slot < 0 || slot >= p || id == null) {
            throw new IllegalArgumentException("a slot replica needs a slot in 0.." + (p - 1) + " and a worker");
        }
        if (workerIds[slot] != null && !workerIds[slot].equals(id)) {
            slotsById.remove(workerIds[slot]);
        }
        workerIds[slot] = id;
        slotsById.put(id, slot);
        relays[slot] = replica.getString("relay");
        chunkTokens[slot] = replica.getString("token");
    }

    /** A fresh join nonce, "issued-ms.random.tag": checked and spent by the join that proves the secret with it. */
    private String issueNonce() {
        String issued = Long.toString(System.currentTimeMillis());
        String random = JobSecret.nonce();
        return issued + "." + random + "." + nonceKey.mac("flagagg-join-nonce", issued, random);
    }

    /** Null when the join proves the job secret over a fresh nonce of this aggregator (then spent); else why not. */
    private String checkJoinProof(JsonObject body, String id, long dim, Integer wanted, String relay) {
        if (secret == null) {
            return "this aggregator has no job secret (cluster.secret): workers in other JVMs cannot join";
        }
        if (!(body.getValue("nonce") instanceof String nonce) || !(body.getValue("proof") instanceof String proof)) {
            return "a join from another JVM must prove the job secret: ask for a nonce with {challenge: true}, then "
                    + "join with {nonce, proof} (docs/protocol.md)";
        }
        String[] parts = nonce.split("\\.", -1);
        long now = System.currentTimeMillis();
        long issued;
        try {
            issued = parts.length == 3 ? Long.parseLong(parts[0]) : -1;
        } catch (NumberFormatException e) {
            issued = -1;
        }
        if (issued < 0 || now - issued > NONCE_TTL_MS || issued > now
                || !nonceKey.verify(parts[2], "flagagg-join-nonce", parts[0], parts[1]) || spentNonces.containsKey(nonce)) {
            return "the join's nonce was not issued by this aggregator in the last " + NONCE_TTL_MS / 1000
                    + " s, or was already used";
        }
        if (!secret.verify(proof, Addresses.JOIN_PROOF, job.job(), id, Long.toString(dim), wanted == null ? "" : wanted.toString(),
                relay == null ? "" : relay, nonce)) {
            return "authentication failed: the join's proof does not match this job's secret (cluster.secret)";
        }
        spentNonces.values().removeIf(at -> now - at > NONCE_TTL_MS);
        spentNonces.put(nonce, issued);
        return null;
    }

    /**
     * Null when this chunk's sender may act for {@code slot}; else why not. A chunk from another JVM carries
     * the token of the slot's join; one from a data link the relay the slot joined with. Other chunks come
     * from this JVM (the WebSocket gateway binds its sessions itself).
     */
    String senderRefusal(Message<?> msg, int slot) {
        if (VertxInternals.fromOtherMember(msg) && !JobSecret.same(msg.headers().get(Addresses.SHARD_TOKEN_HEADER), shardToken)) {
            return JobSecret.same(msg.headers().get(Addresses.TOKEN_HEADER), chunkTokens[slot]) ? null
                    : "slot " + slot + " was not granted to this sender: its join's chunk_token is missing or wrong";
        }
        String relay = msg.headers().get(Addresses.RELAY_HEADER);
        return relay == null || relay.equals(relays[slot]) ? null
                : "slot " + slot + " did not join through this data link; its frames are refused here";
    }

    private Integer freeSlot() {
        for (int s = 0; s < p; s++) {
            if (workerIds[s] == null) {
                return s;
            }
        }
        return null;
    }
}
