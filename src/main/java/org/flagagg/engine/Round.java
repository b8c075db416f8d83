package org.flagagg.engine;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntFunction;
import org.flagagg.config.JobConfig;

/**
 * The state of one round: which chunks each worker slot sent and stored, which coordinate ranges (columns)
 * are complete and folded, who is excluded and why. Pure bookkeeping, confined to the aggregator's event
 * loop; the verticle does the I/O and the math.
 *
 * <p>A column (chunk index k) is complete when every slot not excluded has stored its chunk k: then the
 * column can be folded into the Gram matrix. A slot excluded later keeps its pairs in folded columns, but
 * its row of G is never used. At close, the participants are the slots that stored every chunk; columns
 * not folded yet are folded over the participants alone.
 */
public final class Round {

    public enum Status { OPEN, CLOSING, COMPLETED, FAILED }

    /** What to do with a chunk offered to the round. */
    public enum Admission { PROCESS, ACK_DUPLICATE, REJECT_CLOSED, REJECT_EXCLUDED, REJECT_BAD }

    /** A verdict on a chunk, with the reason for a rejection. */
    public record Verdict(Admission admission, String reason) {
        static final Verdict PROCESS = new Verdict(Admission.PROCESS, null);
        static final Verdict DUPLICATE = new Verdict(Admission.ACK_DUPLICATE, null);
    }

    private final long id;
    private final JobConfig job;
    private final int p;
    private final int chunks;
    /** This shard's columns [first, end) of the job's chunks (all of them when unsharded). */
    private final int first;
    private final int end;
    private final long openedNanos;
    private final BitSet[] received;
    private final BitSet[] stored;
    private final int[] storedCount;
    private final int[] crc;
    private final String[] excluded;
    private final int[] columnCount;
    private final BitSet folded = new BitSet();
    private int active;
    private int started;
    private Status status = Status.OPEN;
    private long bytesIn;
    private long chunksIn;
    private final Map<String, Integer> rejected = new TreeMap<>();

    public Round(long id, JobConfig job, long openedNanos) {
        this(id, job, 0, job.chunks(), openedNanos);
    }

    /** A round of one shard: the chunks of columns [first, end) only. */
    public Round(long id, JobConfig job, int first, int end, long openedNanos) {
        this.id = id;
        this.job = job;
        this.p = job.workers();
        this.chunks = job.chunks();
        this.first = first;
        this.end = end;
        this.openedNanos = openedNanos;
        this.received = new BitSet[p];
        this.stored = new BitSet[p];
        for (int s = 0; s < p; s++) {
            received[s] = new BitSet(chunks);
            stored[s] = new BitSet(chunks);
        }
        this.storedCount = new int[p];
        this.crc = new int[p * chunks];
        this.excluded = new String[p];
        this.columnCount = new int[chunks];
        this.active = p;
    }

    public long id() {
        return id;
    }

    public Status status() {
        return status;
    }

    public long openedNanos() {
        return openedNanos;
    }

    /** Slots that had at least one chunk of this round admitted: the workers that started it. */
    public int started() {
        return started;
    }

