package org.flagagg.link;

import io.netty.buffer.ByteBuf;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import org.flagagg.bus.Addresses;
import org.flagagg.bus.ArrayPool;
import org.flagagg.bus.Codes;
import org.flagagg.bus.FrameCodec;
import org.flagagg.round.JobConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The aggregator's end of the data link: a TCP server beside the event bus, in the aggregator's JVM, for
 * worker nodes in other JVMs. Gradient frames arrive as FRAME records and go to the aggregator over the
 * local event bus (no copy); the reply comes back as an ACK. Each connection is one worker node's relay:
 * its workers join with the connection's relay address, and the aggregator sends each aggregate chunk to
 * that address once for all of them; it is written to the node as a FRAME, and the node's ACK answers the
 * event-bus request, so the aggregator's credit limit holds across the link.
 *
 * <p>Worker nodes find the server by asking {@link Addresses#link()} over the event bus. Bounds: a
 * connection stops reading while {@code workers x credits} of its frames await the aggregator's reply (a
 * well-behaved node never has more), records are at most one chunk frame long, and at most {@code credits}
 * aggregate frames per relay stream await the node's ACK (the aggregator's own limit).
 */
public final class LinkServer extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(LinkServer.class);
    /** Failure code for aggregate frames that could not be delivered because the link closed. */
    static final int GONE = 410;

    private final JobConfig job;
    private final String host;
    private final int port;
    private final Addresses addresses;
    private NetServer server;
    private EventBus bus;

    /** Listens on {@code host:port} (0 picks a free port; the address is announced over the bus). */
    public LinkServer(JobConfig job, String host, int port) {
        this.job = job;
        this.host = host;
        this.port = port;
        this.addresses = new Addresses(job.job());
    }

    /** The port listened on, once started. */
    public int actualPort() {
        return server.actualPort();
    }

    @Override
    public Future<?> start() {
        bus = vertx.eventBus();
        FrameCodec.register(bus);
        server = vertx.createNetServer(new NetServerOptions().setHost(host).setPort(port).setTcpNoDelay(true)
                .setReceiveBufferSize(LinkRecords.RECEIVE_BUFFER_BYTES));
        server.connectHandler(socket -> new Connection((NetSocketInternal) socket).start());
        return server.listen().compose(s -> bus.consumer(addresses.link(), msg -> msg.reply(
                new JsonObject().put("host", host).put("port", s.actualPort()))).completion());
    }

    @Override
    public Future<?> stop() {
        return server.close();
    }

    /** One worker node's connection; everything runs on its event loop. */
    private final class Connection {
        private final NetSocketInternal socket;
        private final String relay = addresses.relay(UUID.randomUUID().toString());
        // Local only: the frames are for the aggregator of this JVM, never another node that registered the
        // address, and the clustered bus need not look the address up in the cluster for every chunk.
        private final DeliveryOptions chunkOptions = new DeliveryOptions().setCodecName(FrameCodec.NAME)
                .setSendTimeout(job.deadline().maxMs() + job.resultTimeoutMs()).setLocalOnly(true);
        private final int maxForwarding = job.workers() * job.credits();
        /** Aggregate frames written to the node, by seq, until its ACK answers them. */
        private final Map<Integer, Message<Object>> unacked = new HashMap<>();
        private final int maxRecord = LinkRecords.maxRecord(job.chunkCoords());
        /** Record arrays of full chunks, reused once the aggregator answered their frame. */
        private final ArrayPool<byte[]> arrays = ArrayPool.bytes(maxForwarding + 1);
        private MessageConsumer<Object> relayConsumer;
        private int forwarding;
        private int nextSeq;
        private boolean paused;
        private boolean closed;

        Connection(NetSocketInternal socket) {
            this.socket = socket;
        }

        void start() {
            arrays.reuse(maxRecord);
            LinkRecords.Reader reader = new LinkRecords.Reader(LinkRecords.readLimit(job.chunkCoords()), arrays::take,
                    this::onRecord);
            socket.messageHandler(msg -> {
                if (closed || !(msg instanceof ByteBuf in)) {
                    io.netty.util.ReferenceCountUtil.release(msg);
                    return;
                }
                try {
                    reader.read(in);
                } catch (LinkRecords.LinkException e) {
                    fail(e.getMessage());
                }
            });
            socket.closeHandler(v -> closed());
        }

        /** The node's HELLO: its relay is registered, then the WELCOME tells the node its address. */
        private void hello(LinkRecords.Record record) {
            if (relayConsumer != null) {
                throw new LinkRecords.LinkException("a second HELLO");
            }
            Integer version;
            try {
                version = new JsonObject(record.text()).getInteger("version");
            } catch (RuntimeException e) {
                throw new LinkRecords.LinkException("HELLO is not a JSON object with an integer version");
            }
            if (version == null || version != LinkRecords.VERSION) {
                throw new LinkRecords.LinkException("HELLO asks for version " + version + ", this server speaks "
                        + LinkRecords.VERSION);
            }
            relayConsumer = bus.consumer(relay, this::onAggregateFrame);
            relayConsumer.completion().onSuccess(v -> socket.writeMessage(LinkRecords.welcome(new JsonObject()
                    .put("version", LinkRecords.VERSION).put("relay", relay)
                    .put("max_record", LinkRecords.maxRecord(job.chunkCoords())).encode())))
                    .onFailure(e -> fail("cannot register the relay: " + e.getMessage()));
        }

        private void onRecord(LinkRecords.Record record) {
            if (relayConsumer == null && record.type() != LinkRecords.HELLO) {
                throw new LinkRecords.LinkException("record type " + record.type() + " before HELLO");
            }
            switch (record.type()) {
                case LinkRecords.HELLO -> hello(record);
                case LinkRecords.FRAME -> forward(record);
                case LinkRecords.ACK -> {
                    if (record.length() < LinkRecords.PREFIX_BYTES) {
                        throw new LinkRecords.LinkException("ACK of " + record.length() + " bytes has no code");
                    }
                    Message<Object> msg = unacked.remove(record.seq());
                    if (msg == null) {
                        throw new LinkRecords.LinkException("ACK for seq " + record.seq() + ", which awaits none");
                    }
                    if (record.code() == 0) {
                        msg.reply(null);
                    } else {
                        msg.fail(record.code(), record.text());
                    }
                }
                default -> throw new LinkRecords.LinkException("record type " + record.type() + " is not HELLO, FRAME or ACK");
            }
        }

        private void forward(LinkRecords.Record record) {
            int seq = record.seq();
            forwarding++;
            if (forwarding >= maxForwarding && !paused) {
                paused = true;
                socket.pause();
            }
            bus.request(addresses.chunks(), record.frame(), chunkOptions).onComplete(ar -> {
                forwarding--;
                // Answered, the aggregator is done with the frame; after a timeout it may still be reading it.
                boolean answered = ar.succeeded() || ar.cause() instanceof ReplyException e
                        && e.failureType() == ReplyFailure.RECIPIENT_FAILURE;
                if (answered) {
                    arrays.give(record.bytes());
                }
                if (paused && forwarding < maxForwarding && !closed) {
                    paused = false;
                    socket.resume();
                }
                if (closed) {
                    return;
                }
                if (ar.succeeded()) {
                    socket.writeMessage(LinkRecords.ack(seq, 0, null));
                } else if (ar.cause() instanceof ReplyException e && e.failureCode() > 0) {
                    socket.writeMessage(LinkRecords.ack(seq, e.failureCode(), e.getMessage()));
                } else {
                    socket.writeMessage(LinkRecords.ack(seq, Codes.SERVER_ERROR, ar.cause().getMessage()));
                }
            });
        }

        /** An aggregate frame for this node's workers: written once, answered when the node ACKs it. */
        private void onAggregateFrame(Message<Object> msg) {
            if (!(msg.body() instanceof io.vertx.core.buffer.Buffer frame) || closed) {
                msg.fail(closed ? GONE : Codes.BAD_REQUEST, closed ? "link closed" : "relays carry chunk frames");
                return;
            }
            int seq = nextSeq++;
            unacked.put(seq, msg);
            socket.writeMessage(LinkRecords.framePrefix(seq, frame));
            socket.writeMessage(LinkRecords.body(frame));
        }

        private void fail(String reason) {
            LOG.warn("closing data link from {}: {}", socket.remoteAddress(), reason);
            socket.close();
            closed();
        }

        private void closed() {
            if (closed) {
                return;
            }
            closed = true;
            if (relayConsumer != null) {
                relayConsumer.unregister();
            }
            unacked.values().forEach(m -> m.fail(GONE, "data link closed"));
            unacked.clear();
        }
    }
}
