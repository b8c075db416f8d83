package org.flagagg.cli;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.flagagg.demo.Dataset;
import org.flagagg.demo.DigitImages;
import org.flagagg.demo.Mlp;
import org.flagagg.demo.Robustness;
import org.flagagg.demo.Training;
import org.flagagg.fa.FlagOptions;
import org.flagagg.rules.Rules;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code flagagg robustness}: the demo's training (generated digits, the real engine) over rules x attacks x
 * splits x seeds, summarised with standard errors over seeds: results.json, report.html and a Markdown table.
 * A command of its own rather than {@code demo --grid}: it loops over splits and seeds, which the demo's
 * options (one split, one seed, straggler runs, --serve) do not, and its output is a summary, not runs.
 */
@Command(name = "robustness", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Benchmarks the rules: rules x attacks x splits x seeds of the demo's training, through the engine.",
            "Writes results.json, report.html (curves, worst case per rule, Byzantine workers dropped) and prints",
            "the tables (see docs/robustness.md)."})
final class RobustnessCommand implements Callable<Integer> {

    static final String RULES = "mean,median,trmean,multikrum,geomed,flag,cfa,cfae,nnm+flag,nnm+cfae";
    static final String ATTACKS = "none,lie,lie:z=1.5,lienoise,empire,mimic";
    static final Robustness.Grid QUICK = new Robustness.Grid(List.of("mean", "flag", "cfa"), List.of("none", "lie"),
            List.of("iid"), List.of(1L, 2L));
    static final int QUICK_ROUNDS = 30;

    @Spec
    CommandSpec spec;

    @Option(names = {"-p", "--workers"}, paramLabel = "P", defaultValue = "15", description = "Workers (default: ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = {"-f", "--byzantine"}, paramLabel = "F", defaultValue = "3",
            description = "Byzantine workers, the first F; also the f given to the rules (default: ${DEFAULT-VALUE}).")
    int byzantine;

    @Option(names = "--rules", paramLabel = "LIST", split = ",", defaultValue = RULES,
            description = "Rules, each optionally behind a pre-aggregation as in nnm+flag (default: ${DEFAULT-VALUE}).")
    List<String> rules;

    @Option(names = "--attacks", paramLabel = "LIST", split = DemoCommand.SPEC_LIST, splitSynopsisLabel = ",",
            defaultValue = ATTACKS, description = "Attack specs; a comma before key=value continues a spec "
                    + "(default: ${DEFAULT-VALUE}).")
    List<String> attacks;

    @Option(names = "--splits", paramLabel = "LIST", split = ",", defaultValue = "iid,labels:k=2",
            description = "Data splits, as demo --split (default: ${DEFAULT-VALUE}).")
    List<String> splits;

    @Option(names = "--seeds", paramLabel = "LIST", split = ",", defaultValue = "1,2,3",
            description = "Seeds; each draws its own data, model, shards and attack noise (default: ${DEFAULT-VALUE}).")
    List<Long> seeds;

