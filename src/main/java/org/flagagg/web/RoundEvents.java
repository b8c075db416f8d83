package org.flagagg.web;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code GET /events}: Server-Sent Events. On connect a client gets the job ("job" event) and the recent
 * round records it has not seen (by {@code Last-Event-ID}), then every new round record ("round" event,
 * id = a sequence number) as it is published.
 *
 * <p>Bounded: at most {@link #MAX_CLIENTS} clients; the history keeps {@link #HISTORY} records; each
 * client's write queue is capped at {@link #QUEUE_BYTES} and an event that finds it full is skipped (a slow
 * client misses events, the server does not buffer for it); a client that skipped {@link #MAX_SKIPPED}
 * events in a row is closed (its browser reconnects and catches up from the history).
 */
final class RoundEvents {
    static final int MAX_CLIENTS = 32;
    static final int HISTORY = 200;
    static final int QUEUE_BYTES = 512 * 1024;
    static final int MAX_SKIPPED = 50;
    static final long PING_MS = 15_000;

    private record Event(long seq, String text) {
    }

    private final Object lock = new Object();
    private final ArrayDeque<Event> history = new ArrayDeque<>();
    private final Set<Client> clients = new HashSet<>();
    private long seq;
    private String jobEvent = "";
    private final Counter skipped;
    private final Counter closedSlow;
    private final Vertx vertx;
    private final long pingTimer;

    RoundEvents(Vertx vertx, MeterRegistry registry) {
        skipped = Counter.builder("flagagg.sse.events.skipped")
                .description("Round events not written to an SSE client whose write queue was full").register(registry);
        closedSlow = Counter.builder("flagagg.sse.clients.closed.slow")
                .description("SSE clients closed after skipping " + MAX_SKIPPED + " events in a row").register(registry);
        Gauge.builder("flagagg.sse.clients", this, e -> e.clientCount()).description("Connected SSE clients")
                .register(registry);
        pingTimer = vertx.setPeriodic(PING_MS, t -> forEachClient(Client::ping));
        this.vertx = vertx;
    }

    /** Stops the keep-alive timer and ends every client's stream. */
    void close() {
        vertx.cancelTimer(pingTimer);
        forEachClient(c -> {
            remove(c);
            c.gone = true;
            if (!c.response.ended() && !c.response.closed()) {
                c.response.end();
            }
        });
    }

    int clientCount() {
        synchronized (lock) {
            return clients.size();
        }
    }

    /** A new job to follow: clients reset their view; the history starts over. */
    void job(JsonObject info) {
        String text = "event: job\ndata: " + info.encode() + "\n\n";
        synchronized (lock) {
            jobEvent = text;
            history.clear();
        }
        forEachClient(c -> c.send(text, false));
    }

    /** Publishes one round record to every client and keeps it in the history. */
    void round(JsonObject record) {
        Event event;
        synchronized (lock) {
            event = new Event(++seq, "id: " + (seq) + "\nevent: round\ndata: " + record.encode() + "\n\n");
            history.addLast(event);
            while (history.size() > HISTORY) {
                history.removeFirst();
            }
        }
        forEachClient(c -> c.send(event.text, true));
    }

    private void forEachClient(java.util.function.Consumer<Client> action) {
        List<Client> all;
        synchronized (lock) {
            all = new ArrayList<>(clients);
        }
        all.forEach(c -> c.context.runOnContext(v -> action.accept(c)));
    }

    /** Handles {@code GET /events} on the connection's context. */
    void handle(RoutingContext ctx) {
        HttpServerResponse response = ctx.response();
        long lastSeen = parseLastEventId(ctx.request().getHeader("Last-Event-ID"));
        Client client = new Client(Vertx.currentContext(), response);
        List<Event> replay = new ArrayList<>();
        String job;
        synchronized (lock) {
            if (clients.size() >= MAX_CLIENTS) {
                HttpApi.json(ctx, 503, new JsonObject().put("error", "too many event clients (max " + MAX_CLIENTS + ")"));
                return;
            }
            clients.add(client);
            job = jobEvent;
            // A client that saw a later id than exists comes from an earlier server: it gets everything.
            long from = lastSeen > seq ? -1 : lastSeen;
            long budget = QUEUE_BYTES;
            for (var it = history.descendingIterator(); it.hasNext(); ) {
                Event e = it.next();
                budget -= e.text.length();
                if (e.seq <= from || budget < 0) {
                    break;
                }
                replay.add(0, e);
            }
        }
        response.setChunked(true).setWriteQueueMaxSize(QUEUE_BYTES)
                .putHeader("content-type", "text/event-stream; charset=utf-8")
                .putHeader("cache-control", "no-cache")
                .putHeader("x-accel-buffering", "no");
        response.closeHandler(v -> remove(client));
        response.exceptionHandler(e -> remove(client));
        // Tells the browser to wait 2 s before reconnecting after a drop.
        client.send("retry: 2000\n\n", false);
        if (!job.isEmpty()) {
            client.send(job, false);
        }
        replay.forEach(e -> client.send(e.text, true));
    }

    private void remove(Client client) {
        synchronized (lock) {
            clients.remove(client);
        }
    }

    private static long parseLastEventId(String header) {
        try {
            return header == null ? -1 : Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** One connected client; used only on its connection's context. */
    private final class Client {
        final Context context;
        final HttpServerResponse response;
        int skippedInARow;
        boolean gone;

        Client(Context context, HttpServerResponse response) {
            this.context = context;
            this.response = response;
        }

        void send(String text, boolean skippable) {
            if (gone || response.ended() || response.closed()) {
                gone = true;
                remove(this);
                return;
            }
            if (skippable && response.writeQueueFull()) {
                skipped.increment();
                if (++skippedInARow >= MAX_SKIPPED) {
                    gone = true;
                    closedSlow.increment();
                    remove(this);
                    response.reset();
                }
                return;
            }
            skippedInARow = 0;
            response.write(io.vertx.core.buffer.Buffer.buffer(text.getBytes(StandardCharsets.UTF_8)));
        }

        void ping() {
            if (!gone && !response.writeQueueFull()) {
                send(": ping\n\n", false);
            }
        }
    }
}
