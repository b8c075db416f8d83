package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `flagagg server` in a child JVM serves the dashboard, /metrics (Vert.x's and the engine's) and /ready. */
class ServerDashboardTest {
    private static final Pattern DASHBOARD = Pattern.compile("dashboard at (http://\\S+/)");

    @TempDir
    Path dir;

    @Test
    void theServerMountsTheDashboardMetricsAndProbes() throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString()), "-Xmx256m",
                "--add-modules=jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "server", "--job", "dashwire", "--workers", "3", "--dim", "1000", "--memory-budget", "4",
                "--round-log", dir.resolve("rounds.jsonl").toString(), "--port", "0"));
        Process process = new ProcessBuilder(command).redirectError(dir.resolve("server.err").toFile()).start();
        try {
            CompletableFuture<String> url = new CompletableFuture<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line = out.readLine(); line != null; line = out.readLine()) {
                        Matcher m = DASHBOARD.matcher(line);
                        if (m.find()) {
                            url.complete(m.group(1));
                        }
                    }
                    url.completeExceptionally(new IllegalStateException("the server exited without a dashboard line"));
                } catch (Exception e) {
                    url.completeExceptionally(e);
                }
            });
            reader.setDaemon(true);
            reader.start();
            String base = url.get(60, TimeUnit.SECONDS);
            HttpClient http = HttpClient.newHttpClient();

            HttpResponse<String> ready = http.send(HttpRequest.newBuilder(URI.create(base + "ready")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).isEqualTo(200);
            assertThat(ready.body()).contains("\"status\":\"UP\"");

            HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(URI.create(base + "metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.body()).contains("flagagg_round_last -1.0", "flagagg_chunk_store_budget_bytes 4194304.0",
                    "vertx_http_server_", "jvm_memory_used_bytes");
            assertThat(metrics.body()).doesNotContain("address=");

            HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(base + "dashboard/")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(page.statusCode()).isEqualTo(200);
            assertThat(page.body()).contains("<title>flagagg dashboard</title>");
        } finally {
            process.destroy();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
