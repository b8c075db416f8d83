package org.flagagg.ws;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.KeyStoreOptions;
import io.vertx.ext.web.Router;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.flagagg.bus.Addresses;
import org.flagagg.bus.ChunkFrame;
import org.flagagg.bus.FrameCodec;
import org.flagagg.round.JobConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The WebSocket gateway: workers outside the Vert.x cluster connect to {@code /v1/workers} on the
 * aggregator's HTTP server and take part in rounds like event-bus workers. Each connection authenticates
 * with a token ({@link TokenTable}), joins the job over the event bus and is bridged by a {@link Connection}:
 * gradient frames become chunk requests, their replies acks, and the aggregate streams back with the
 * client's acks as the credits (docs/protocol.md, "WebSocket workers").
 *
 * <p>Bounds per connection: at most {@code credits} gradient frames in flight to the aggregator and
 * {@code credits} aggregate frames unacknowledged; a message of at most one chunk frame; a control-message
 * rate; reading pauses while the socket's write queue is full.
 */
public final class Gateway {
    private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);

    /** The endpoint's path. */
    public static final String PATH = "/v1/workers";
    /** The protocol version this gateway speaks. */
    public static final int VERSION = 1;
    /** Largest text (control) message a client may send. */
    public static final int MAX_TEXT_BYTES = 4096;

    final Vertx vertx;
    final JobConfig job;
    final TokenTable tokens;
    final GatewayConfig config;
    final Addresses addresses;
    final ConcurrentHashMap<String, Connection> live = new ConcurrentHashMap<>();
    final AtomicInteger connections = new AtomicInteger();
    final AtomicInteger consumers = new AtomicInteger();
    final AtomicInteger maxUnackedResults = new AtomicInteger();
    final ConcurrentHashMap<Integer, AtomicLong> closes = new ConcurrentHashMap<>();

    public Gateway(Vertx vertx, JobConfig job, TokenTable tokens, GatewayConfig config) {
        this.vertx = vertx;
        this.job = job;
        this.tokens = tokens;
        this.config = config;
        this.addresses = new Addresses(job.job());
        FrameCodec.register(vertx.eventBus());
        if (tokens.size() == 0) {
            LOG.warn("the WebSocket gateway has no tokens: every worker connection will be refused (--tokens FILE)");
        }
    }

    /** Largest binary message: one chunk frame of chunk_coords values. */
    public int maxBinaryBytes() {
        return ChunkFrame.HEADER_BYTES + 4 * job.chunkCoords();
    }

    /**
     * The HTTP server options the gateway needs: no WebSocket compression (float32 payloads do not
     * compress, and deflate cost two-thirds of the throughput), frames of up to twice a chunk frame (a message
     * between one and two chunk frames is closed with 4413 and a reason; a single frame past twice is refused
     * by the WebSocket layer with 1009 before it is read), and TLS when a key store is configured.
     */
    public HttpServerOptions serverOptions(HttpServerOptions options) {
        int frameLimit = (int) Math.min(Integer.MAX_VALUE, Math.max(2L * maxBinaryBytes(), 2L * MAX_TEXT_BYTES));
        options.setPerMessageWebSocketCompressionSupported(false)
                .setPerFrameWebSocketCompressionSupported(false)
                .setMaxWebSocketFrameSize(frameLimit)
                .setMaxWebSocketMessageSize(frameLimit);
        if (config.tls()) {
            options.setSsl(true).setKeyCertOptions(new KeyStoreOptions().setType("PKCS12")
                    .setPath(config.tlsKeystore().toString()).setPassword(config.tlsPassword()));
        }
        return options;
    }

    /** Mounts the endpoint on the HTTP server's router. */
    public void mount(Router router) {
        router.get(PATH).handler(ctx -> upgrade(ctx.request()));
    }

    /** The endpoint's URL on this host and port: ws:// or wss://. */
    public String url(String host, int port) {
        return (config.tls() ? "wss://" : "ws://") + host + ":" + port + PATH;
    }

    private void upgrade(HttpServerRequest request) {
        String header = request.getHeader("Authorization");
        String token = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).strip() : null;
        String worker = tokens.workerOf(token);
        request.toWebSocket().onSuccess(ws -> {
            if (worker == null) {
                String reason = token == null ? "missing token: send 'Authorization: Bearer TOKEN'"
                        : tokens.size() == 0 ? "this server has no tokens (start it with --tokens FILE)"
                        : "unknown or revoked token";
                Connection.refuse(this, ws, CloseCodes.UNAUTHORIZED, reason);
                return;
            }
            Connection connection = new Connection(this, ws, worker);
            if (live.putIfAbsent(worker, connection) != null) {
                Connection.refuse(this, ws, CloseCodes.CONFLICT, "worker '" + worker
                        + "' already has a live connection with this token");
                return;
            }
            connection.start();
        }).onFailure(e -> {
            if (!request.response().ended()) {
                request.response().setStatusCode(400).putHeader("content-type", "application/json")
                        .end(new JsonObject().put("error", PATH + " speaks WebSocket (protocol version " + VERSION
                                + "): " + e.getMessage()).encode());
            }
        });
    }

    void closed(int code) {
        closes.computeIfAbsent(code, c -> new AtomicLong()).incrementAndGet();
    }

    /**
     * Counters for monitoring and tests: {@code connections} (live sessions), {@code consumers} (result
     * consumers registered on the event bus), {@code max_unacked_results} (most aggregate frames any
     * connection had unacknowledged; never above credits), {@code closes} (by close code).
     */
    public JsonObject stats() {
        Map<String, Object> byCode = new TreeMap<>();
        closes.forEach((code, n) -> byCode.put(Integer.toString(code), n.get()));
        return new JsonObject()
                .put("connections", connections.get())
                .put("consumers", consumers.get())
                .put("max_unacked_results", maxUnackedResults.get())
                .put("closes", new JsonObject(byCode));
    }
}
