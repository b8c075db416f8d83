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
import picocli.CommandLine.Mixin;
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

    static final String RULES = "mean,median,trmean,multikrum,geomed,flag,cfa,acfa,cfae,nnm+flag,nnm+cfae";
    static final String ATTACKS = "none,lie,lie:z=1.5,lienoise,empire,mimic,adaptive:lie,adaptive:ipm";
    static final Robustness.Grid QUICK = new Robustness.Grid(List.of("mean", "flag", "cfa", "acfa"), List.of("none", "lie"),
            List.of("iid"), List.of(1L, 2L));
    static final int QUICK_ROUNDS = 30;

    @Spec
    CommandSpec spec;

    @Mixin
    TrainingOptions task = new TrainingOptions();

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

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "flagagg-robustness",
            description = "Where results.json and report.html go (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--quick", description = "A CI-sized run: mean, flag, cfa, acfa under none and lie, iid, seeds 1 and 2, "
            + QUICK_ROUNDS + " rounds (replaces the grid and --rounds).")
    boolean quick;

    @Option(names = "--merge", paramLabel = "DIRS", split = ",",
            description = "Runs nothing: summarises the runs of earlier results.json files (in DIRS, with the same "
                    + "settings, e.g. one per seed or split) into --out.")
    List<Path> merge;

    @Override
    public Integer call() throws Exception {
        if (merge != null) {
            return merge();
        }
        Robustness.Grid grid = quick ? QUICK : new Robustness.Grid(rules, attacks, splits, seeds);
        int runRounds = quick ? QUICK_ROUNDS : task.rounds;
        task.check();
        for (String rule : grid.rules()) {
            if (!Rules.NAMES.contains(rule.substring(rule.lastIndexOf('+') + 1))) {
                throw new IllegalArgumentException("--rules: unknown rule '" + rule + "' (rules: " + String.join(", ", Rules.NAMES) + ")");
            }
        }
        FlagOptions flag = FlagOptions.DEFAULTS.withScale(FlagOptions.Scale.of("norm"));
        PrintWriter err = spec.commandLine().getErr();
        long t0 = System.nanoTime();
        Files.createDirectories(out);
        Main.quietInfo("org.flagagg");
        List<JsonObject> runs = new ArrayList<>();
        Vertx vertx = Vertx.vertx();
        try {
            int done = 0;
            for (long seed : grid.seeds()) {
                Dataset train = DigitImages.generate(seed, task.trainSize, 16, 0.1);
                Dataset test = DigitImages.generate(seed + 1, task.testSize, 16, 0.1);
                Mlp model = new Mlp(train.features(), 64, train.classes());
                for (String split : grid.splits()) {
                    Training training = new Training(vertx, train, test, model, task.settings(seed, flag, 250, split, runRounds));
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
        JsonObject settings = new JsonObject().put("workers", task.workers).put("byzantine", task.byzantine)
                .put("rounds", runRounds).put("batch", task.batch).put("learning_rate", task.learningRate)
                .put("schedule", task.schedule).put("eval_every", task.evalEvery).put("train", task.trainSize)
                .put("test", task.testSize)
                .put("model", "MLP 256-64-10 on generated 16 x 16 digits").put("flag_scale", "norm");
        return write(grid, settings, runs, t0);
    }

    /** --merge: the union of the runs of the given results.json files, which must share their settings. */
    private int merge() throws Exception {
        long t0 = System.nanoTime();
        JsonObject settings = null;
        List<JsonObject> runs = new ArrayList<>();
        for (Path dir : merge) {
            JsonObject results = new JsonObject(Files.readString(dir.resolve("results.json")));
            if (settings == null) {
                settings = results.getJsonObject("settings");
            } else if (!settings.equals(results.getJsonObject("settings"))) {
                throw new IllegalArgumentException("--merge: " + dir + " ran with other settings ("
                        + results.getJsonObject("settings").encode() + ") than " + merge.get(0) + " (" + settings.encode() + ")");
            }
            results.getJsonArray("runs").forEach(r -> runs.add((JsonObject) r));
        }
        Files.createDirectories(out);
        return write(Robustness.Grid.of(runs), settings, runs, t0);
    }

    private int write(Robustness.Grid grid, JsonObject settings, List<JsonObject> runs, long t0) throws Exception {
        PrintWriter outWriter = spec.commandLine().getOut();
        JsonObject summary = Robustness.summary(grid, runs);
        JsonObject results = new JsonObject()
                .put("settings", settings)
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
