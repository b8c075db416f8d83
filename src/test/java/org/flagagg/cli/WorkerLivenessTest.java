package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.flagagg.config.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A `flagagg worker --cluster` JVM (here, this one) whose aggregator is in another JVM: it must not wait for
 * ever. With no server it gives up after --server-wait naming what it waited for; when the server JVM is
 * killed mid-run it notices the member leaving and exits non-zero with the reason.
 */
class WorkerLivenessTest {
    /** The worker's exit, bounded: Hazelcast's removal of a killed member plus the worker's shutdown. */
    private static final long EXIT_WAIT_S = 90;
    private static final Pattern A_ROUND_DONE = Pattern.compile("\\] [1-9][0-9]*/");

    @TempDir
    Path dir;

    private static String clusterName() {
        return "liveness-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    }

    @Test
    void aWorkerWithNoServerInTheClusterGivesUpNamingWhatItWaitedFor() throws Exception {
        Path secret = Files.writeString(dir.resolve("job-secret"), "0123456789abcdef0123456789abcdef\n");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        long start = System.nanoTime();
        int code = Main.run(new String[] {"worker", "--cluster", "--cluster-name", clusterName(), "--cluster-port", "0",
            "--cluster-secret", secret.toString(), "--job", "lonely", "--server-wait", "2", "--workers", "2", "--dim", "1000", "--rounds", "1"},
                new PrintWriter(out, true), new PrintWriter(err, true));
        assertThat(code).as(err.toString()).isNotZero();
        assertThat(err.toString()).contains("no aggregator for job 'lonely' answered within 2 s");
        assertThat(err.toString().strip().lines()).hasSize(1);
        assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start)).isLessThan(EXIT_WAIT_S);
    }

    /** Server and worker JVMs on the cluster's mutual TLS, as `flagagg certs` sets it up. */
    @Test
    void aWorkerJvmNoticesItsServerJvmDyingAndExitsWithTheReason() throws Exception {
        String name = clusterName();
        Path certs = dir.resolve("certs");
        assertThat(Main.run(new String[] {"certs", "--out", certs.toString()}, new PrintWriter(new StringWriter()),
                new PrintWriter(new StringWriter()))).isZero();
        JsonObject tls = new JsonObject(Files.readString(certs.resolve(CertsCommand.CONFIG))).getJsonObject("cluster");
        JsonObject config = Configuration.defaults().put("job", "crash").put("workers", 2).put("dim", 1000)
                .put("chunk_coords", 256).put("memory_budget_mb", 8).put("slab_kib", 64)
                .put("spill_dir", dir.resolve("spill").toString())
                .put("round_log", dir.resolve("rounds.jsonl").toString());
        config.getJsonObject("cluster").mergeIn(tls).put("name", name).put("port", 0);
        config.getJsonObject("http").put("port", 0);
        try (ServerProcess server = ServerProcess.start(config, List.of("-Xmx256m"), List.of())) {
            CompletableFuture<Void> roundDone = new CompletableFuture<>();
            StringWriter err = new StringWriter();
            Writer watching = new Writer() {
                @Override
                public void write(char[] buf, int off, int len) {
                    err.write(buf, off, len);
                    if (A_ROUND_DONE.matcher(err.toString()).find()) {
                        roundDone.complete(null);
                    }
                }

                @Override
                public void flush() {
                }

                @Override
                public void close() {
                }
            };
            StringWriter out = new StringWriter();
            CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> Main.run(new String[] {"worker",
                "--cluster", "--cluster-name", name, "--cluster-members", server.member(), "--cluster-port", "0",
                "--cluster-tls-keystore", tls.getString("tls_keystore"), "--cluster-tls-truststore",
                tls.getString("tls_truststore"), "--cluster-tls-password-file", tls.getString("tls_password_file"),
                "--cluster-secret", tls.getString("secret"),
                "--job", "crash", "--workers", "2", "--dim", "1000", "--chunk-coords", "256", "--rounds", "100000"},
                    new PrintWriter(out, true), new PrintWriter(watching, true)));
            roundDone.get(EXIT_WAIT_S, TimeUnit.SECONDS);
            server.kill();
            int code = exit.get(EXIT_WAIT_S, TimeUnit.SECONDS);
            assertThat(code).as(err.toString()).isNotZero();
            assertThat(err.toString()).contains("the aggregator of job 'crash' (member " + server.member()
                    + ") left the cluster");
        }
    }
}
