package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.flagagg.config.JobConfig;
import org.flagagg.round.ChunkKey;
import org.flagagg.round.ChunkStore;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ArrayPool;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.Codes;
import org.flagagg.wire.FrameCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends each closed round's results: its summary to every joined worker, then (when it completed) the
 * aggregate's frames to each destination (a worker's address, or the relay of a node's data link shared by
 * its workers) with at most {@code credits} unacknowledged per worker behind it. Frames come from the chunk
 * store as the output pass encoded them, copied once into a pooled array that every stream of the round
 * shares. Bounded: a destination holds at most {@code max_result_rounds} rounds' streams, a round's streams
 * last at most {@code result_timeout_ms}. Confined to the aggregator's event loop; copies run on the math
 * executor.
 */
final class AggregateStreamer {
    private static final Logger LOG = LoggerFactory.getLogger(AggregateStreamer.class);

    private final Vertx vertx;
    private final EventBus bus;
    private final WorkerExecutor math;
    private final JobConfig job;
    private final ChunkStore store;
    private final Addresses addresses;
    private final Slots workers;
    private final EngineLoad load;
    private final int p;
    /** The columns [first, end) this streamer's shard sends (all of them when unsharded). */
    private final int firstColumn;
    private final int endColumn;
    /** Whether this streamer sends the round summaries (the coordinator) or only its shard's chunks. */
    private final boolean sendsSummaries;
    /**
     * Per slot: its last round summary was not taken (the worker is gone or not reading). Warned once when
     * it becomes so, not at every round after, and cleared when the worker takes a summary again.
     */
    private final boolean[] unreachable;
    /** Unfinished result streams per destination (a worker's address or a node's relay), oldest first. */
    private final Map<String, ArrayDeque<ResultStream>> streamsTo = new HashMap<>();
    /** Arrays of full aggregate frames, reused across columns and rounds. */
    private final ArrayPool<byte[]> frameArrays;

    AggregateStreamer(Vertx vertx, WorkerExecutor math, JobConfig job, ChunkStore store, Addresses addresses,
            Slots workers, EngineLoad load, int firstColumn, int endColumn, boolean summaries) {
        this.vertx = vertx;
        this.bus = vertx.eventBus();
        this.math = math;
        this.job = job;
        this.store = store;
        this.addresses = addresses;
        this.workers = workers;
        this.load = load;
        this.p = job.workers();
        this.firstColumn = firstColumn;
        this.endColumn = endColumn;
        this.sendsSummaries = summaries;
        this.unreachable = new boolean[p];
        // At most credits frames in flight per worker, and the cached ones.
        this.frameArrays = ArrayPool.bytes(job.credits() * (p + 4));
        frameArrays.reuse(ChunkFrame.frameBytes(job.chunkCoords()));
    }

    /** One round's result streams and the frames they share. */
    private static final class RoundResults {
        final Round round;
        final int[] participants;
        final Runnable done;
        int streams;
        int chunkStreams;
        final List<ResultStream> resultStreams = new ArrayList<>();
        long resultTimer = -1;
        final Map<Integer, SharedFrame> frames = new HashMap<>();

        RoundResults(Round round, int[] participants, Runnable done) {
            this.round = round;
            this.participants = participants;
            this.done = done;
        }
    }

    /** Notes whether the slot took round {@code id}'s summary ({@code failure} null): warns only on a change. */
    private void reachable(int slot, long id, Throwable failure) {
        if (failure == null) {
            if (unreachable[slot]) {
                unreachable[slot] = false;
                LOG.info("round {}: worker '{}' takes its results again", id, workers.name(slot));
            }
        } else if (!unreachable[slot]) {
            unreachable[slot] = true;
            LOG.warn("round {}: worker '{}' did not take its results ({}); not said again until it takes them",
                    id, workers.name(slot), failure.getMessage());
        } else {
            LOG.debug("round {}: worker '{}' still takes no results: {}", id, workers.name(slot), failure.getMessage());
        }
    }