    /**
     * Decides on a chunk whose frame parsed: accept it for processing, acknowledge an identical retry, or
     * reject it. A chunk that breaks the round's shape (wrong index, offset or count, a conflicting
     * duplicate) gets REJECT_BAD, and the caller excludes its worker. Counts every rejection by reason.
     */
    public Verdict admit(int slot, int chunkIndex, long offset, int count, int frameCrc) {
        if (status != Status.OPEN) {
            return reject(Admission.REJECT_CLOSED, "round " + id + " is closed", "closed");
        }
        if (excluded[slot] != null) {
            return reject(Admission.REJECT_EXCLUDED, "worker excluded from round " + id + ": " + excluded[slot],
                    "after_exclusion");
        }
        if (chunkIndex >= chunks || offset != (long) chunkIndex * job.chunkCoords() || count != job.chunkLength(chunkIndex)) {
            String expected = chunkIndex < chunks
                    ? "offset " + (long) chunkIndex * job.chunkCoords() + " count " + job.chunkLength(chunkIndex)
                    : "index < " + chunks;
            return excludeAndReject(slot, "wrong shape: chunk " + chunkIndex + " at offset " + offset + " with "
                    + count + " values, expected " + expected + " (dim " + job.dim() + ", chunk_coords "
                    + job.chunkCoords() + ")", "wrong_shape");
        }
        if (chunkIndex < first || chunkIndex >= end) {
            // A wrong shape for this shard (metrics count it with the other shape errors).
            return excludeAndReject(slot, "wrong shape: chunk " + chunkIndex + " was sent to the shard of columns ["
                    + first + ", " + end + ")", "wrong_shape");
        }
        int at = slot * chunks + chunkIndex;
        if (received[slot].get(chunkIndex)) {
            if (crc[at] == frameCrc) {
                count("duplicate_retry");
                return Verdict.DUPLICATE;
            }
            return excludeAndReject(slot, "conflicting duplicate of chunk " + chunkIndex, "conflicting_duplicate");
        }
        if (received[slot].isEmpty()) {
            started++;
        }
        received[slot].set(chunkIndex);
        crc[at] = frameCrc;
        return Verdict.PROCESS;
    }

    /**
     * Records that slot's chunk is stored. Returns the column if it just became complete (fold it), or -1.
     * A chunk of a slot excluded meanwhile, or of a round no longer open, changes nothing.
     */
    public int stored(int slot, int chunkIndex, int bytes) {
        bytesIn += bytes;
        chunksIn++;
        if (excluded[slot] != null || status != Status.OPEN) {
            return -1;
        }
        stored[slot].set(chunkIndex);
        storedCount[slot]++;
        columnCount[chunkIndex]++;
        return takeIfComplete(chunkIndex) ? chunkIndex : -1;
    }

    /**
     * Excludes a slot from this round with a reason (first reason wins). Returns the columns that became
     * complete because the slot no longer counts.
     */
    public List<Integer> exclude(int slot, String reason) {
        List<Integer> ready = new ArrayList<>();
        if (excluded[slot] != null) {
            return ready;
        }
        excluded[slot] = reason;
        active--;
        for (int k = stored[slot].nextSetBit(0); k >= 0; k = stored[slot].nextSetBit(k + 1)) {
            columnCount[k]--;
        }
        if (status == Status.OPEN && active > 0) {
            for (int k = folded.nextClearBit(first); k < end; k = folded.nextClearBit(k + 1)) {
                if (takeIfComplete(k)) {
                    ready.add(k);
                }
            }
        }
        return ready;
    }

    private boolean takeIfComplete(int k) {
        if (columnCount[k] == active && active > 0 && !folded.get(k)) {
            folded.set(k);
            return true;
        }
        return false;
    }

    /** Slots that are not excluded: the rows a column fold reads. */
    public boolean[] activeSlots() {
        boolean[] a = new boolean[p];
        for (int s = 0; s < p; s++) {
            a[s] = excluded[s] == null;
        }
        return a;
    }

    /** True when every slot not excluded has stored its whole gradient (the round can close now). */
    public boolean allDelivered() {
        if (active == 0) {
            return true;
        }
        for (int s = 0; s < p; s++) {
            if (excluded[s] == null && storedCount[s] < end - first) {
                return false;
            }
        }
        return true;
    }

