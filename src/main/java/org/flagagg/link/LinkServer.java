package org.flagagg.link;

import io.netty.buffer.ByteBuf;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import java.util.UUID;
import org.flagagg.config.JobConfig;
import org.flagagg.config.LinkConfig;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ArrayPool;
import org.flagagg.wire.Codes;
import org.flagagg.wire.EngineBridge;
import org.flagagg.wire.FrameCodec;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.LinkRecords;
import org.flagagg.wire.VertxInternals;
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
 * <p>Every connection authenticates first: HELLO, CHALLENGE, AUTH (the node's HMAC over both nonces with the
 * {@link JobSecret}), WELCOME (the server's). Until then records are at most
 * {@link LinkRecords#MAX_UNAUTHENTICATED_RECORD} bytes, at most {@link Limits#maxUnauthenticated} such
 * connections are open and each is closed after {@link Limits#authTimeoutMs}; at most
 * {@link Limits#maxConnections} are open in all. A FRAME goes to the aggregator with the connection's relay,
 * and is refused unless its slot joined through that relay.
 *
 * <p>Worker nodes find the server by asking {@link Addresses#link()} over the event bus. Bounds once
 * authenticated: a connection stops reading while {@code workers x credits} of its frames await the
 * aggregator's reply (a well-behaved node never has more), records are at most one chunk frame long, and at
 * most {@code credits} aggregate frames per relay stream await the node's ACK (the aggregator's own limit).
 */
public final class LinkServer extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(LinkServer.class);

    /**
     * Connection bounds, from the configuration's "link" section: {@code max_connections} open in all,
     * {@code max_unauthenticated} of them before AUTH, each closed if not authenticated after
     * {@code auth_timeout_ms}.
     */
    public record Limits(int maxConnections, int maxUnauthenticated, long authTimeoutMs) {
        public Limits {
            if (maxConnections < 1 || maxUnauthenticated < 1 || authTimeoutMs < 1) {
                throw new IllegalArgumentException("link.max_connections, link.max_unauthenticated and "
                        + "link.auth_timeout_ms must be >= 1, got " + maxConnections + ", " + maxUnauthenticated
                        + ", " + authTimeoutMs);
            }
        }

        public static Limits defaults() {
            return of(LinkConfig.defaults());
        }

        /** The limits of the configuration's "link" section. */
        public static Limits of(LinkConfig link) {
            return new Limits(link.maxConnections(), link.maxUnauthenticated(), link.authTimeoutMs());
        }
    }

    private final JobConfig job;
    private final JobSecret secret;
    private final String host;
    private final int port;
    private final Limits limits;
    private final Addresses addresses;
    private NetServer server;
    private EventBus bus;
    private String shardToken;
    /** Open connections, and those not authenticated yet; on the verticle's event loop. */
    private int connections;
    private int unauthenticated;

    /** {@link #LinkServer(JobConfig, JobSecret, String, int, Limits)} with the default limits. */
    public LinkServer(JobConfig job, JobSecret secret, String host, int port) {
        this(job, secret, host, port, Limits.defaults());
    }

    /**
     * Listens on {@code host:port} (0 picks a free port; the address is announced over the bus) for nodes
     * that hold {@code secret}.
     */
    public LinkServer(JobConfig job, JobSecret secret, String host, int port, Limits limits) {
        this.job = job;
        this.secret = java.util.Objects.requireNonNull(secret, "the data link needs the job secret");
        this.host = host;
        this.port = port;
        this.limits = limits;
        this.addresses = new Addresses(job.job());
    }

    /** The job's shards run on shard hosts too: forward chunks there, with the job's shard token (before deploy). */
    public LinkServer shardToken(String token) {
        this.shardToken = token;
        return this;
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
        server.connectHandler(socket -> {
            if (connections >= limits.maxConnections() || unauthenticated >= limits.maxUnauthenticated()) {
                String reason = connections >= limits.maxConnections()
                        ? "the data link has its " + limits.maxConnections() + " connections (link.max_connections)"
                        : limits.maxUnauthenticated() + " connections are authenticating (link.max_unauthenticated)";
                LOG.warn("refusing a data-link connection from {}: {}", socket.remoteAddress(), reason);
                VertxInternals.writeMessage(socket, LinkRecords.bye(Codes.TOO_MANY, reason))
                        .onComplete(ar -> socket.close());
                return;
            }
            new Connection(socket).start();
        });
        return server.listen().compose(s -> bus.consumer(addresses.link(), msg -> msg.reply(
                new JsonObject().put("host", host).put("port", s.actualPort()))).completion());
    }

    @Override
    public Future<?> stop() {
        return server.close();
    }

    /** One worker node's connection; everything runs on its event loop. */
    private final class Connection {
        private final NetSocket socket;
        private final String relay = addresses.relay(UUID.randomUUID().toString());
        /** Gradient frames to the aggregator, and its aggregate frames held until the node ACKs them (by seq). */
        private final EngineBridge<Integer> bridge = new EngineBridge<>(vertx, addresses, job.plan(),
                job.deadline().maxMs() + job.resultTimeoutMs(), relay, shardToken);
        private final int maxForwarding = job.workers() * job.credits();
        private final int maxRecord = LinkRecords.maxRecord(job.chunkCoords());
        /** Record arrays of full chunks, reused once the aggregator answered their frame. */
        private final ArrayPool<byte[]> arrays = ArrayPool.bytes(maxForwarding + 1);
        /** Until AUTH: records of at most {@link LinkRecords#MAX_UNAUTHENTICATED_RECORD} bytes. */
        private final LinkRecords.Reader reader = new LinkRecords.Reader(LinkRecords.MAX_UNAUTHENTICATED_RECORD,
                arrays::take, this::onRecord);
        private final long authTimer;
        private MessageConsumer<Object> relayConsumer;
        /** The node's nonce from HELLO, then the server's from CHALLENGE; null before. */
        private String nodeNonce;
        private String serverNonce;
        private boolean authenticated;
        private int nextSeq;
        private boolean paused;
        private boolean closed;

        Connection(NetSocket socket) {
            this.socket = socket;
            connections++;
            unauthenticated++;
            this.authTimer = vertx.setTimer(limits.authTimeoutMs(), t -> {
                if (!authenticated) {
                    fail(Codes.TIMEOUT, "not authenticated within " + limits.authTimeoutMs() + " ms (link.auth_timeout_ms)");
                }
            });
        }

        void start() {
            arrays.reuse(maxRecord);
            VertxInternals.messageHandler(socket, msg -> {
                if (closed || !(msg instanceof ByteBuf in)) {
                    io.netty.util.ReferenceCountUtil.release(msg);
                    return;
                }
                try {
                    reader.read(in);
                } catch (LinkRecords.LinkException e) {
                    fail(e.code(), e.getMessage());
                }
            });
            socket.closeHandler(v -> closed());
        }

        private JsonObject json(LinkRecords.Record record, String what) {
            try {
                return new JsonObject(record.text());
            } catch (RuntimeException e) {
                throw new LinkRecords.LinkException(what + " is not a JSON object");
            }
        }

        /** The node's HELLO: version, job and nonce checked, the CHALLENGE carries the server's nonce. */
        private void hello(LinkRecords.Record record) {
            JsonObject hello = json(record, "HELLO");
            Object version = hello.getValue("version");
            if (!(version instanceof Integer v) || v != LinkRecords.VERSION) {
                throw new LinkRecords.LinkException("HELLO asks for version " + version + ", this server speaks "
                        + LinkRecords.VERSION);
            }
            if (!job.job().equals(hello.getValue("job"))) {
                throw new LinkRecords.LinkException("this data link serves job '" + job.job() + "', not "
                        + hello.getValue("job"));
            }
            if (!(hello.getValue("nonce") instanceof String nonce) || !nonce.matches("[0-9a-f]{64}")) {
                throw new LinkRecords.LinkException("HELLO's nonce must be 64 lower-case hex characters");
            }
            nodeNonce = nonce;
            serverNonce = JobSecret.nonce();
            VertxInternals.writeMessage(socket, LinkRecords.text(LinkRecords.CHALLENGE,
                    new JsonObject().put("nonce", serverNonce).encode()));
        }

        /** The node's AUTH: its proof checked, its relay registered, then the WELCOME with the server's proof. */
        private void auth(LinkRecords.Record record) {
            if (!(json(record, "AUTH").getValue("proof") instanceof String proof)
                    || !secret.verify(proof, LinkRecords.NODE_PROOF, job.job(), nodeNonce, serverNonce)) {
                throw new LinkRecords.LinkException(Codes.UNAUTHORIZED, "authentication failed: the node's proof "
                        + "does not match this job's secret (cluster.secret)");
            }
            authenticated = true;
            unauthenticated--;
            vertx.cancelTimer(authTimer);
            reader.limit(LinkRecords.readLimit(job.chunkCoords()));
            relayConsumer = bus.consumer(relay, this::onAggregateFrame);
            relayConsumer.completion().onSuccess(v -> VertxInternals.writeMessage(socket,
                    LinkRecords.welcome(new JsonObject().put("version", LinkRecords.VERSION).put("relay", relay)
                    .put("max_record", LinkRecords.maxRecord(job.chunkCoords()))
                    .put("proof", secret.mac(LinkRecords.SERVER_PROOF, job.job(), nodeNonce, serverNonce, relay))
                    .encode())))
                    .onFailure(e -> fail(Codes.SERVER_ERROR, "cannot register the relay: " + e.getMessage()));
        }

        private void onRecord(LinkRecords.Record record) {
            if (nodeNonce == null || !authenticated) {
                int expected = nodeNonce == null ? LinkRecords.HELLO : LinkRecords.AUTH;
                if (record.type() != expected) {
                    throw new LinkRecords.LinkException("record type " + record.type() + " before "
                            + (nodeNonce == null ? "HELLO" : "AUTH"));
                }
                if (nodeNonce == null) {
                    hello(record);
                } else {
                    auth(record);
                }
                return;
            }
            switch (record.type()) {
                case LinkRecords.FRAME -> forward(record);
                case LinkRecords.ACK -> {
                    if (record.length() < LinkRecords.PREFIX_BYTES) {
                        throw new LinkRecords.LinkException("ACK of " + record.length() + " bytes has no code");
                    }
                    if (!bridge.acknowledge(record.seq(), record.code(), record.text())) {
                        throw new LinkRecords.LinkException("ACK for seq " + record.seq() + ", which awaits none");
                    }
                }
                default -> throw new LinkRecords.LinkException("record type " + record.type() + " is not FRAME or ACK");
            }
        }

        private void forward(LinkRecords.Record record) {
            int seq = record.seq();
            Future<EngineBridge.Answer> answered = bridge.forward(record.frame());
            if (bridge.forwarding() >= maxForwarding && !paused) {
                paused = true;
                socket.pause();
            }
            answered.onSuccess(answer -> {
                if (answer.engineDone()) {
                    arrays.give(record.bytes());
                }
                if (paused && bridge.forwarding() < maxForwarding && !closed) {
                    paused = false;
                    socket.resume();
                }
                if (!closed) {
                    VertxInternals.writeMessage(socket, LinkRecords.ack(seq, answer.code(), answer.reason()));
                }
            });
        }

        /** An aggregate frame for this node's workers: written once, answered when the node ACKs it. */
        private void onAggregateFrame(Message<Object> msg) {
            if (!(msg.body() instanceof io.vertx.core.buffer.Buffer frame) || closed) {
                msg.fail(closed ? Codes.GONE : Codes.BAD_REQUEST, closed ? "link closed" : "relays carry chunk frames");
                return;
            }
            int seq = nextSeq++;
            bridge.hold(seq, msg, -1);
            VertxInternals.writeMessage(socket, LinkRecords.framePrefix(seq, frame));
            VertxInternals.writeMessage(socket, LinkRecords.body(frame));
        }

        /** Tells the node why in a BYE, then closes. */
        private void fail(int code, String reason) {
            if (closed) {
                return;
            }
            LOG.warn("closing data link from {}: {}", socket.remoteAddress(), reason);
            VertxInternals.writeMessage(socket, LinkRecords.bye(code, reason)).onComplete(ar -> socket.close());
            closed();
        }

        private void closed() {
            if (closed) {
                return;
            }
            closed = true;
            connections--;
            if (!authenticated) {
                unauthenticated--;
                vertx.cancelTimer(authTimer);
            }
            if (relayConsumer != null) {
                relayConsumer.unregister();
            }
            bridge.close("data link closed");
        }
    }
}
