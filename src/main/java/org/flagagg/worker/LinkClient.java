package org.flagagg.worker;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ArrayPool;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.Codes;
import org.flagagg.wire.FrameException;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.LinkRecords;
import org.flagagg.wire.VertxInternals;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker node's end of the data link ({@code org.flagagg.link.LinkServer}): one TCP connection to the aggregator's JVM
 * shared by every worker of this JVM. Gradient chunks are encoded straight into direct buffers and
 * written with no further copy; each completes when the aggregator's ACK comes back. The aggregate comes
 * once per node: each aggregate frame is checked once, handed to every attached worker on its own context,
 * and acknowledged when all of them took it, so the slowest reader of the node paces the stream.
 *
 * <p>Thread-safe: workers on different contexts send and attach concurrently; futures complete on the
 * context that called.
 */
public final class LinkClient {
    private static final Logger LOG = LoggerFactory.getLogger(LinkClient.class);
    /**
     * Spare record arrays, and spare direct buffers for gradient records, kept: at most credits x workers
     * frames are in flight either way.
     */
    private static final int MAX_SPARE = 64;

    /** A worker that receives the node's aggregate frames. */
    public interface Receiver {
        /** The context the worker lives on: {@link #aggregateChunk} is called there. */
        Context context();

        /**
         * One valid aggregate frame, decoded once for every worker of the node into values[0, header.count()):
         * read them, never write. The returned future completes once the worker took it (or gave it up).
         */
        Future<Void> aggregateChunk(ChunkFrame.Header header, float[] values);

        /** The link closed: no aggregate frame will come any more. Called on {@link #context()}. */
        default void linkClosed(String reason) {
        }
    }

    private record Pending(Context context, Promise<Void> promise) {
    }

    private final Vertx vertx;
    private final NetClient netClient;
    private final NetSocket socket;
    private final String job;
    private final JobSecret secret;
    /** This node's nonce in HELLO, and the server's from its CHALLENGE (null before). */
    private final String nodeNonce = JobSecret.nonce();
    private volatile String serverNonce;
    private final Promise<String> welcome = Promise.promise();
    private final Map<Integer, Pending> pending = new ConcurrentHashMap<>();
    private final Map<Integer, Receiver> receivers = new ConcurrentHashMap<>();
    private final AtomicInteger nextSeq = new AtomicInteger();
    /** Aggregate records' arrays, reused once every worker of the node took the frame. */
    private final ArrayPool<byte[]> arrays = ArrayPool.bytes(MAX_SPARE);
    /** Aggregate chunks' values, decoded once per node, reused once every worker of the node took them. */
    private final ArrayPool<float[]> decoded = ArrayPool.floats(MAX_SPARE);
    private volatile int decodedLength;
    /**
     * Gradient records' direct buffers, reused once written. Netty's pool does not cache chunk-sized buffers
     * per thread, so it kept allocating, zeroing and freeing them: 4% of the worker node's CPU.
     */
    private final ArrayDeque<ByteBuf> spareRecords = new ArrayDeque<>();
    private volatile int recordCapacity;
    private final LinkRecords.Reader reader = new LinkRecords.Reader(LinkRecords.MIN_READ_LIMIT, arrays::take, this::onRecord);
    private volatile boolean closed;
    /** Closed by {@link #close()}: no {@link #current} link follows it. */
    private boolean closedHere;
    /** The connection that replaces this one once it closed (see {@link #current}); guarded by this. */
    private Future<LinkClient> successor;

    private LinkClient(Vertx vertx, NetClient netClient, NetSocket socket, String job, JobSecret secret) {
        this.vertx = vertx;
        this.netClient = netClient;
        this.socket = socket;
        this.job = job;
        this.secret = secret;
    }

    /**
     * Asks the job's aggregator over the event bus where its data link listens, connects, authenticates with
     * the job secret (and checks the server's proof), and completes once the server's WELCOME arrived. Fails
     * if the aggregator has no data link, or refused this node (the server's reason).
     */
    public static Future<LinkClient> connect(Vertx vertx, String job, JobSecret secret) {
        return connect(vertx, job, secret, new DeliveryOptions());
    }

    /** {@link #connect(Vertx, String, JobSecret)} asking where the link listens with {@code ask}'s send timeout. */
    private static Future<LinkClient> connect(Vertx vertx, String job, JobSecret secret, DeliveryOptions ask) {
        Addresses addresses = new Addresses(job);
        NetClient netClient = vertx.createNetClient(new NetClientOptions().setTcpNoDelay(true)
                .setReceiveBufferSize(LinkRecords.RECEIVE_BUFFER_BYTES));
        return vertx.eventBus().<JsonObject>request(addresses.link(), null, ask)
                .compose(where -> netClient.connect(where.body().getInteger("port"), where.body().getString("host")))
                .compose(socket -> new LinkClient(vertx, netClient, socket, job, secret).start())
                .onFailure(e -> netClient.close());
    }