    /** Slots that stored their whole gradient and are not excluded, ascending. */
    public int[] participants() {
        int[] out = new int[p];
        int n = 0;
        for (int s = 0; s < p; s++) {
            if (delivered(s)) {
                out[n++] = s;
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** True when the slot is not excluded and stored every chunk of this round's columns. */
    public boolean delivered(int slot) {
        return excluded[slot] == null && storedCount[slot] == end - first;
    }

    /** Starts closing: no chunk is admitted any more. Returns the columns never folded, in order. */
    public List<Integer> close() {
        status = Status.CLOSING;
        List<Integer> rest = new ArrayList<>();
        for (int k = folded.nextClearBit(first); k < end; k = folded.nextClearBit(k + 1)) {
            rest.add(k);
        }
        folded.set(first, end);
        return rest;
    }

    public void finish(boolean completed) {
        status = completed ? Status.COMPLETED : Status.FAILED;
    }

    /** Counts a rejected chunk under a reason key (for the round record and metrics). */
    public void count(String reasonKey) {
        rejected.merge(reasonKey, 1, Integer::sum);
    }

    private Verdict reject(Admission admission, String reason, String key) {
        count(key);
        return new Verdict(admission, reason);
    }

    /** The caller excludes the slot (see {@link #exclude}), which may complete columns or the round. */
    private Verdict excludeAndReject(int slot, String reason, String key) {
        count(key);
        return new Verdict(Admission.REJECT_BAD, reason);
    }

    public String excludedReason(int slot) {
        return excluded[slot];
    }

    public long bytesIn() {
        return bytesIn;
    }

    /**
     * What this shard's part of the round adds to the round record: chunks stored per slot, bytes and chunks
     * in, rejections by reason. The coordinator adds the other shards' tallies to its own ({@link #record}).
     */
    public JsonObject tally() {
        JsonArray storedBySlot = new JsonArray();
        for (int s = 0; s < p; s++) {
            storedBySlot.add(storedCount[s]);
        }
        return new JsonObject().put("stored", storedBySlot).put("bytes_in", bytesIn).put("chunks_in", chunksIn)
                .put("rejected", new JsonObject(new TreeMap<String, Object>(rejected)));
    }

    /** The round's record without the rule's part: participants, stragglers, exclusions, traffic. */
    public JsonObject record(IntFunction<String> names) {
        return record(names, participants(), List.of());
    }

    /**
     * The record of a sharded round: this (the coordinator's) round with the other shards' {@link #tally}s
     * added, and the participants the shards agreed on; with no other tallies, the unsharded record.
     */
    public JsonObject record(IntFunction<String> names, int[] participants, List<JsonObject> otherTallies) {
        int[] storedTotal = storedCount.clone();
        long bytes = bytesIn;
        long chunksTotal = chunksIn;
        Map<String, Integer> rejections = new TreeMap<>(rejected);
        for (JsonObject t : otherTallies) {
            JsonArray storedBySlot = t.getJsonArray("stored");
            for (int s = 0; s < p; s++) {
                storedTotal[s] += storedBySlot.getInteger(s);
            }
            bytes += t.getLong("bytes_in");
            chunksTotal += t.getLong("chunks_in");
            t.getJsonObject("rejected").forEach(e -> rejections.merge(e.getKey(), ((Number) e.getValue()).intValue(),
                    Integer::sum));
        }
        JsonArray stragglers = new JsonArray();
        JsonObject exclusions = new JsonObject();
        for (int s = 0; s < p; s++) {
            String name = names.apply(s);
            if (excluded[s] != null) {
                exclusions.put(name, excluded[s]);
            } else if (storedTotal[s] < chunks) {
                stragglers.add(new JsonObject().put("worker", name).put("chunks", storedTotal[s]).put("of", chunks));
            }
        }
        JsonArray participantNames = new JsonArray();
        for (int s : participants) {
            participantNames.add(names.apply(s));
        }
        return new JsonObject()
                .put("round", id)
                .put("participants", participantNames)
                .put("stragglers", stragglers)
                .put("excluded", exclusions)
                .put("bytes_in", bytes)
                .put("chunks_in", chunksTotal)
                .put("rejected", new JsonObject(new TreeMap<String, Object>(rejections)));
    }
}
