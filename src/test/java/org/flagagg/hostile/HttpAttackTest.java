package org.flagagg.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.flagagg.Await.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.flagagg.Await;
import org.flagagg.cli.Main;
import org.flagagg.config.JobConfig;
import org.flagagg.config.TokenTable;
import org.flagagg.engine.Engine;
import org.flagagg.engine.RoundLog;
import org.flagagg.web.Dashboard;
import org.flagagg.web.HttpApi;
import org.flagagg.web.RoundsApi;
import org.flagagg.worker.Worker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Attacks on the HTTP side (issue 14, items 5 and 7): a torn round log, malformed queries, reading the
 * dashboard, rounds, events and metrics without a read token, and bad configuration or start-up input.
 */
@ExtendWith(VertxExtension.class)
class HttpAttackTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String RECORD = "{\"round\":%d,\"status\":\"completed\"}";

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(WAIT).build();

    private HttpResponse<String> get(int port, String uri, String... headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + uri)).timeout(WAIT);
        if (headers.length > 0) {
            request.headers(headers);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpServer listen(HttpApi api) throws Exception {
        return await(api.listen(new HttpServerOptions().setHost("127.0.0.1").setPort(0)));
    }

    private static String record(long round) {
        return String.format(RECORD, round);
    }

    // ---------------------------------------------------------------------------------------------------
    // Item 5: a torn round-log line

    @Test
    void aTornRoundLogIsRepairedAtStartAndSkippedOnReadWhileRoundsKeepCompleting(Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject().put("rule", new JsonObject().put("name", "mean")), dir);
        // What a full disk left: a torn record with the next one appended onto it (the old writer), then a
        // torn last line without its newline.
        String torn = record(7).substring(0, 12);
        Files.writeString(job.roundLog(), record(0) + "\n" + record(1) + "\n" + torn + record(2) + "\n" + torn);
        HttpApi api = new HttpApi(vertx);
        RoundsApi.mount(api.router(), vertx, job.roundLog());
        int port = listen(api).actualPort();

        try (Engine engine = Engine.start(vertx, job)) {
            assertThat(Files.readString(job.roundLog())).as("the torn tail is cut at start-up")
                    .endsWith(record(2) + "\n");
            float[][] gradients = Engine.gradients(job.workers(), (int) job.dim(), 14);
            List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
            for (int s = 0; s < job.workers(); s++) {
                results.add(engine.client("w" + s, s).exchange(0, gradients[s]));
            }
            float[] expected = engine.offline(gradients);
            for (CompletableFuture<Worker.Aggregate> result : results) {
                Engine.assertSameAggregate(Await.get(result).values(), expected);
            }
            Await.get(engine.releasedOf(0));
        }

        HttpResponse<String> rounds = get(port, "/rounds");
        assertThat(rounds.statusCode()).isEqualTo(200);
        assertThat(rounds.headers().firstValue(RoundsApi.SKIPPED_HEADER)).contains("1");
        JsonArray records = new JsonArray(rounds.body());
        assertThat(records).hasSize(3);
        assertThat(records.getJsonObject(0).getLong("round")).isEqualTo(0);
        assertThat(records.getJsonObject(1).getLong("round")).isEqualTo(1);
        assertThat(records.getJsonObject(2).getString("rule")).as("this run's record, on a line of its own")
                .isEqualTo("mean");
    }

    @Test
    void aTruncatedOrGarbledLogIsAlwaysAnswered(Vertx vertx) throws Exception {
        Path log = dir.resolve("rounds.jsonl");
        HttpApi api = new HttpApi(vertx);
        RoundsApi.mount(api.router(), vertx, log);
        int port = listen(api).actualPort();

        Files.writeString(log, record(0) + "\n" + record(1).substring(0, 9));
        HttpResponse<String> truncated = get(port, "/rounds");
        assertThat(truncated.statusCode()).isEqualTo(200);
        assertThat(new JsonArray(truncated.body())).hasSize(1);
        assertThat(truncated.headers().firstValue(RoundsApi.SKIPPED_HEADER)).contains("0");

        Files.write(log, ("}{\n[1,2]\n\u0000\u0000\u00ff\n" + record(3) + "\n").getBytes(StandardCharsets.ISO_8859_1));
        HttpResponse<String> garbled = get(port, "/rounds?last=3");
        assertThat(garbled.statusCode()).isEqualTo(200);
        assertThat(new JsonArray(garbled.body())).hasSize(1);
        assertThat(garbled.headers().firstValue(RoundsApi.SKIPPED_HEADER)).contains("2");

        // A record appended after a torn line starts on a line of its own.
        Files.writeString(log, record(0) + "\n" + record(1).substring(0, 9));
        assertThat(RoundLog.repair(log)).isEqualTo(9);
        RoundLog.append(log, (record(2) + "\n").getBytes(StandardCharsets.UTF_8));
        assertThat(Files.readString(log)).isEqualTo(record(0) + "\n" + record(2) + "\n");

        Files.delete(log);
        Files.createDirectory(log);
        HttpResponse<String> unreadable = get(port, "/rounds");
        assertThat(unreadable.statusCode()).isEqualTo(500);
        assertThat(unreadable.body()).contains("cannot read the round log");
    }

    @Test
    void theTailReadsOnlyTheEndOfALargeLog() throws Exception {
        Path log = dir.resolve("big.jsonl");
        StringBuilder text = new StringBuilder();
        for (int r = 0; r < 50_000; r++) {
            text.append(record(r)).append('\n');
        }
        Files.writeString(log, text);
        RoundLog.Tail tail = RoundLog.tail(log, 3);
        assertThat(tail.records()).extracting(r -> r.getLong("round")).containsExactly(49_997L, 49_998L, 49_999L);
        assertThat(tail.skipped()).isZero();
    }

    @Test
    void roundLogReadsAtOnceAreBounded(Vertx vertx) throws Exception {
        // A FIFO as the log: each read blocks in open() until the test lets it go, so reads stay in flight.
        Path fifo = dir.resolve("rounds.fifo");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
        HttpApi api = new HttpApi(vertx);
        RoundsApi.mount(api.router(), vertx, fifo);
        int port = listen(api).actualPort();
        // Eight connections at once (Vert.x's client, its pool sized for them).
        io.vertx.core.http.HttpClient client = vertx.createHttpClient(new HttpClientOptions(),
                new PoolOptions().setHttp1MaxSize(8));
        List<CompletableFuture<JsonObject>> replies = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            replies.add(client.request(new RequestOptions().setHost("127.0.0.1").setPort(port).setURI("/rounds")
                    .setIdleTimeout(WAIT.toMillis()))
                    .compose(req -> req.send().compose(resp -> resp.body().map(b -> new JsonObject()
                            .put("status", resp.statusCode()).put("body", b.toString()))))
                    .toCompletionStage().toCompletableFuture());
        }
        // Whatever the order, four reads hold the four places and the other four are refused at once.
        long until = System.nanoTime() + WAIT.toNanos();
        List<JsonObject> refused = List.of();
        while (refused.size() < 4 && System.nanoTime() < until) {
            CompletableFuture.anyOf(replies.stream().filter(r -> !r.isDone()).toArray(CompletableFuture[]::new))
                    .get(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
            refused = replies.stream().filter(CompletableFuture::isDone).map(CompletableFuture::join).toList();
        }
        List<JsonObject> early = refused;
        // Opening both ends never blocks: the reads waiting in open() go on and see an empty log. Again
        // (bounded) for a read that reached open() only after a release.
        CompletableFuture<?> all = CompletableFuture.allOf(replies.toArray(CompletableFuture[]::new));
        for (int i = 0; i < 30 && !all.isDone(); i++) {
            new java.io.RandomAccessFile(fifo.toFile(), "rw").close();
            try {
                all.get(1, java.util.concurrent.TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                // Not all released yet: release again.
            }
        }
        assertThat(early).hasSize(4).allSatisfy(r -> {
            assertThat(r.getInteger("status")).isEqualTo(503);
            assertThat(r.getString("body")).contains("too many round log reads at once");
        });
        List<Integer> statuses = new ArrayList<>();
        for (CompletableFuture<JsonObject> reply : replies) {
            statuses.add(Await.get(reply).getInteger("status"));
        }
        assertThat(statuses).filteredOn(code -> code == 200).as("the reads held, answered once released").hasSize(4);
        assertThat(statuses).filteredOn(code -> code == 503).hasSize(4);
    }

    // ---------------------------------------------------------------------------------------------------
    // Item 7: malformed queries, read tokens

    @Test
    void aMalformedQueryIsRefusedWith400AndItsReason(Vertx vertx) throws Exception {
        HttpApi api = new HttpApi(vertx);
        RoundsApi.mount(api.router(), vertx, dir.resolve("rounds.jsonl"));
        int port = listen(api).actualPort();
        // The JDK's client refuses to send such a URI; Vert.x's sends it as given.
        io.vertx.core.http.HttpClient raw = vertx.createHttpClient();
        for (String uri : List.of("/rounds?%zz", "/rounds?last=%zz", "/nope?%")) {
            JsonObject reply = await(raw.request(HttpMethod.GET, port, "127.0.0.1", uri)
                    .compose(req -> req.send().compose(resp -> resp.body().map(b -> new JsonObject()
                            .put("status", resp.statusCode()).put("body", b.toJsonObject())))));
            assertThat(reply.getInteger("status")).as(uri).isEqualTo(400);
            assertThat(reply.getJsonObject("body").getString("error")).as(uri).startsWith("malformed query string");
        }
        assertThat(get(port, "/rounds").statusCode()).isEqualTo(200);
    }

    @Test
    void withReadTokensTheDashboardRoundsEventsAndMetricsNeedOne(Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject(), dir);
        String token = TokenTable.newToken();
        try (Engine engine = Engine.start(vertx, job)) {
            HttpApi api = new HttpApi(vertx).readTokens(TokenTable.ofTokens(Map.of("ops", token))).open("/ready");
            RoundsApi.mount(api.router(), vertx, job.roundLog());
            Dashboard dashboard = Dashboard.mount(api.router(), vertx, job, engine.store, engine.aggregator, null);
            int port = listen(api).actualPort();

            for (String path : List.of("/rounds", "/events", "/metrics", "/dashboard/", "/", "/nope")) {
                HttpResponse<String> anonymous = get(port, path);
                assertThat(anonymous.statusCode()).as(path).isEqualTo(401);
                assertThat(anonymous.body()).as(path).contains("needs a read token");
                assertThat(anonymous.headers().firstValue("WWW-Authenticate")).as(path).isPresent();
                HttpResponse<String> wrong = get(port, path, "Authorization", "Bearer " + TokenTable.newToken());
                assertThat(wrong.statusCode()).as(path).isEqualTo(401);
                assertThat(wrong.body()).as(path).contains("unknown read token");
            }
            assertThat(get(port, "/health").statusCode()).isEqualTo(200);
            assertThat(get(port, "/ready").statusCode()).isEqualTo(200);
            assertThat(get(port, "/rounds", "Authorization", "Bearer " + token).statusCode()).isEqualTo(200);
            assertThat(get(port, "/metrics", "Authorization", "Bearer " + token).body()).contains("flagagg_");

            // A browser: ?token= once, then the cookie it was given.
            HttpResponse<String> page = get(port, "/dashboard/?token=" + token);
            assertThat(page.statusCode()).isEqualTo(200);
            String cookie = page.headers().firstValue("Set-Cookie").orElseThrow();
            assertThat(cookie).startsWith(HttpApi.COOKIE + "=").containsIgnoringCase("HttpOnly")
                    .contains("SameSite=Strict");
            assertThat(get(port, "/rounds", "Cookie", cookie.substring(0, cookie.indexOf(';'))).statusCode())
                    .isEqualTo(200);
            HttpResponse<InputStream> events = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                    + "/events")).timeout(WAIT).header("Cookie", cookie.substring(0, cookie.indexOf(';'))).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertThat(events.statusCode()).isEqualTo(200);
            events.body().close();

            // Metrics opened for Prometheus.
            api.open("/metrics");
            assertThat(get(port, "/metrics").statusCode()).isEqualTo(200);
            await(dashboard.close());
        }
    }

    @Test
    void theServerCommandGuardsItsPortsWithReadTokens() throws Exception {
        String token = TokenTable.newToken();
        Path readers = dir.resolve("readers.txt");
        Files.writeString(readers, TokenTable.line("ops", token) + "\n");
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString()), "-Xmx256m",
                "--add-modules=jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "server", "--job", "guarded", "--workers", "2", "--dim", "100", "--memory-budget", "4",
                "--round-log", dir.resolve("rounds.jsonl").toString(), "--port", "0", "--read-tokens", readers.toString(),
                "--metrics-open"));
        Process process = new ProcessBuilder(command).redirectError(dir.resolve("server.err").toFile()).start();
        try {
            CompletableFuture<Integer> port = new CompletableFuture<>();
            Thread reader = new Thread(() -> {
                try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line = out.readLine(); line != null; line = out.readLine()) {
                        var m = java.util.regex.Pattern.compile("dashboard at http://127.0.0.1:(\\d+)/").matcher(line);
                        if (m.find()) {
                            port.complete(Integer.parseInt(m.group(1)));
                        }
                    }
                    port.completeExceptionally(new IllegalStateException("the server exited: "
                            + Files.readString(dir.resolve("server.err"))));
                } catch (Exception e) {
                    port.completeExceptionally(e);
                }
            });
            reader.setDaemon(true);
            reader.start();
            int p = Await.get(port);
            assertThat(get(p, "/rounds").statusCode()).isEqualTo(401);
            assertThat(get(p, "/dashboard/").statusCode()).isEqualTo(401);
            assertThat(get(p, "/rounds", "Authorization", "Bearer " + token).statusCode()).isEqualTo(200);
            assertThat(get(p, "/metrics").statusCode()).as("--metrics-open").isEqualTo(200);
            assertThat(get(p, "/health").statusCode()).isEqualTo(200);
            assertThat(get(p, "/ready").statusCode()).isEqualTo(200);
            assertThat(get(p, "/v1/workers").body()).as("workers authenticate with their own tokens")
                    .doesNotContain("read token");
        } finally {
            process.destroy();
            process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    @Test
    void withoutReadTokensEverythingStaysOpen(Vertx vertx) throws Exception {
        HttpApi api = new HttpApi(vertx).readTokens(TokenTable.empty());
        RoundsApi.mount(api.router(), vertx, dir.resolve("rounds.jsonl"));
        assertThat(get(listen(api).actualPort(), "/rounds").statusCode()).isEqualTo(200);
    }

    // ---------------------------------------------------------------------------------------------------
    // Item 7: bad configuration and start-up input: one line on stderr, exit 2, no stack trace

    record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        return assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
            return new Run(code, out.toString(), err.toString());
        });
    }

    private Run server(String... more) {
        List<String> args = new ArrayList<>(List.of("server", "--job", "hostile" + Long.toHexString(System.nanoTime()),
                "--workers", "2", "--dim", "100", "--memory-budget", "1", "--spill-dir", dir.resolve("spill").toString(),
                "--round-log", dir.resolve("rounds.jsonl").toString()));
        if (!List.of(more).contains("--port")) {
            args.addAll(List.of("--port", "0")); // should a refusal regress, the server must not take 8080
        }
        args.addAll(List.of(more));
        return run(args.toArray(String[]::new));
    }

    private static void assertOneLineRefusal(Run run, String... contains) {
        assertThat(run.code()).as(run.err()).isEqualTo(2);
        assertThat(run.err().lines().count()).as(run.err()).isEqualTo(1);
        assertThat(run.err()).startsWith("server: ").contains(contains).doesNotContain("\tat ")
                .doesNotContain("ClassCastException");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{\"wrokers\": 4}                      | unknown configuration key 'wrokers'",
        "{\"http\": {\"prot\": 1}}             | unknown configuration key 'http.prot'",
        "{\"workers\": \"four\"}               | configuration key 'workers' must be a number, got \"four\"",
        "{\"deadline\": 5}                     | configuration key 'deadline' must be an object",
        "{\"http\": {\"metrics_open\": \"y\"}} | configuration key 'http.metrics_open' must be true or false",
        "{\"slab_kib\": -1}                    | slab_kib must be an integer in 1..2097151, got -1",
        "{\"workers\": 4.5}                    | workers must be an integer in 1..65536, got 4.5",
        "{\"memory_budget_mb\": -5}            | memory_budget_mb must be an integer in 0..16777216, got -5",
        "{\"credits\": 0}                      | credits must be an integer in 1..4096, got 0",
        "{\"chunk_coords\": 0}                 | chunk_coords must be an integer in 1..67108864, got 0",
        "{\"dim\": 0}                          | dim must be an integer in 1..1099511627776, got 0",
        "{\"quorum\": -1}                      | quorum must be an integer in 0..65536, got -1",
        "{\"deadline\": {\"factor\": 0.5}}     | deadline.factor must be a number in 1..1000, got 0.5",
        "{\"deadline\": {\"max_ms\": 0}}       | deadline.max_ms must be an integer in 1..86400000, got 0",
        "{\"result_timeout_ms\": -1}           | result_timeout_ms must be an integer in 1..86400000, got -1",
        "{\"max_open_rounds\": 0}              | max_open_rounds must be an integer in 1..1024, got 0",
        "{\"http\": {\"port\": 70000}}         | http.port must be an integer in 0..65535, got 70000",
        "{\"link\": {\"port\": -1}}            | link.port must be an integer in 0..65535, got -1",
    })
    void badConfigurationIsOneLineNamingTheKey(String conf, String message) throws Exception {
        Path file = dir.resolve("bad.json");
        Files.writeString(file, conf);
        assertOneLineRefusal(server("--conf", file.toString()), message);
    }

    @Test
    void aFlagOutOfRangeIsOneLine() {
        assertOneLineRefusal(server("--port", "-3"), "http.port must be an integer in 0..65535, got -3");
        assertOneLineRefusal(server("--credits", "100000"), "credits must be an integer in 1..4096");
    }

    @Test
    void aNonKeystoreFileIsOneLineNamingIt() throws Exception {
        Path notAKeystore = dir.resolve("notes.txt");
        Files.writeString(notAKeystore, "not a key store\n");
        Path empty = Files.createFile(dir.resolve("empty.p12"));
        assertOneLineRefusal(server("--tls-keystore", notAKeystore.toString(), "--tls-password", "x"),
                "--tls-keystore " + notAKeystore + ": not a PKCS12 key store");
        assertOneLineRefusal(server("--tls-keystore", empty.toString(), "--tls-password", "x"),
                "--tls-keystore " + empty + ": not a PKCS12 key store");
    }

    @Test
    void readTokensThatCannotProtectAreRefused() throws Exception {
        Path empty = Files.writeString(dir.resolve("readers.txt"), "# nobody yet\n");
        assertOneLineRefusal(server("--read-tokens", empty.toString()), "--read-tokens " + empty
                + ": the file lists no tokens");
        assertOneLineRefusal(server("--read-tokens", dir.resolve("absent.txt").toString()), "absent.txt: no such tokens file");
        Path plain = Files.writeString(dir.resolve("plain.txt"), "ops not-a-hash\n");
        assertOneLineRefusal(server("--read-tokens", plain.toString()), "plain.txt:1:");
    }

    @Test
    void aPortInUseSaysWhichHostAndPort() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            assertOneLineRefusal(server("--host", "127.0.0.1", "--port", Integer.toString(port)),
                    "cannot listen on 127.0.0.1:" + port + " for the HTTP server: address already in use");
        }
    }
}
