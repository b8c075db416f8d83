package org.flagagg.cli;

import io.vertx.core.json.JsonObject;
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.flagagg.config.Configuration;
import org.flagagg.config.InputException;
import org.flagagg.config.JobConfig;
import org.flagagg.engine.RoundReport;
import org.flagagg.kernels.Kernels;
import org.flagagg.round.AggregateSink;
import org.flagagg.round.Aggregation;
import org.flagagg.round.AggregationResult;
import org.flagagg.round.ArraySource;
import org.flagagg.round.BinaryFileSource;
import org.flagagg.round.GradientSource;
import org.flagagg.rules.RuleConfig;
import org.flagagg.rules.Rules;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code flagagg aggregate}: aggregates the gradients in a file with one rule, offline. */
@Command(name = "aggregate", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Aggregates the gradients in FILE with one rule and prints the aggregate, one value a line.",
            "Text input: one gradient per line, values separated by commas and/or spaces.",
            "Binary input (--binary --dim N): little-endian float32, gradients back to back; streamed in chunks, "
                + "so files larger than the heap work.",
            "Gradients with NaN or infinite values (and, for flag, zero ones) are dropped with one line each on "
                + "stderr and in --report; they do not fail the command.",
            "Exit codes: 0 done, 2 bad input or parameters, 1 other failure."})
final class AggregateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    RuleOptions rule;

    @Option(names = "--binary", description = "FILE holds little-endian float32 gradients back to back (needs --dim); "
            + "--out is then written as float32 too.")
    boolean binary;

    @Option(names = "--dim", paramLabel = "N", description = "Dimension of each gradient, for --binary.")
    Long dim;

    @Option(names = "--out", paramLabel = "FILE", description = "Write the aggregate to FILE (in the input's format) "
            + "instead of standard output.")
    Path out;

    @Option(names = "--report", paramLabel = "FILE", description = "Write a JSON report to FILE: rule, parameters, kept "
            + "and dropped workers with reasons, per-worker quality and weight (flag), centred quality (cfa), "
            + "scores (krum family), iterations, objective trace, timings.")
    Path report;

    @Option(names = "--chunk-coords", paramLabel = "N", description = JobOptions.CHUNK_COORDS_HELP)
    Integer chunkCoords;

    @Parameters(index = "0", paramLabel = "FILE", description = "The gradients.")
    Path file;

    @Override
    public Integer call() throws IOException {
        if (binary != (dim != null)) {
            throw new InputException(binary ? "--binary needs --dim N" : "--dim is only for --binary input");
        }
        // The packaged configuration and these flags: aggregate reads no --conf and no environment.
        FlagLayer flags = new FlagLayer().put("chunk_coords", chunkCoords);
        rule.addTo(flags);
        JsonObject settings = Configuration.load(null, Map.of(), flags.json());
        RuleConfig config = JobConfig.ruleFromJson(settings.getJsonObject("rule"));
        // A one-shot command: the scalar-kernel notice would make every error two lines (README says it).
        Main.quietInfo("org.flagagg.kernels");
        var aggregation = new Aggregation(Rules.create(config), settings.getInteger("chunk_coords"), Kernels.best());
        AggregationResult result;
        try (GradientSource source = open(); Output output = openOutput()) {
            result = aggregation.run(source, output);
        }
        result.dropped().forEach((worker, reason) ->
                spec.commandLine().getErr().println("aggregate: worker " + worker + " dropped: " + reason));
        if (report != null) {
            JsonObject json = RoundReport.report(result)
                    .put("parameters", new JsonObject()
                            .put("f", config.f()).put("m", config.m())
                            .put("r", config.flag().rank()).put("lambda", config.flag().lambda())
                            .put("iterations", config.flag().iterations())
                            .put("scale", config.flag().scale().name().toLowerCase(java.util.Locale.ROOT)));
            Files.writeString(report, json.encodePrettily() + "\n");
        }
        return 0;
    }

    private GradientSource open() throws IOException {
        if (Files.isDirectory(file)) {
            throw new InputException(file + ": is a directory, not a file of gradients");
        }
        try {
            if (binary) {
                return new BinaryFileSource(file, dim, Kernels.best());
            }
            try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                return new ArraySource(TextGradients.parse(in, file.toString()));
            }
        } catch (NoSuchFileException e) {
            throw new InputException(file + ": no such file");
        } catch (AccessDeniedException e) {
            throw new InputException(file + ": permission denied");
        }
    }

    private Output openOutput() throws IOException {
        if (out != null && Files.isDirectory(out)) {
            throw new InputException("--out " + out + ": is a directory");
        }
        OutputStream stream = out == null ? null : new BufferedOutputStream(Files.newOutputStream(out), 1 << 16);
        if (binary && stream != null) {
            return new BinaryOutput(stream);
        }
        Writer writer = stream == null ? spec.commandLine().getOut()
                : new BufferedWriter(new OutputStreamWriter(stream, StandardCharsets.UTF_8), 1 << 16);
        return new TextOutput(writer, stream != null);
    }

    /** The aggregate's destination. */
    private interface Output extends AggregateSink, AutoCloseable {
        @Override
        void close() throws IOException;
    }

    /** One value a line, printed so it parses back to the same double. */
    private static final class TextOutput implements Output {
        private final Writer writer;
        private final boolean owned;

        TextOutput(Writer writer, boolean owned) {
            this.writer = writer;
            this.owned = owned;
        }

        @Override
        public void accept(long offset, double[] values, int len) throws IOException {
            for (int k = 0; k < len; k++) {
                writer.write(Double.toString(values[k]));
                writer.write('\n');
            }
        }

        @Override
        public void close() throws IOException {
            if (owned) {
                writer.close();
            } else {
                writer.flush();
                if (writer instanceof PrintWriter pw && pw.checkError()) {
                    throw new IOException("could not write the aggregate to standard output");
                }
            }
        }
    }

    /** Little-endian float32, like the input. */
    private static final class BinaryOutput implements Output {
        private final OutputStream stream;
        private ByteBuffer buffer = ByteBuffer.allocate(0);

        BinaryOutput(OutputStream stream) {
            this.stream = stream;
        }

        @Override
        public void accept(long offset, double[] values, int len) throws IOException {
            if (buffer.capacity() < 4 * len) {
                buffer = ByteBuffer.allocate(4 * len).order(ByteOrder.LITTLE_ENDIAN);
            }
            buffer.clear();
            for (int k = 0; k < len; k++) {
                buffer.putFloat((float) values[k]);
            }
            stream.write(buffer.array(), 0, 4 * len);
        }

        @Override
        public void close() throws IOException {
            stream.close();
        }
    }
}
