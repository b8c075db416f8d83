package org.flagagg.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.flagagg.Await.await;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.flagagg.engine.Deadlines;
import org.flagagg.sim.Fleet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DashboardTest {

    @TempDir
    Path dir;

    record Reply(int status, String contentType, String body) {
    }

    static Reply get(Vertx vertx, int port, String uri) throws Exception {
        HttpClient client = vertx.createHttpClient();
        return await(client.request(HttpMethod.GET, port, "127.0.0.1", uri)
                .compose(req -> req.send().compose(resp -> resp.body().map(b -> new Reply(resp.statusCode(),
                        resp.getHeader("content-type"), b.toString())))));
    }

    /** Prometheus text format: "name{labels} value" lines to a map (comments dropped). */
    static Map<String, Double> parse(String scrape) {
        Map<String, Double> samples = new LinkedHashMap<>();
        for (String line : scrape.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
        }
        return samples;
    }

    @Test
    void metricsCountRoundsTrafficExclusionsAndStragglersAndCarryNoAddressLabel() throws Exception {
        // Slot 0 sends NaN (excluded every round); in round 2 slot 4 sends nothing and the round closes at
        // its deadline with the quorum of 3. A deadline also waits for the workers that send (4, then 3), however
        // long a loaded machine makes them take.
        JsonObject overrides = new JsonObject().put("quorum", 3)
                .put("deadline", new JsonObject().put("mode", "fixed").put("min_ms", 1).put("max_ms", 500));
        try (DashboardFixture f = new DashboardFixture(dir, overrides, new Fleet.Config(7, 1, "nan", "none"),
                Deadlines.waitingFor(round -> round == 2 ? 3 : 4))) {
            List<JsonObject> records = new ArrayList<>();
            records.add(f.round(0));
            records.add(f.round(1));
            records.add(f.round(2, 4));
            assertThat(records.get(0).getJsonObject("excluded").fieldNames()).containsExactly("w0");
            assertThat(records.get(2).getJsonArray("stragglers")).hasSize(1);

            Reply reply = get(f.vertx, f.port(), "/metrics");
            assertThat(reply.status()).isEqualTo(200);
            assertThat(reply.contentType()).startsWith("text/plain");
            Map<String, Double> m = parse(reply.body());

            int p = f.job.workers();
            int chunks = f.job.chunks();
            long bytesIn = records.stream().mapToLong(r -> r.getLong("bytes_in")).sum();
            long chunksIn = records.stream().mapToLong(r -> r.getLong("chunks_in")).sum();
            assertThat(m.get("flagagg_rounds_total{status=\"completed\"}")).isEqualTo(3.0);
            assertThat(m.get("flagagg_round_latency_seconds_count")).isEqualTo(3.0);
            double latencySum = records.stream().mapToLong(r -> r.getJsonObject("timings_ms").getLong("open_to_close"))
                    .sum() / 1000.0;
            assertThat(m.get("flagagg_round_latency_seconds_sum")).isCloseTo(latencySum, within(1e-6));
            // Round 2 waited for its 500 ms deadline: the histogram has it above the 0.4 s bucket.
            assertThat(m.keySet()).anyMatch(k -> k.startsWith("flagagg_round_latency_seconds_bucket{le=\""));
            assertThat(m.get("flagagg_round_latency_seconds_bucket{le=\"+Inf\"}")).isEqualTo(3.0);
            assertThat(m.get("flagagg_round_phase_seconds_count{phase=\"solve\"}")).isEqualTo(3.0);
            assertThat(m.get("flagagg_traffic_bytes_total{direction=\"in\"}")).isEqualTo((double) bytesIn);
            assertThat(m.get("flagagg_chunks_total{direction=\"in\"}")).isEqualTo((double) chunksIn);
            // Every joined worker, stragglers and excluded ones too, gets every aggregate chunk of a completed round.
            assertThat(m.get("flagagg_chunks_total{direction=\"out\"}")).isEqualTo(3.0 * p * chunks);
            assertThat(m.get("flagagg_traffic_bytes_total{direction=\"out\"}"))
                    .isGreaterThan(3.0 * p * f.job.dim() * Float.BYTES);
            assertThat(m.get("flagagg_stragglers_total")).isEqualTo(1.0);
            assertThat(m.get("flagagg_excluded_total{reason=\"non_finite\"}")).isEqualTo(3.0);
            // Each NaN chunk in flight when its worker was excluded is counted (a credit window's worth).
            long nonFinite = records.stream().mapToLong(r -> r.getJsonObject("rejected").getLong("non_finite", 0L)).sum();
            assertThat(nonFinite).isGreaterThanOrEqualTo(3);
            assertThat(m.get("flagagg_rejected_chunks_total{reason=\"non_finite\"}")).isEqualTo((double) nonFinite);
            assertThat(m.get("flagagg_round_last")).isEqualTo(2.0);
            assertThat(m.get("flagagg_round_last_participants")).isEqualTo(3.0);
            // Everything released: nothing in flight, nothing stored; the store did hold chunks at its peak.
            assertThat(m.get("flagagg_credits_outstanding{direction=\"in\"}")).isZero();
            assertThat(m.get("flagagg_credits_outstanding{direction=\"out\"}")).isZero();
            assertThat(m.get("flagagg_rounds_open")).isZero();
            assertThat(m.get("flagagg_chunk_store_memory_bytes")).isZero();
            assertThat(m.get("flagagg_chunk_store_chunks")).isZero();
            assertThat(m.get("flagagg_chunk_store_memory_peak_bytes")).isPositive();
            assertThat(m.get("flagagg_chunk_store_budget_bytes")).isEqualTo((double) f.job.memoryBudget());
            assertThat(m.get("flagagg_chunk_store_spilled_bytes")).isZero();
            assertThat(m).containsKey("flagagg_chunk_store_spill_written_bytes_total");
            // Vert.x's own meters are in the same registry, without the event-bus address label.
            assertThat(m.keySet()).anyMatch(k -> k.startsWith("vertx_eventbus_"));
            assertThat(m.keySet()).anyMatch(k -> k.startsWith("vertx_http_server_"));
            assertThat(m.keySet()).noneMatch(k -> k.contains("address="));
        }
    }

    @Test
    void readyIsUpWithTheAggregatorDeployedAndDownWithout() throws Exception {
        try (DashboardFixture f = new DashboardFixture(dir, new JsonObject(), new Fleet.Config(1, 0, "none", "none"))) {
            Reply up = get(f.vertx, f.port(), "/ready");
            assertThat(up.status()).isEqualTo(200);
            assertThat(new JsonObject(up.body()).getString("status")).isEqualTo("UP");
            assertThat(new JsonObject(up.body()).getJsonObject("checks").getString("aggregator")).isEqualTo("UP");
            assertThat(get(f.vertx, f.port(), "/health").status()).isEqualTo(200);

            await(f.vertx.undeploy(f.deployment));
            Reply down = get(f.vertx, f.port(), "/ready");
            assertThat(down.status()).isEqualTo(503);
            assertThat(new JsonObject(down.body()).getString("status")).isEqualTo("DOWN");
            // Liveness does not depend on the aggregator.
            assertThat(get(f.vertx, f.port(), "/health").status()).isEqualTo(200);
        }
    }

    @Test
    void thePageAndItsChartLibraryAreServedFromTheJar() throws Exception {
        try (DashboardFixture f = new DashboardFixture(dir, new JsonObject(), new Fleet.Config(1, 0, "none", "none"))) {
            Reply page = get(f.vertx, f.port(), "/dashboard/");
            assertThat(page.status()).isEqualTo(200);
            assertThat(page.body()).contains("id=\"round-id\"", "lib/echarts.min.js", "dashboard.js");
            Reply lib = get(f.vertx, f.port(), "/dashboard/lib/echarts.min.js");
            assertThat(lib.status()).isEqualTo(200);
            assertThat(lib.body().length()).isGreaterThan(500_000);
            assertThat(get(f.vertx, f.port(), "/dashboard/dashboard.js").body()).contains("new EventSource('/events')");
        }
    }

    /** Reads an SSE stream, collecting events (type, id, data) until {@code wanted} round events arrived. */
    static final class SseReader {
        record Event(String type, String id, String data) {
        }

        final List<Event> events = new ArrayList<>();
        final Promise<List<Event>> done = Promise.promise();
        private final StringBuilder pending = new StringBuilder();
        private final int wanted;
        HttpClientResponse response;

        SseReader(int wanted) {
            this.wanted = wanted;
        }

        static Future<SseReader> open(Vertx vertx, int port, String lastEventId, int wanted) {
            SseReader reader = new SseReader(wanted);
            RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setHost("127.0.0.1").setPort(port)
                    .setURI("/events");
            if (lastEventId != null) {
                options.putHeader("Last-Event-ID", lastEventId);
            }
            return vertx.createHttpClient().request(options).compose(req -> req.send()).map(resp -> {
                reader.response = resp;
                resp.handler(buffer -> reader.feed(buffer.toString()));
                return reader;
            });
        }

        private synchronized void feed(String text) {
            pending.append(text);
            int end;
            while ((end = pending.indexOf("\n\n")) >= 0) {
                String block = pending.substring(0, end);
                pending.delete(0, end + 2);
                String type = "message";
                String id = null;
                StringBuilder data = new StringBuilder();
                for (String line : block.split("\n")) {
                    if (line.startsWith("event: ")) {
                        type = line.substring(7);
                    } else if (line.startsWith("id: ")) {
                        id = line.substring(4);
                    } else if (line.startsWith("data: ")) {
                        data.append(line.substring(6));
                    }
                }
                if (data.length() > 0) {
                    events.add(new Event(type, id, data.toString()));
                }
            }
            if (events.stream().filter(e -> e.type.equals("round")).count() >= wanted) {
                done.tryComplete(List.copyOf(events));
            }
        }
    }

    @Test
    void eventsStreamTheJobThenRoundRecordsAndReplayWhatAClientMissed() throws Exception {
        try (DashboardFixture f = new DashboardFixture(dir, new JsonObject(), new Fleet.Config(3, 1, "random", "none"))) {
            SseReader live = await(SseReader.open(f.vertx, f.port(), null, 2));
            assertThat(live.response.statusCode()).isEqualTo(200);
            assertThat(live.response.getHeader("content-type")).startsWith("text/event-stream");
            JsonObject r0 = f.round(0);
            JsonObject r1 = f.round(1);
            List<SseReader.Event> events = await(live.done.future());
            assertThat(events.get(0).type()).isEqualTo("job");
            JsonObject job = new JsonObject(events.get(0).data());
            assertThat(job.getString("job")).isEqualTo(f.job.job());
            assertThat(job.getInteger("workers")).isEqualTo(5);
            List<SseReader.Event> rounds = events.stream().filter(e -> e.type().equals("round")).toList();
            assertThat(new JsonObject(rounds.get(0).data())).isEqualTo(r0);
            assertThat(new JsonObject(rounds.get(1).data())).isEqualTo(r1);
            assertThat(new JsonObject(rounds.get(1).data()).getJsonObject("details").getJsonObject("quality").size())
                    .isEqualTo(5);

            // A client that saw the first event gets only the second, then the next live one.
            SseReader resumed = await(SseReader.open(f.vertx, f.port(), rounds.get(0).id(), 2));
            JsonObject r2 = f.round(2);
            List<JsonObject> got = await(resumed.done.future()).stream()
                    .filter(e -> e.type().equals("round")).map(e -> new JsonObject(e.data())).toList();
            assertThat(got).containsExactly(r1, r2);
        }
    }

    @Test
    void aClientThatDoesNotReadMissesEventsAndIsClosedInsteadOfBeingBufferedFor() throws Exception {
        try (DashboardFixture f = new DashboardFixture(dir, new JsonObject(), new Fleet.Config(1, 0, "none", "none"))) {
            SseReader stalled = await(SseReader.open(f.vertx, f.port(), null, Integer.MAX_VALUE));
            Promise<Void> closed = Promise.promise();
            stalled.response.exceptionHandler(e -> closed.tryComplete());
            stalled.response.endHandler(v -> closed.tryComplete());
            stalled.response.pause();
            // Synthetic 64 KiB records on the rounds address, 20 per tick, until the stalled client is
            // closed; 2000 records (128 MiB) is far past any socket buffer plus the write queue cap.
            String filler = "x".repeat(64 * 1024);
            String rounds = new org.flagagg.wire.Addresses(f.job.job()).rounds();
            io.micrometer.core.instrument.Counter slow = f.metrics.registry().get("flagagg.sse.clients.closed.slow").counter();
            Promise<Integer> published = Promise.promise();
            int[] sent = {0};
            f.vertx.setPeriodic(10, t -> {
                if (slow.count() >= 1 || sent[0] >= 2000) {
                    f.vertx.cancelTimer(t);
                    published.tryComplete(sent[0]);
                    return;
                }
                for (int i = 0; i < 20; i++) {
                    f.vertx.eventBus().publish(rounds, new JsonObject().put("round", sent[0]++).put("status", "completed")
                            .put("filler", filler));
                }
            });
            int count = await(published.future());
            assertThat(slow.count()).as("closed after %d events", count).isEqualTo(1.0);
            assertThat(f.metrics.registry().get("flagagg.sse.events.skipped").counter().count())
                    .isGreaterThanOrEqualTo(RoundEvents.MAX_SKIPPED);
            assertThat(f.metrics.registry().get("flagagg.sse.clients").gauge().value()).isZero();
            // Reading again, the client finds what the socket held, then the end of the stream.
            stalled.response.resume();
            await(closed.future());
            // A client connecting now still gets the recent history, within the write-queue budget.
            SseReader fresh = await(SseReader.open(f.vertx, f.port(), null, 1));
            List<SseReader.Event> replay = await(fresh.done.future());
            assertThat(replay.stream().filter(e -> e.type().equals("round")).count()).isBetween(1L,
                    (long) RoundEvents.QUEUE_BYTES / filler.length());
        }
    }
}