    /**
     * Streams the round's summary to each of its workers (unless this is a shard that sends only chunks) and,
     * when it completed, the aggregate's chunks of this streamer's columns; {@code done} runs once every stream
     * finished or was dropped (at once when no worker joined). The returned future completes once every
     * summary was answered or failed: then other shards may stream their chunks, which a worker takes only
     * after its summary.
     */
    Future<Void> stream(Round round, int[] participants, JsonObject record, Runnable done) {
        RoundResults run = new RoundResults(round, participants, done);
        boolean completed = run.round.status() == Round.Status.COMPLETED;
        // Workers behind one relay (a node's data link) share one stream of the aggregate's chunks.
        Map<String, List<Integer>> byDestination = new LinkedHashMap<>();
        for (int s = 0; s < p; s++) {
            if (workers.joined(s)) {
                byDestination.computeIfAbsent(workers.destination(s), d -> new ArrayList<>()).add(s);
            }
        }
        run.streams = byDestination.size();
        run.chunkStreams = completed ? byDestination.size() : 0;
        if (run.streams == 0) {
            done.run();
            return Future.succeededFuture();
        }
        List<Future<Void>> summarised = new ArrayList<>();
        boolean[] included = new boolean[p];
        for (int s : run.participants == null ? new int[0] : run.participants) {
            included[s] = true;
        }
        byDestination.forEach((destination, slots) -> {
            List<JsonObject> summaries = new ArrayList<>();
            for (int slot : sendsSummaries ? slots : List.<Integer>of()) {
                JsonObject summary = new JsonObject()
                        .put("round", run.round.id())
                        .put("status", record.getString("status"))
                        .put("included", included[slot])
                        .put("chunks", completed ? job.chunks() : 0)
                        .put("record", record);
                String reason = run.round.excludedReason(slot);
                if (!included[slot]) {
                    summary.put("reason", reason != null ? "excluded: " + reason
                            : completed ? "straggler: the round closed without this worker's gradient" : record.getString("error"));
                }
                summaries.add(summary);
            }
            ResultStream stream = new ResultStream(run, destination, slots, completed);
            run.resultStreams.add(stream);
            // A worker (or node) holds at most max_result_rounds rounds' results: the oldest gives way.
            ArrayDeque<ResultStream> held = streamsTo.computeIfAbsent(destination, d -> new ArrayDeque<>());
            while (held.size() >= job.maxResultRounds()) {
                held.peekFirst().drop("results of more than " + job.maxResultRounds()
                        + " rounds unfinished (max_result_rounds): round " + held.peekFirst().run.round.id() + " gave way");
            }
            held.addLast(stream);
            summarised.add(stream.start(summaries));
        });
        // The whole result stream, not each message, is bounded in time: a worker that acknowledges just
        // in time, chunk after chunk, must not keep every round's data.
        run.resultTimer = vertx.setTimer(job.resultTimeoutMs(), t -> List.copyOf(run.resultStreams)
                .forEach(stream -> stream.drop("round " + run.round.id() + "'s results not acknowledged within "
                        + job.resultTimeoutMs() + " ms of its close (result_timeout_ms)")));
        return Future.join(summarised).mapEmpty();
    }

    private void streamDone(RoundResults run) {
        if (--run.streams == 0) {
            vertx.cancelTimer(run.resultTimer);
            run.done.run();
        }
    }

    /**
     * The aggregate's frame for a column, encoded once and shared by every worker's stream (frames are never
     * modified, and carry slot 0 whoever receives them). At most 4 x credits frames are cached per round; a
     * frame leaves the cache once every stream has sent it, and a stream far behind encodes its own. Each
     * frame's array goes back to {@link #frameArrays} once every send of it was acknowledged (a consumer is
     * done with a frame when it answers; after a failure or timeout it may still be reading it).
     */
    private SharedFrame aggregateFrame(RoundResults run, int column) {
        SharedFrame cached = run.frames.get(column);
        if (cached != null) {
            return cached;
        }
        long round = run.round.id();
        boolean cache = run.frames.size() < 4 * job.credits();
        SharedFrame shared = new SharedFrame(cache ? run.chunkStreams : 1);
        shared.frame = math.executeBlocking(() -> {
            // The output pass stored the frame itself: a copy, no encoding.
            byte[] bytes = frameArrays.take(ChunkFrame.frameBytes(job.chunkLength(column)));
            store.readBytes(new ChunkKey(round, p, column), bytes, 0);
            shared.bytes = bytes;
            return ChunkFrame.wrap(bytes);
        }, false);
        if (cache) {
            run.frames.put(column, shared);
        }
        return shared;
    }

    /** One stream is done with a column's frame (sent, failed, or given up): the last one releases it. */
    private void frameDone(RoundResults run, int column, SharedFrame shared, boolean acknowledged) {
        shared.lost |= !acknowledged;
        if (--shared.uses == 0) {
            run.frames.remove(column, shared);
            if (!shared.lost && shared.bytes != null) {
                frameArrays.give(shared.bytes);
            }
        }
    }

    /** An aggregate frame and the streams that will still send it. */
    private static final class SharedFrame {
        Future<Buffer> frame;
        /** Written by the math thread that encoded it, read after {@link #frame} completed. */
        volatile byte[] bytes;
        int uses;
        boolean lost;

        SharedFrame(int uses) {
            this.uses = uses;
        }
    }

    /**
     * Streams the round summary to each of its workers, then the aggregate's chunks to their destination
     * (one worker's address, or the relay of several) with at most W unacknowledged per worker behind it.
     */
    private final class ResultStream {
        private final RoundResults run;
        private final String destination;
        private final List<Integer> slots;
        private final boolean withChunks;
        private final DeliveryOptions chunkOptions;
        private int next = firstColumn;
        private int inFlight;
        private int acked;
        private boolean failed;
        private boolean done;

