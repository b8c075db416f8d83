package org.flagagg.ws;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.KeyStoreOptions;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.flagagg.config.GatewayConfig;
import org.flagagg.config.JobConfig;
import org.flagagg.config.TokenTable;
import org.flagagg.web.HttpApi;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.CloseCodes;
import org.flagagg.wire.FrameCodec;
import org.flagagg.wire.WsProtocol;
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
    private final ConcurrentHashMap<HttpConnection, Tracked> guarded = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, AtomicInteger> perAddress = new ConcurrentHashMap<>();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong refusedConnections = new AtomicLong();
    private final AtomicLong handshakeTimeouts = new AtomicLong();
    private final AtomicLong unauthorized = new AtomicLong();
    /** The job's shard token when its shards run on shard hosts: chunks are forwarded there with it. */
    volatile String shardToken;

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

    /** The job's shards run on shard hosts too: forward chunks there, with the job's shard token. */
    public Gateway shardToken(String token) {
        this.shardToken = token;
        return this;
    }

    /** Largest binary message: one chunk frame of chunk_coords values. */
    public int maxBinaryBytes() {
        return ChunkFrame.HEADER_BYTES + 4 * job.chunkCoords();
    }

    /** Largest single WebSocket frame the server reads: twice a chunk frame (and twice a text message). */
    int frameLimit() {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(2L * maxBinaryBytes(), 2L * MAX_TEXT_BYTES));
    }

    /**
     * The HTTP server options the gateway needs: no WebSocket compression (float32 payloads do not
     * compress, and deflate cost two-thirds of the throughput), frames of up to twice a chunk frame (a message
     * between one and two chunk frames is closed with 4413 and a reason; a single frame past twice is refused
     * with 1009 and a reason before it is read), and TLS when a key store is configured.
     */
    public HttpServerOptions serverOptions(HttpServerOptions options) {
        int frameLimit = frameLimit();
        options.setPerMessageWebSocketCompressionSupported(false)
                .setPerFrameWebSocketCompressionSupported(false)
                .setMaxWebSocketFrameSize(frameLimit)
                .setMaxWebSocketMessageSize(frameLimit)
                // Without h2c a connection is an HTTP/1.1 connection from its first byte, so the connection
                // bounds and the handshake timeout see silent sockets too (h2c waits for bytes to decide).
                .setHttp2ClearTextEnabled(false)
                .setSslHandshakeTimeout(config.handshakeTimeoutMs()).setSslHandshakeTimeoutUnit(TimeUnit.MILLISECONDS);
        if (config.tls()) {
            options.setSsl(true).setKeyCertOptions(new KeyStoreOptions().setType("PKCS12")
                    .setPath(config.tlsKeystore().toString()).setPassword(config.tlsPassword()));
        }
        return options;
    }

    /**
     * Mounts the endpoint on the HTTP server's router and guards every connection to that server: at most
     * {@code ws.max_connections_per_address} from one address and {@code ws.max_connections} in all (more are
     * closed as they are accepted: nothing was sent yet that could be answered), and a connection that sends
     * no request within {@code ws.handshake_timeout_ms} is closed.
     */
    public void mount(HttpApi api) {
        api.connectionHandler(this::accepted);
        api.router().route().order(Integer.MIN_VALUE).handler(ctx -> {
            Tracked tracked = guarded.get(ctx.request().connection());
            if (tracked != null) {
                vertx.cancelTimer(tracked.timer());
            }
            ctx.next();
        });
        api.router().get(PATH).handler(ctx -> upgrade(ctx.request()));
    }

    /** A connection counted against the bounds, and its timer for the first request. */
    private record Tracked(String address, long timer) {
    }

    private void accepted(HttpConnection conn) {
        String address = conn.remoteAddress() == null ? "?" : conn.remoteAddress().hostAddress();
        int fromAddress = perAddress.computeIfAbsent(address, a -> new AtomicInteger()).incrementAndGet();
        int total = open.incrementAndGet();
        if (fromAddress > config.maxConnectionsPerAddress() || total > config.maxConnections()) {
            release(address);
            // Logged once per 1000, not once per connection: a flood would flood the log too.
            if (refusedConnections.incrementAndGet() % 1000 == 1) {
                LOG.warn("closing a connection from {}: {} (refused so far: {})", address,
                        fromAddress > config.maxConnectionsPerAddress()
                                ? "over ws.max_connections_per_address = " + config.maxConnectionsPerAddress()
                                : "over ws.max_connections = " + config.maxConnections(), refusedConnections.get());
            }
            conn.close();
            return;
        }
        long timeoutMs = config.handshakeTimeoutMs();
        long timer = vertx.setTimer(timeoutMs, t -> {
            handshakeTimeouts.incrementAndGet();
            LOG.debug("closing a connection from {}: no request within {} ms (ws.handshake_timeout_ms)", address, timeoutMs);
            conn.close();
        });
        guarded.put(conn, new Tracked(address, timer));
        // Not called once the connection became a WebSocket: the socket's close handler untracks it then.
        conn.closeHandler(v -> untrack(conn));
    }

    /** Frees a connection's place under the bounds; idempotent. */
    void untrack(HttpConnection conn) {
        Tracked tracked = guarded.remove(conn);
        if (tracked != null) {
            vertx.cancelTimer(tracked.timer());
            release(tracked.address());
        }
    }

    private void release(String address) {
        open.decrementAndGet();
        perAddress.computeIfPresent(address, (a, n) -> n.decrementAndGet() <= 0 ? null : n);
    }

    /** The endpoint's URL on this host and port: ws:// or wss://. */
    public String url(String host, int port) {
        return (config.tls() ? "wss://" : "ws://") + host + ":" + port + PATH;
    }

    private void upgrade(HttpServerRequest request) {
        if (!request.canUpgradeToWebSocket()) {
            refuse(request, 400, PATH + " speaks WebSocket (protocol version " + WsProtocol.VERSION + "): send an upgrade request");
            return;
        }
        // Checked before the upgrade: nothing is allocated for a peer without a valid token.
        String header = request.getHeader("Authorization");
        String token = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).strip() : null;
        String worker = tokens.workerOf(token);
        if (worker == null) {
            unauthorized.incrementAndGet();
            request.response().putHeader("WWW-Authenticate", "Bearer realm=\"flagagg\"");
            refuse(request, 401, token == null ? "missing token: send 'Authorization: Bearer TOKEN'"
                    : tokens.size() == 0 ? "this server has no tokens (start it with --tokens FILE)"
                    : "unknown or revoked token");
            return;
        }
        HttpConnection conn = request.connection();
        request.toWebSocket().onSuccess(ws -> {
            ws.closeHandler(v -> untrack(conn));
            Connection connection = new Connection(this, conn, ws, worker);
            if (live.putIfAbsent(worker, connection) != null) {
                Connection.refuse(this, conn, ws, CloseCodes.CONFLICT, "worker '" + worker
                        + "' already has a live connection with this token");
                return;
            }
            connection.start();
        }).onFailure(e -> refuse(request, 400, PATH + " speaks WebSocket (protocol version " + WsProtocol.VERSION + "): "
                + e.getMessage()));
    }

    /**
     * Answers an HTTP request with a status and {"error": reason}, then closes its connection: a refused
     * peer cannot queue request after request on it.
     */
    private static void refuse(HttpServerRequest request, int status, String reason) {
        if (!request.response().ended()) {
            request.response().setStatusCode(status).putHeader("content-type", "application/json")
                    .putHeader("connection", "close").end(new JsonObject().put("error", reason).encode())
                    .onComplete(v -> request.connection().close());
        }
    }

    void closed(int code) {
        closes.computeIfAbsent(code, c -> new AtomicLong()).incrementAndGet();
    }

    /**
     * Counters for monitoring and tests: {@code connections} (live sessions), {@code consumers} (result
     * consumers registered on the event bus), {@code max_unacked_results} (most aggregate frames any
     * connection had unacknowledged; never above credits), {@code closes} (by close code), {@code open}
     * (TCP connections to the HTTP port), {@code refused_connections} (over the connection bounds),
     * {@code handshake_timeouts} (no request in time), {@code unauthorized} (upgrades refused with 401).
     */
    public JsonObject stats() {
        Map<String, Object> byCode = new TreeMap<>();
        closes.forEach((code, n) -> byCode.put(Integer.toString(code), n.get()));
        return new JsonObject()
                .put("connections", connections.get())
                .put("consumers", consumers.get())
                .put("max_unacked_results", maxUnackedResults.get())
                .put("closes", new JsonObject(byCode))
                .put("open", open.get())
                .put("refused_connections", refusedConnections.get())
                .put("handshake_timeouts", handshakeTimeouts.get())
                .put("unauthorized", unauthorized.get());
    }
}
