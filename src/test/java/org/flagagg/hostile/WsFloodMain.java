package org.flagagg.hostile;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.flagagg.Await;
import org.flagagg.config.GatewayConfig;
import org.flagagg.config.JobConfig;
import org.flagagg.engine.Engine;
import org.flagagg.worker.Worker;
import org.flagagg.ws.WsServer;

/**
 * Run in a small forked JVM by {@link WsAttackTest}: two honest WebSocket workers exchange rounds while
 * two clients upgrade to the gateway, flood it with pings and never read, one without a token, one with a
 * valid token and a control rate too high to stop it. Prints "key=value" lines; exits 1 if an honest round
 * fails or has a wrong aggregate.
 *
 * <p>Arguments: tempDir.
 */
public final class WsFloodMain {
    /** Pings each attacker sends at most, and for how long. */
    static final long MAX_PINGS = 2_000_000;
    static final long MAX_FLOOD_MS = 20_000;
    static final long WRITE_STALL_MS = 1_500;
    static final int DIM = 1000;

    private WsFloodMain() {
    }

    /** What a flooding client saw: the status line of the upgrade's answer, how many pings it got out, how it ended. */
    record Flood(String status, long pings, boolean cut, long ms) {
        String describe() {
            return "status=" + status + " pings=" + pings + " cut=" + cut + " ms=" + ms;
        }
    }

    /**
     * Upgrades (with this token, or none), reads the answer's status line only, then writes pings of 125 bytes
     * and reads nothing more, until the server drops the connection ({@code cut}) or the count or time is spent.
     */
    static Flood flood(int port, String token) throws IOException {
        long start = System.nanoTime();
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            socket.setSoTimeout(5_000);
            OutputStream out = socket.getOutputStream();
            out.write(("GET /v1/workers HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\n"
                    + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                    + (token == null ? "" : "Authorization: Bearer " + token + "\r\n") + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String status = statusLine(socket.getInputStream());
            // A batch of masked pings (mask 0: the payload goes as is).
            int pingBytes = 2 + 4 + 125;
            int perBatch = 500;
            byte[] batch = new byte[pingBytes * perBatch];
            for (int i = 0; i < perBatch; i++) {
                batch[i * pingBytes] = (byte) 0x89;
                batch[i * pingBytes + 1] = (byte) (0x80 | 125);
            }
            long pings = 0;
            boolean cut = false;
            long deadline = start + TimeUnit.MILLISECONDS.toNanos(MAX_FLOOD_MS);
            try {
                while (pings < MAX_PINGS && System.nanoTime() < deadline) {
                    out.write(batch);
                    pings += perBatch;
                }
            } catch (IOException dropped) {
                cut = true;
            }
            return new Flood(status, pings, cut, (System.nanoTime() - start) / 1_000_000);
        }
    }

    private static String statusLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        try {
            for (int c = in.read(); c >= 0 && c != '\r' && line.length() < 200; c = in.read()) {
                line.append((char) c);
            }
        } catch (SocketTimeoutException e) {
            line.append("(no answer)");
        }
        return line.toString();
    }

    static long heapAfterGc() {
        System.gc();
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    public static void main(String[] args) {
        try {
            run(Path.of(args[0]));
            System.exit(0);
        } catch (Throwable e) {
            System.err.println("ws flood run failed: " + e);
            e.printStackTrace();
            System.exit(1);
        }
    }

    private static void run(Path dir) throws Exception {
        Vertx vertx = Vertx.vertx();
        JobConfig job = WsServer.job(new JsonObject().put("workers", 2).put("dim", DIM)
                .put("rule", new JsonObject().put("name", "mean")), dir);
        // A control rate that never stops a flood: only the write queue's bound is left to stop it.
        GatewayConfig config = GatewayConfig.fromJson(new JsonObject().put("control_rate", 1e9).put("control_burst", 1 << 30)
                .put("write_stall_ms", WRITE_STALL_MS).put("handshake_timeout_ms", 120_000));
        try (WsServer server = WsServer.start(vertx, job, config)) {
            WsServer.Client[] honest = {server.wsClient(0), server.wsClient(1)};
            float[][] g = WsServer.gradients(2, DIM, 11);
            float[] expected = server.offline(g);
            int port = Integer.parseInt(server.url.replaceAll(".*:(\\d+)/.*", "$1"));
            long round = 0;
            round(honest, round++, g, expected);
            long before = heapAfterGc();

            CompletableFuture<Flood> anonymous = CompletableFuture.supplyAsync(() -> uncheck(() -> flood(port, null)));
            CompletableFuture<Flood> nonReader = CompletableFuture.supplyAsync(() -> uncheck(() -> flood(port, server.token(2))));
            long roundsDuring = 0;
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!(anonymous.isDone() && nonReader.isDone()) && System.nanoTime() < end) {
                round(honest, round++, g, expected);
                roundsDuring++;
            }
            Flood a = anonymous.get(30, TimeUnit.SECONDS);
            Flood b = nonReader.get(30, TimeUnit.SECONDS);
            for (int i = 0; i < 3; i++) {
                round(honest, round++, g, expected);
            }
            long after = heapAfterGc();
            JsonObject stats = server.gateway.stats();
            System.out.println("anonymous_status=" + a.status());
            System.out.println("anonymous_cut=" + a.cut());
            System.out.println("anonymous_pings=" + a.pings());
            System.out.println("non_reader_status=" + b.status());
            System.out.println("non_reader_cut=" + b.cut());
            System.out.println("non_reader_ms=" + b.ms());
            System.out.println("non_reader_pings=" + b.pings());
            System.out.println("rounds_during=" + roundsDuring);
            System.out.println("rounds=" + round);
            System.out.println("heap_before=" + before);
            System.out.println("heap_after=" + after);
            System.out.println("heap_max=" + Runtime.getRuntime().maxMemory());
            System.out.println("closes_4408=" + stats.getJsonObject("closes").getLong("4408", 0L));
            System.out.println("unauthorized=" + stats.getLong("unauthorized"));
            System.out.println("connections=" + stats.getInteger("connections"));
            System.out.println("summary: anonymous " + a.describe() + "; non-reader " + b.describe());
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(1, TimeUnit.MINUTES);
        }
    }

    /** One round of the honest workers; fails unless both are included with the offline aggregate. */
    static void round(WsServer.Client[] honest, long round, float[][] g, float[] expected) throws Exception {
        CompletableFuture<Worker.Aggregate> a0 = honest[0].exchange(round, g[0]);
        CompletableFuture<Worker.Aggregate> a1 = honest[1].exchange(round, g[1]);
        for (CompletableFuture<Worker.Aggregate> f : java.util.List.of(a0, a1)) {
            Worker.Aggregate a = Await.get(f);
            if (!a.included()) {
                throw new IllegalStateException("round " + round + ": an honest worker was left out: " + a.reason());
            }
            Engine.assertSameAggregate(a.values(), expected);
        }
    }

    interface IoSupplier<T> {
        T get() throws IOException;
    }

    static <T> T uncheck(IoSupplier<T> s) {
        try {
            return s.get();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
