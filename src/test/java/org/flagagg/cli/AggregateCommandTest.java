package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.flagagg.ForkedMain;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AggregateCommandTest {

    @TempDir
    Path dir;

    record Run(int code, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    Path text(String name, String content) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, content);
        return file;
    }

    static double[] parseLines(String out) {
        return out.lines().mapToDouble(Double::parseDouble).toArray();
    }

    @Test
    void meanOfTextInputPrintsOneValueALine() throws IOException {
        Path file = text("g.txt", "1, 2, 3\n3 4 5\n\n5,6  7\n");
        Run r = run("aggregate", "--rule", "mean", file.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(parseLines(r.out())).containsExactly(3.0, 4.0, 5.0);
    }

    @Test
    void outputParsesBackToTheSameDouble() throws IOException {
        // 0.1f, 0.2f, 0.7f have long double expansions: the printed mean must round-trip exactly.
        Path file = text("g.txt", "0.1 0.7\n0.2 0.3\n0.3 0.1\n");
        Run r = run("aggregate", "--rule", "mean", file.toString());
        double[] expected = {((double) 0.1f + (double) 0.2f + (double) 0.3f) / 3, ((double) 0.7f + (double) 0.3f + (double) 0.1f) / 3};
        double[] got = parseLines(r.out());
        assertThat(got).hasSize(2);
        for (int k = 0; k < 2; k++) {
            assertThat(got[k]).isCloseTo(expected[k], org.assertj.core.data.Offset.offset(1e-15));
        }
        assertThat(r.out().lines().toList()).allSatisfy(line -> assertThat(Double.toString(Double.parseDouble(line))).isEqualTo(line));
    }

    @Test
    void nonFiniteGradientIsDroppedAndReportedNotFatal() throws IOException {
        Path file = text("g.txt", "1 2\nnan 4\n3 inf\n5 6\n");
        Path report = dir.resolve("report.json");
        Run r = run("aggregate", "--rule", "mean", "--report", report.toString(), file.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(parseLines(r.out())).containsExactly(3.0, 4.0);
        JsonObject json = new JsonObject(Files.readString(report));
        assertThat(json.getString("rule")).isEqualTo("mean");
        assertThat(json.getInteger("dropped")).isEqualTo(2);
        JsonArray workers = json.getJsonArray("per_worker");
        assertThat(workers.getJsonObject(1).getString("status")).isEqualTo("dropped");
        assertThat(workers.getJsonObject(1).getString("reason")).contains("non-finite").contains("coordinate 0");
        assertThat(workers.getJsonObject(2).getString("reason")).contains("coordinate 1");
        assertThat(workers.getJsonObject(0).getString("status")).isEqualTo("selected");
        assertThat(r.err().lines().toList()).containsExactly(
                "aggregate: worker 1 dropped: " + workers.getJsonObject(1).getString("reason"),
                "aggregate: worker 2 dropped: " + workers.getJsonObject(2).getString("reason"));
    }

    @Test
    void everyDroppedWorkerGetsOneLineOnStderrWithoutAReport() throws IOException {
        Path file = text("g.txt", "1 2\n0 0\n3 nan\n5 7\n");
        Run r = run("aggregate", "--rule", "flag", file.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(parseLines(r.out())).hasSize(2);
        assertThat(r.err().lines().toList()).containsExactly(
                "aggregate: worker 1 dropped: zero gradient",
                "aggregate: worker 2 dropped: non-finite value NaN at coordinate 1");
    }

    @Test
    void cfaDropsFWorkersWithReasonsAndReportsTheirCentredQuality() throws IOException {
        Path example = Path.of("docs/examples/gradients.txt").toAbsolutePath();
        Path report = dir.resolve("cfa.json");
        Run cfa = run("aggregate", "--rule", "cfa", "--f", "2", "--report", report.toString(), example.toString());
        assertThat(cfa.code()).as(cfa.err()).isZero();
        assertThat(cfa.err()).contains("among the 2 highest (cfa)");
        JsonObject json = new JsonObject(Files.readString(report));
        assertThat(json.getString("rule")).isEqualTo("cfa");
        JsonArray workers = json.getJsonArray("per_worker");
        int droppedByCfa = 0;
        for (int w = 0; w < workers.size(); w++) {
            JsonObject worker = workers.getJsonObject(w);
            if (w == 5) {
                assertThat(worker.getString("reason")).startsWith("non-finite");
                continue;
            }
            assertThat(worker.getDouble("centredQuality")).isBetween(0.0, 1.0 + 1e-12);
            if (worker.getString("reason", "").endsWith("(cfa)")) {
                droppedByCfa++;
            }
        }
        assertThat(droppedByCfa).isEqualTo(2);
    }

    @Test
    void flagResistsTheExampleAttackersAndReportsPerWorkerDiagnostics() throws IOException {
        // The shipped example: 8 honest workers (worker 5 has a NaN), a reversed x10 one and a noise one.
        Path example = Path.of("docs/examples/gradients.txt").toAbsolutePath();
        Path report = dir.resolve("report.json");
        Run flag = run("aggregate", "--rule", "flag", "--report", report.toString(), example.toString());
        Run mean = run("aggregate", "--rule", "mean", example.toString());
        assertThat(flag.code()).as(flag.err()).isZero();
        double[] honestMean = honestMean(Files.readAllLines(example));
        assertThat(cosine(parseLines(flag.out()), honestMean)).isGreaterThan(0.95);
        assertThat(cosine(parseLines(mean.out()), honestMean)).isLessThan(0.0);

        JsonObject json = new JsonObject(Files.readString(report));
        JsonArray workers = json.getJsonArray("per_worker");
        assertThat(workers).hasSize(10);
        assertThat(workers.getJsonObject(5).getString("status")).isEqualTo("dropped");
        for (int w : new int[] {0, 1, 2, 3, 4, 6, 7, 8, 9}) {
            assertThat(workers.getJsonObject(w).getDouble("quality")).isBetween(0.0, 1.0 + 1e-12);
            assertThat(workers.getJsonObject(w).getDouble("weight")).isPositive();
            assertThat(workers.getJsonObject(w).containsKey("coefficient")).isTrue();
        }
        JsonArray objective = json.getJsonObject("details").getJsonArray("objective");
        assertThat(objective.size()).isEqualTo(json.getJsonObject("details").getInteger("iterations") + 1);
        for (int k = 1; k < objective.size(); k++) {
            assertThat(objective.getDouble(k)).isLessThanOrEqualTo(objective.getDouble(k - 1));
        }
        // The default scale is norm: the aggregate's norm is the median norm of the 9 gradients FA kept.
        assertThat(json.getJsonObject("parameters").getString("scale")).isEqualTo("norm");
        double[] keptNorms = Files.readAllLines(example).stream().filter(line -> !line.toLowerCase(java.util.Locale.ROOT).contains("nan"))
                .mapToDouble(line -> Math.sqrt(Arrays.stream(line.split("[,\\s]+")).mapToDouble(Double::parseDouble)
                        .map(v -> (double) (float) v).map(v -> v * v).sum()))
                .sorted().toArray();
        assertThat(keptNorms).hasSize(9);
        assertThat(Math.sqrt(Arrays.stream(parseLines(flag.out())).map(v -> v * v).sum()))
                .isCloseTo(keptNorms[4], org.assertj.core.data.Percentage.withPercentage(1e-6));
        assertThat(json.getJsonObject("timings_ms").getDouble("solve")).isNotNegative();
    }

    private static double[] honestMean(java.util.List<String> lines) {
        double[] sum = null;
        int count = 0;
        for (int w = 0; w < 8; w++) {
            if (w == 5) {
                continue;
            }
            double[] g = Arrays.stream(lines.get(w).split(",")).map(String::strip).mapToDouble(Double::parseDouble).toArray();
            sum = sum == null ? new double[g.length] : sum;
            for (int k = 0; k < g.length; k++) {
                sum[k] += g[k];
            }
            count++;
        }
        for (int k = 0; k < sum.length; k++) {
            sum[k] /= count;
        }
        return sum;
    }

    private static double cosine(double[] a, double[] b) {
        double ab = 0;
        double aa = 0;
        double bb = 0;
        for (int k = 0; k < a.length; k++) {
            ab += a[k] * b[k];
            aa += a[k] * a[k];
            bb += b[k] * b[k];
        }
        return ab / Math.sqrt(aa * bb);
    }

    @Test
    void binaryInputStreamsAndMatchesTextInput() throws IOException {
        SplittableRandom random = new SplittableRandom(3);
        int p = 6;
        int n = 1000;
        float[][] g = new float[p][n];
        StringBuilder text = new StringBuilder();
        ByteBuffer bytes = ByteBuffer.allocate(4 * p * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < p; i++) {
            for (int k = 0; k < n; k++) {
                g[i][k] = (float) random.nextGaussian();
                bytes.putFloat(g[i][k]);
                text.append(k == 0 ? "" : " ").append(g[i][k]);
            }
            text.append('\n');
        }
        Path txt = text("g.txt", text.toString());
        Path bin = dir.resolve("g.bin");
        Files.write(bin, bytes.array());
        for (String rule : new String[] {"flag", "median", "krum"}) {
            Run fromText = run("aggregate", "--rule", rule, "--f", "1", txt.toString());
            Run fromBinary = run("aggregate", "--rule", rule, "--f", "1", "--binary", "--dim", "1000", "--chunk-coords", "77",
                    bin.toString());
            assertThat(fromText.code()).as(fromText.err()).isZero();
            assertThat(fromBinary.code()).as(fromBinary.err()).isZero();
            double[] a = parseLines(fromText.out());
            double[] b = parseLines(fromBinary.out());
            assertThat(a).hasSize(n);
            for (int k = 0; k < n; k++) {
                assertThat(b[k]).as(rule + " coordinate " + k).isCloseTo(a[k], org.assertj.core.data.Offset.offset(1e-12 * (1 + Math.abs(a[k]))));
            }
        }
        // --out with --binary writes float32 in the same layout as the input.
        Path out = dir.resolve("agg.bin");
        Run r = run("aggregate", "--rule", "mean", "--binary", "--dim", "1000", "--out", out.toString(), bin.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).isEmpty();
        ByteBuffer written = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(written.remaining()).isEqualTo(4 * n);
        for (int k = 0; k < n; k++) {
            double mean = 0;
            for (int i = 0; i < p; i++) {
                mean += g[i][k];
            }
            // sum_i (1/p) g_i rounds differently from (sum_i g_i) / p: compare within float precision.
            assertThat((double) written.getFloat()).isCloseTo(mean / p, org.assertj.core.data.Offset.offset(1e-6 * (1 + Math.abs(mean / p))));
        }
    }

    /**
     * A binary --out longer than the output's 4 MiB write buffer: the same bytes on one thread and on three,
     * each the float32 of the mean of two inputs (exact in double: (a + b) / 2 = a / 2 + b / 2).
     */
    @Test
    void binaryOutputIsTheSameBytesOnOneThreadAndOnSeveral() throws IOException {
        int n = (1 << 20) + 12_345;
        ByteBuffer bytes = ByteBuffer.allocate(4 * 2 * n).order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom random = new SplittableRandom(8);
        while (bytes.hasRemaining()) {
            bytes.putFloat((float) random.nextGaussian());
        }
        Path bin = dir.resolve("two.bin");
        Files.write(bin, bytes.array());
        byte[][] outputs = new byte[2][];
        String[] threads = {"1", "3"};
        for (int t = 0; t < 2; t++) {
            Path out = dir.resolve("mean-" + threads[t] + ".bin");
            Run r = run("aggregate", "--rule", "mean", "--binary", "--dim", Integer.toString(n), "--chunk-coords", "100003",
                    "--threads", threads[t], "--out", out.toString(), bin.toString());
            assertThat(r.code()).as(r.err()).isZero();
            outputs[t] = Files.readAllBytes(out);
        }
        assertThat(outputs[1]).isEqualTo(outputs[0]);
        ByteBuffer written = ByteBuffer.wrap(outputs[0]).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(written.remaining()).isEqualTo(4 * n);
        for (int k = 0; k < n; k++) {
            double a = bytes.getFloat(4 * k);
            double b = bytes.getFloat(4 * (n + k));
            assertThat(written.getFloat(4 * k)).as("coordinate %d", k).isEqualTo((float) ((a + b) / 2));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ragged", "word", "empty", "hex"})
    void badTextInputIsOneLineWithExitCode2(String kind) throws IOException {
        String content = switch (kind) {
            case "ragged" -> "1 2 3\n4 5\n";
            case "word" -> "1 2\n3 abc\n";
            case "empty" -> "\n\n";
            default -> "1 2\n0x1p3 4\n";
        };
        Path file = text("bad.txt", content);
        Run r = run("aggregate", "--rule", "mean", file.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.out()).isEmpty();
        assertThat(r.err().lines().count()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).doesNotContain("Exception").doesNotContain("\tat ");
        switch (kind) {
            case "ragged" -> assertThat(r.err()).contains(":2:").contains("2 values").contains("line 1 has 3");
            case "word" -> assertThat(r.err()).contains(":2:").contains("'abc' is not a number");
            case "empty" -> assertThat(r.err()).contains("no gradients");
            default -> assertThat(r.err()).contains("'0x1p3' is not a number");
        }
    }

    @Test
    void badParametersAreOneLineWithExitCode2() throws IOException {
        Path file = text("g.txt", "1 2\n3 4\n5 6\n");
        Path bin = dir.resolve("g.bin");
        Files.write(bin, new byte[10]);
        String[][] cases = {
            {"aggregate", "--rule", "nope", file.toString()},
            {"aggregate", "--rule", "flag", "--r", "4", file.toString()},
            {"aggregate", "--rule", "krum", "--f", "1", file.toString()},
            {"aggregate", "--rule", "trmean", "--f", "-1", file.toString()},
            {"aggregate", "--rule", "flag", "--lambda", "-1", file.toString()},
            {"aggregate", "--rule", "flag", "--scale", "huge", file.toString()},
            {"aggregate", "--binary", "--dim", "3", bin.toString()},
            {"aggregate", "--binary", bin.toString()},
            {"aggregate", "--rule", "mean", dir.resolve("missing.txt").toString()},
            {"aggregate", "--iterations", "many", file.toString()},
            {"aggregate"},
            {"aggregate", "--rule", "mean", "--out", dir.toString(), file.toString()},
            {"aggregate", "--rule", "mean", "--threads", "0", file.toString()},
        };
        String[] expected = {"unknown rule 'nope'", "4", "krum", "f", "lambda", "--scale", "not a positive multiple of 4 * dim = 12",
            "--binary needs --dim", "no such file", "many", "FILE", "--out " + dir + ": is a directory",
            "--threads must be >= 1, got 0"};
        for (int c = 0; c < cases.length; c++) {
            Run r = run(cases[c]);
            assertThat(r.code()).as(Arrays.toString(cases[c]) + " -> " + r.err()).isEqualTo(2);
            assertThat(r.err().lines().count()).as(r.err()).isEqualTo(1);
            assertThat(r.err()).as(Arrays.toString(cases[c])).contains(expected[c]).doesNotContain("\tat ");
        }
    }

    /** The command line in a JVM of its own, which prints the exit code (ForkedMain wants the JVM's to be 0). */
    static final class Cli {
        public static void main(String[] args) {
            int code = Main.run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true));
            System.out.println("exit=" + code);
        }
    }

    /** Without --add-modules, as a new user runs it: the error is the only line, with no log line before it. */
    @Test
    void aDirectoryIsOneLineNamingItWithExitCode2AndNoKernelNotice() throws Exception {
        Path gradients = Files.createDirectory(dir.resolve("gradients"));
        ForkedMain run = ForkedMain.run(dir, Duration.ofSeconds(60), List.of("-Xmx64m"), Cli.class,
                "aggregate", "--rule", "mean", gradients.toString());
        assertThat(run.number("exit")).as(run.report()).isEqualTo(2);
        assertThat(run.stderr()).isEqualTo("aggregate: " + gradients + ": is a directory, not a file of gradients\n");
    }

    @Test
    void versionAndHelp() {
        Run version = run("--version");
        assertThat(version.code()).isZero();
        assertThat(version.out()).startsWith("flagagg ");
        Run help = run("aggregate", "--help");
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("--rule").contains("--iterations").contains("authors' code").contains("--scale")
                .contains("--binary").contains("--report");
    }
}