    private Future<LinkClient> start() {
        VertxInternals.messageHandler(socket, msg -> {
            if (closed || !(msg instanceof ByteBuf in)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            try {
                reader.read(in);
            } catch (RuntimeException e) {
                LOG.warn("closing the data link: {}", e.getMessage());
                socket.close();
                closed(e.getMessage());
            }
        });
        socket.closeHandler(v -> closed("the aggregator closed the data link"));
        // The server speaks only after HELLO, so nothing it sends can arrive before the handler above.
        VertxInternals.writeMessage(socket, LinkRecords.text(LinkRecords.HELLO, new JsonObject()
                .put("version", LinkRecords.VERSION)
                .put("job", job).put("nonce", nodeNonce).encode()));
        return welcome.future().map(relay -> this);
    }

    /** The job secret this node authenticated with: its workers prove it when they join. */
    public JobSecret secret() {
        return secret;
    }

    /** The relay address workers of this node join with, so their aggregate comes once over this link. */
    public String relay() {
        return welcome.future().result();
    }

    /** Hands this node's aggregate frames to {@code receiver} (one per slot) until {@link #detach}. */
    public void attach(int slot, Receiver receiver) {
        receivers.put(slot, receiver);
    }

    public void detach(int slot) {
        receivers.remove(slot);
    }

    /**
     * Sends values[0, count) as the gradient chunk (round, slot, chunkIndex, offset). Completes on the calling
     * context when the aggregator accepted it; fails with a {@link ReplyException} of type RECIPIENT_FAILURE
     * carrying the aggregator's code when it refused it, and with another exception when the link is gone.
     */
    public Future<Void> send(long round, int slot, int chunkIndex, long offset, float[] values, int count) {
        Context context = Vertx.currentContext();
        Promise<Void> promise = Promise.promise();
        if (closed) {
            return Future.failedFuture(new IllegalStateException("the data link is closed"));
        }
        int seq = nextSeq.getAndIncrement();
        pending.put(seq, new Pending(context, promise));
        if (closed) {
            settle(seq, -1, "the data link is closed");
            return promise.future();
        }
        ByteBuf record = LinkRecords.frame(takeRecordBuffer(LinkRecords.frameRecordBytes(count)), seq,
                ChunkFrame.KIND_GRADIENT, round, slot, chunkIndex, offset, values, count);
        // Retained so the buffer outlives Netty's release once written, and comes back here.
        VertxInternals.writeMessage(socket, record.retain()).onComplete(ar -> {
            recycle(record);
            if (ar.failed()) {
                settle(seq, -1, "cannot write to the data link: " + ar.cause().getMessage());
            }
        });
        return promise.future();
    }

    private ByteBuf takeRecordBuffer(int bytes) {
        ByteBuf spare;
        synchronized (spareRecords) {
            spare = spareRecords.poll();
        }
        if (spare != null && spare.capacity() >= bytes) {
            return spare;
        }
        if (spare != null) {
            spare.release();
        }
        return Unpooled.directBuffer(Math.max(bytes, recordCapacity));
    }

    /** A written record's buffer: kept for the next send, unless enough are spare or the link is closed. */
    private void recycle(ByteBuf record) {
        if (record.refCnt() > 1) {
            record.release(record.refCnt() - 1);  // the write failed before Netty took it
        }
        synchronized (spareRecords) {
            if (!closed && spareRecords.size() < MAX_SPARE) {
                spareRecords.push(record);
                return;
            }
        }
        record.release();
    }

    /**
     * The link to use now: this one while it is open; once it closed (its aggregator died), a new connection
     * to the job's current aggregator, one for all the node's workers that ask (after a failed attempt the
     * next call tries again). Fails after {@link #close()}.
     */
    public Future<LinkClient> current() {
        Future<LinkClient> next;
        synchronized (this) {
            if (closedHere) {
                return Future.failedFuture(new IllegalStateException("the data link was closed by this worker node"));
            }
            if (!closed) {
                return Future.succeededFuture(this);
            }
            if (successor == null || successor.failed()) {
                // Bounded: the dead aggregator's address may still be listed until the cluster declares it dead.
                successor = connect(vertx, job, secret, new DeliveryOptions().setSendTimeout(Worker.ASK_MS));
            }
            next = successor;
        }
        return next.compose(LinkClient::current);
    }

    /**
     * Drops the connection as if it broke: its aggregator is known to be gone. Unlike {@link #close()}, the
     * next {@link #current()} connects a new link.
     */
    void drop(String reason) {
        closed(reason);
        socket.close();
    }

    /** Closes the connection, and the one that replaced it if any; pending sends fail. */
    public Future<Void> close() {
        Future<LinkClient> next;
        synchronized (this) {
            closedHere = true;
            next = successor;
        }
        closed("closed by this worker node");
        Future<Void> closing = socket.close().eventually(netClient::close);
        return next == null ? closing
                : closing.eventually(() -> next.compose(LinkClient::close).recover(e -> Future.succeededFuture()));
    }

    private void onRecord(LinkRecords.Record record) {
        if (!welcome.future().isComplete() && record.type() != LinkRecords.CHALLENGE
                && record.type() != LinkRecords.WELCOME && record.type() != LinkRecords.BYE) {
            throw new LinkRecords.LinkException("record type " + record.type() + " before WELCOME");
        }
        switch (record.type()) {
            case LinkRecords.CHALLENGE -> {
                if (serverNonce != null) {
                    throw new LinkRecords.LinkException("a second CHALLENGE");
                }
                String nonce = new JsonObject(record.text()).getString("nonce");
                if (nonce == null) {
                    throw new LinkRecords.LinkException("a CHALLENGE without a nonce");
                }
                serverNonce = nonce;
                VertxInternals.writeMessage(socket, LinkRecords.text(LinkRecords.AUTH, new JsonObject()
                        .put("proof", secret.mac(LinkRecords.NODE_PROOF, job, nodeNonce, serverNonce)).encode()));
            }
            case LinkRecords.BYE -> throw new LinkRecords.LinkException("the aggregator refused this node: "
                    + record.code() + " " + record.text());
            case LinkRecords.WELCOME -> {
                JsonObject json = new JsonObject(record.text());
                if (serverNonce == null || welcome.future().isComplete() || !secret.verify(json.getString("proof"),
                        LinkRecords.SERVER_PROOF, job, nodeNonce, serverNonce, json.getString("relay"))) {
                    throw new LinkRecords.LinkException("the server's WELCOME does not prove it holds the job secret");
                }
                reader.limit(Math.max(json.getInteger("max_record"), LinkRecords.MIN_READ_LIMIT));
                arrays.reuse(json.getInteger("max_record"));
                recordCapacity = 4 + json.getInteger("max_record");  // max_record leaves out the length field
                decodedLength = LinkRecords.chunkCoords(json.getInteger("max_record"));
                decoded.reuse(decodedLength);
                welcome.tryComplete(json.getString("relay"));
            }
            case LinkRecords.ACK -> settle(record.seq(), record.code(), record.text());
            case LinkRecords.FRAME -> deliver(record);
            default -> throw new LinkRecords.LinkException("record type " + record.type()
                    + " is not CHALLENGE, WELCOME, FRAME, ACK or BYE");
        }
    }

    /** code 0: accepted; > 0: refused by the aggregator; < 0: the link failed. */
    private void settle(int seq, int code, String reason) {
        Pending p = pending.remove(seq);
        if (p == null) {
            return;
        }
        Runnable outcome = () -> {
            if (code == 0) {
                p.promise().complete();
            } else if (code > 0) {
                p.promise().fail(new ReplyException(ReplyFailure.RECIPIENT_FAILURE, code, reason));
            } else {
                p.promise().fail(new IllegalStateException(reason));
            }
        };
        if (p.context() == null) {
            outcome.run();
        } else {
            p.context().runOnContext(v -> outcome.run());
        }
    }

    /** An aggregate frame: checked once, handed to every worker of the node, acknowledged when all took it. */
    private void deliver(LinkRecords.Record record) {
        int seq = record.seq();
        Buffer frame = record.frame();
        ChunkFrame.Header h;
        try {
            h = ChunkFrame.parse(frame);
        } catch (FrameException e) {
            VertxInternals.writeMessage(socket, LinkRecords.ack(seq, Codes.BAD_REQUEST,
                    "malformed aggregate frame: " + e.getMessage()));
            return;
        }
        // Decoded once here rather than by each of the node's workers: 16 workers made 16 passes.
        float[] values = decoded.take(Math.max(h.count(), decodedLength));
        ChunkFrame.readPayload(frame, h, values, 0);
        arrays.give(record.bytes());
        List<Future<Void>> taken = new ArrayList<>();
        for (Receiver receiver : receivers.values()) {
            Promise<Void> done = Promise.promise();
            // A worker's own failure is its own (its exchange fails); the node's other workers go on.
            receiver.context().runOnContext(v -> receiver.aggregateChunk(h, values).onComplete(ar -> done.complete()));
            taken.add(done.future());
        }
        Future.all(taken).onComplete(ar -> {
            decoded.give(values);
            VertxInternals.writeMessage(socket, LinkRecords.ack(seq, 0, null));
        });
    }

    private void closed(String reason) {
        if (closed) {
            return;
        }
        closed = true;
        welcome.tryFail(reason);
        // The workers first: their exchanges fail with what the close means, not with their chunks' failure.
        for (Receiver receiver : receivers.values()) {
            receiver.context().runOnContext(v -> receiver.linkClosed("data link closed: " + reason));
        }
        for (Integer seq : List.copyOf(pending.keySet())) {
            settle(seq, -1, "data link closed: " + reason);
        }
        synchronized (spareRecords) {
            spareRecords.forEach(ByteBuf::release);
            spareRecords.clear();
        }
    }
}