    @Option(names = "--rounds", paramLabel = "R", defaultValue = "150", description = "Rounds per run (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "32", description = "Images per worker per round (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", paramLabel = "LR", defaultValue = "1.0", description = "Learning rate (default: ${DEFAULT-VALUE}).")
    double learningRate;

    @Option(names = "--schedule", paramLabel = "constant|cosine", defaultValue = "cosine",
            description = "Learning rate over the rounds (default: ${DEFAULT-VALUE}).")
    String schedule;

    @Option(names = "--eval-every", paramLabel = "K", defaultValue = "5", description = "Evaluate every K rounds (default: ${DEFAULT-VALUE}).")
    int evalEvery;

    @Option(names = "--train-size", paramLabel = "N", defaultValue = "12000", description = "Training images (default: ${DEFAULT-VALUE}).")
    int trainSize;

    @Option(names = "--test-size", paramLabel = "N", defaultValue = "2000", description = "Test images (default: ${DEFAULT-VALUE}).")
    int testSize;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "flagagg-robustness",
            description = "Where results.json and report.html go (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--quick", description = "A CI-sized run: mean, flag, cfa under none and lie, iid, seeds 1 and 2, "
            + QUICK_ROUNDS + " rounds (replaces the grid and --rounds).")
    boolean quick;

    @Override
    public Integer call() throws Exception {
        Robustness.Grid grid = quick ? QUICK : new Robustness.Grid(rules, attacks, splits, seeds);
        int runRounds = quick ? QUICK_ROUNDS : rounds;
        for (String rule : grid.rules()) {
            if (!Rules.NAMES.contains(rule.substring(rule.lastIndexOf('+') + 1))) {
                throw new IllegalArgumentException("--rules: unknown rule '" + rule + "' (rules: " + String.join(", ", Rules.NAMES) + ")");
            }
        }
        FlagOptions flag = FlagOptions.DEFAULTS.withScale(FlagOptions.Scale.of("norm"));
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter outWriter = spec.commandLine().getOut();
        long t0 = System.nanoTime();
        Files.createDirectories(out);
        Main.quietInfo("org.flagagg");
        List<JsonObject> runs = new ArrayList<>();
        Vertx vertx = Vertx.vertx();
        try {
            int done = 0;
            for (long seed : grid.seeds()) {
                Dataset train = DigitImages.generate(seed, trainSize, 16, 0.1);
                Dataset test = DigitImages.generate(seed + 1, testSize, 16, 0.1);
                Mlp model = new Mlp(train.features(), 64, train.classes());
                for (String split : grid.splits()) {
                    Training training = new Training(vertx, train, test, model, new Training.Settings(workers, byzantine,
                            batch, learningRate, runRounds, evalEvery, seed, flag, 4096, 250, split, schedule));
                    for (String attack : grid.attacks()) {
                        for (String rule : grid.rules()) {
                            training.validate(new Training.Spec(rule, attack, "none"));
                        }
                    }
                    for (String attack : grid.attacks()) {
                        for (String rule : grid.rules()) {
                            int index = done;
                            String what = String.format("run %d/%d seed %d %s %s / %s", index + 1, grid.runs(), seed,
                                    split, rule, attack);
                            Training.Result result = training.run(new Training.Spec(rule, attack, "none"), null,
                                    (d, n) -> ProgressLine.draw(err, (index + (double) d / n) / grid.runs(),
                                            String.format("%-70s", what + ", round " + d + "/" + n)));
                            runs.add(Robustness.runJson(result, split, seed));
                            done++;
                        }
                    }
                }
            }
        } finally {
            vertx.close().await();
        }
        ProgressLine.draw(err, 1, String.format("%-70s", "done"));
        ProgressLine.end(err);
        JsonObject summary = Robustness.summary(grid, runs);
        JsonObject results = new JsonObject()
                .put("settings", new JsonObject().put("workers", workers).put("byzantine", byzantine).put("rounds", runRounds)
                        .put("batch", batch).put("learning_rate", learningRate).put("schedule", schedule)
                        .put("eval_every", evalEvery).put("train", trainSize).put("test", testSize)
                        .put("model", "MLP 256-64-10 on generated 16 x 16 digits").put("flag_scale", "norm"))
                .put("grid", grid.json())
                .put("summary", summary)
                .put("seconds", (System.nanoTime() - t0) / 1e9)
                .put("runs", new JsonArray(new ArrayList<>(runs)));
        Files.writeString(out.resolve("results.json"), results.encodePrettily() + "\n");
        Files.writeString(out.resolve("report.html"), Robustness.html(results));
        outWriter.print(Robustness.table(grid, summary));
        outWriter.printf("%nwrote %s and %s in %.0f s%n", out.resolve("results.json"), out.resolve("report.html"),
                (System.nanoTime() - t0) / 1e9);
        outWriter.flush();
        return 0;
    }
}