        ResultStream(RoundResults run, String destination, List<Integer> slots, boolean withChunks) {
            this.run = run;
            this.destination = destination;
            this.slots = slots;
            this.withChunks = withChunks;
            this.chunkOptions = new DeliveryOptions().setSendTimeout(job.resultTimeoutMs()).addHeader("type", "chunk")
                    .setCodecName(FrameCodec.NAME);
        }

        /** Chunks follow once every summary was answered (a worker ignores chunks before its summary). */
        Future<Void> start(List<JsonObject> summaries) {
            if (!sendsSummaries) {
                if (withChunks) {
                    pump();
                } else {
                    finish();
                }
                return Future.succeededFuture();
            }
            DeliveryOptions options = new DeliveryOptions().setSendTimeout(job.resultTimeoutMs())
                    .addHeader("type", "summary");
            List<Future<Object>> answered = new ArrayList<>();
            for (int k = 0; k < slots.size(); k++) {
                int slot = slots.get(k);
                answered.add(bus.request(addresses.results(slot), summaries.get(k), options).map(m -> (Object) null)
                        .onComplete(ar -> reachable(slot, run.round.id(), ar.cause())));
            }
            return Future.join(answered).onComplete(ar -> {
                if (failed) {
                    return;
                } else if (answered.stream().allMatch(Future::failed)) {
                    stop(null); // each worker's failure was said (once) by reachable
                } else if (withChunks) {
                    pump();
                } else {
                    finish();
                }
            }).<Void>mapEmpty().otherwiseEmpty();
        }

        private void pump() {
            while (!failed && inFlight < job.credits() * slots.size() && next < endColumn) {
                int column = next++;
                inFlight++;
                load.aggregateChunksInFlight.incrementAndGet();
                int[] frameBytes = new int[1];
                SharedFrame shared = aggregateFrame(run, column);
                shared.frame
                        .compose(frame -> {
                            frameBytes[0] = frame.length();
                            return bus.request(destination, frame, chunkOptions);
                        })
                        .onComplete(ar -> {
                            inFlight--;
                            frameDone(run, column, shared, ar.succeeded());
                            load.aggregateChunksInFlight.decrementAndGet();
                            if (ar.succeeded()) {
                                load.aggregateChunksSent.incrementAndGet();
                                load.aggregateBytesSent.addAndGet(frameBytes[0]);
                            }
                            if (ar.failed()) {
                                stop("aggregate chunk " + column + " not acknowledged: " + ar.cause().getMessage());
                            } else if (++acked == endColumn - firstColumn) {
                                finish();
                            } else if (failed) {
                                finishIfDrained();
                            } else {
                                pump();
                            }
                        });
            }
        }

        /** Stops the stream; a null reason: no summary was taken, which {@link #reachable} logged. */
        private void stop(String reason) {
            if (!failed) {
                failed = true;
                unhold();
                if (reason != null) {
                    LOG.warn("round {}: stopped streaming the aggregate to {}: {}", run.round.id(),
                            slots.stream().map(workers::name).toList(), reason);
                }
                // This stream will not send the columns it has not requested: they must not wait for it.
                if (withChunks) {
                    run.chunkStreams--;
                    for (Map.Entry<Integer, SharedFrame> cached : List.copyOf(run.frames.entrySet())) {
                        if (cached.getKey() >= next) {
                            frameDone(run, cached.getKey(), cached.getValue(), true);
                        }
                    }
                }
            }
            finishIfDrained();
        }

        /**
         * Over a bound (time, rounds held): stops the stream and tells its workers why (best effort: a worker
         * that does not read learns it when its exchange fails).
         */
        void drop(String reason) {
            if (done || failed) {
                return;
            }
            JsonObject notice = new JsonObject().put("round", run.round.id()).put("code", Codes.RESULTS_DROPPED)
                    .put("reason", reason);
            DeliveryOptions options = new DeliveryOptions().addHeader("type", "dropped");
            for (int slot : slots) {
                bus.send(addresses.results(slot), notice, options);
            }
            stop(reason);
        }

        /** A stopped stream is done once its in-flight chunks settled: their encode tasks read the store. */
        private void finishIfDrained() {
            if (inFlight == 0) {
                finish();
            }
        }

        private void finish() {
            if (!done) {
                done = true;
                unhold();
                streamDone(run);
            }
        }

        /** No longer counts against its destination's max_result_rounds nor the round's time bound. */
        private void unhold() {
            ArrayDeque<ResultStream> held = streamsTo.get(destination);
            if (held != null && held.remove(this) && held.isEmpty()) {
                streamsTo.remove(destination);
            }
            run.resultStreams.remove(this);
        }
    }
}
