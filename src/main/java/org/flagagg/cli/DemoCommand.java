package org.flagagg.cli;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.flagagg.config.HttpConfig;
import org.flagagg.config.ServerConfig;
import org.flagagg.demo.Dataset;
import org.flagagg.demo.DigitImages;
import org.flagagg.demo.Idx;
import org.flagagg.demo.Mlp;
import org.flagagg.demo.Report;
import org.flagagg.demo.Training;
import org.flagagg.fa.FlagOptions;
import org.flagagg.rules.Rules;
import org.flagagg.sim.Attacks;
import org.flagagg.server.Server;
import org.flagagg.web.Dashboard;
import org.flagagg.web.HttpApi;
import org.flagagg.web.RoundsApi;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code flagagg demo}: trains a small MLP with data-parallel SGD through the real round engine, once per
 * rule x attack (and with a straggler), and shows what the rules do: a progress bar, a table of final
 * accuracies, results.json and a self-contained HTML report. See docs/demo.md.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Trains a digit classifier under attack, once per rule and attack, and writes a report.",
            "p simulated workers, f of them Byzantine, train through an embedded aggregator; the outputs are",
            "a table, results.json and report.html (see docs/demo.md)."})
final class DemoCommand implements Callable<Integer> {

    static final List<String> DEFAULT_RULES = List.of("flag", "mean", "multikrum", "bulyan", "median", "trmean", "geomed");
    static final List<String> DEFAULT_ATTACKS = List.of("none", "random", "reverse", "drop", "lie", "empire");
    static final List<String> QUICK_RULES = List.of("flag", "mean", "multikrum", "median");
    static final List<String> QUICK_ATTACKS = List.of("none", "lie", "random");

    @Spec
    CommandSpec spec;

    @Mixin
    TrainingOptions task = new TrainingOptions();

    @Option(names = "--rules", paramLabel = "LIST", split = ",",
            description = "Rules to compare, each optionally behind a pre-aggregation as in nnm+trmean "
                    + "(default: flag,mean,multikrum,bulyan,median,trmean,geomed).")
    List<String> rules;

    /**
     * Commas separate specs, except before a key=value item: lie,lienoise:z=1.5,std=3,empire is three specs.
     * (A comma is followed by a new spec unless '=' comes before the next ':' or ','.)
     */
    static final String SPEC_LIST = ",(?![^,:]*=)";

    @Option(names = "--attacks", paramLabel = "LIST", split = SPEC_LIST, splitSynopsisLabel = ",",
            description = "Attack specs to run each rule under, e.g. lie or empire:eps=10; a comma before key=value "
                    + "continues a spec, as in lienoise:z=1.5,std=3 (default: none,random,reverse,drop,lie,empire).")
    List<String> attacks;

    @Option(names = "--stragglers", paramLabel = "SPEC", defaultValue = "delay:ms=1000,workers=1",
            description = "Straggler spec of the extra runs with stragglers (as in loadtest; 'none' for no such runs) "
                    + "(default: ${DEFAULT-VALUE}).")
    String stragglers;

    @Option(names = "--straggler-rules", paramLabel = "LIST", split = ",", defaultValue = "flag,mean",
            description = "Rules that also run with stragglers, under the attacks --straggler-attacks (default: ${DEFAULT-VALUE}).")
    List<String> stragglerRules;

    @Option(names = "--straggler-attacks", paramLabel = "LIST", split = SPEC_LIST, splitSynopsisLabel = ",", defaultValue = "lie",
            description = "Attacks of the runs with stragglers, of those in --attacks (default: ${DEFAULT-VALUE}).")
    List<String> stragglerAttacks;

    @Option(names = "--deadline-ms", paramLabel = "MS", defaultValue = "250",
            description = "Round deadline of the runs with stragglers: rounds close on the quorum of on-time workers "
                    + "(default: ${DEFAULT-VALUE}).")
    long deadlineMs;

    @Option(names = "--split", paramLabel = "iid|labels:k=K|dirichlet:alpha=A", defaultValue = "iid",
            description = "How the training images are shared out: iid, labels:k=2 (each worker holds k labels), "
                    + "dirichlet:alpha=0.5 (label shares per worker from Dirichlet(alpha)); seeded (default: ${DEFAULT-VALUE}).")
    String split;






    @Option(names = "--hidden", paramLabel = "H", defaultValue = "64",
            description = "Hidden units of the MLP; 0 trains the linear model (default: ${DEFAULT-VALUE}).")
    int hidden;

    @Option(names = "--r", paramLabel = "R", defaultValue = "0", description = "flag: subspace rank; 0 means ceil(p/2) (default: ${DEFAULT-VALUE}).")
    int rank;

    @Option(names = "--lambda", paramLabel = "L", defaultValue = "0", description = "flag: weight of the pairwise terms (default: ${DEFAULT-VALUE}).")
    double lambda;

    @Option(names = "--iterations", paramLabel = "T", defaultValue = "10", description = "flag: IRLS steps (default: ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--scale", paramLabel = "paper|norm", defaultValue = "norm",
            description = "flag: output scale; norm follows the gradients' norms, so one learning rate fits every rule "
                    + "(default: ${DEFAULT-VALUE}).")
    String scale;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1", description = "Seed of the data, the model and every draw (default: ${DEFAULT-VALUE}).")
    long seed;



    @Option(names = "--side", paramLabel = "PX", defaultValue = "16", description = "Generated images are PX x PX (default: ${DEFAULT-VALUE}).")
    int side;

    @Option(names = "--data", paramLabel = "DIR",
            description = "Train on MNIST-format IDX files in DIR (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                    + "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, optionally .gz) instead of generated digits.")
    Path data;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "flagagg-demo",
            description = "Where results.json, report.html and rounds.jsonl go (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--quick", description = "A short run: rules flag,mean,multikrum,median under none,lie,random, "
            + "and flag with stragglers (explicit --rules/--attacks still win).")
    boolean quick;

    @Option(names = "--serve", description = "Start the HTTP server (the live dashboard at /, GET /report, /rounds, /metrics, /health) and keep it up "
            + "after the run, until Ctrl-C.")
    boolean serve;

    @Option(names = "--host", paramLabel = "HOST", description = "HTTP interface with --serve (default: http.host of "
            + "conf/flagagg.json, 127.0.0.1).")
    String host;

    @Option(names = "--port", paramLabel = "PORT", description = "HTTP port with --serve; 0 picks a free one (default: "
            + "http.port of conf/flagagg.json, 8080).")
    Integer port;

    @Override
    public Integer call() throws Exception {
        List<String> ruleList = rules != null ? rules : quick ? QUICK_RULES : DEFAULT_RULES;
        List<String> attackList = attacks != null ? attacks : quick ? QUICK_ATTACKS : DEFAULT_ATTACKS;
        List<String> lateRules = quick && spec.commandLine().getParseResult().matchedOption("--straggler-rules") == null
                ? List.of("flag") : stragglerRules;
        for (String rule : ruleList) {
            if (!Rules.NAMES.contains(rule.substring(rule.lastIndexOf('+') + 1))) {
                throw new IllegalArgumentException("--rules: unknown rule '" + rule + "' (rules: " + String.join(", ", Rules.NAMES) + ")");
            }
        }
        FlagOptions flag = FlagOptions.DEFAULTS.withRank(rank).withLambda(lambda).withIterations(iterations)
                .withScale(FlagOptions.Scale.of(scale));
        Training.Settings settings = task.settings(seed, flag, deadlineMs, split, task.rounds);
        List<Training.Spec> specs = specs(ruleList, attackList, stragglers, lateRules, stragglerAttacks);
        task.check();

        PrintWriter err = spec.commandLine().getErr();
        PrintWriter outWriter = spec.commandLine().getOut();
        long t0 = System.nanoTime();
        Dataset train;
        Dataset test;
        String description;
        if (data != null) {
            Idx.Split split = Idx.readDirectory(data);
            train = split.train().head(task.trainSize);
            test = split.test().head(task.testSize);
            description = "MNIST-format data from " + data + ": " + train.size() + " training and " + test.size()
                    + " test images of " + train.rows() + " x " + train.cols() + " pixels.";
        } else {
            train = DigitImages.generate(seed, task.trainSize, side, 0.1);
            test = DigitImages.generate(seed + 1, task.testSize, side, 0.1);
            description = "Digits 0-9 rendered with the JDK's fonts under random affine distortions and pixel noise: "
                    + train.size() + " training and " + test.size() + " test images of " + side + " x " + side
                    + " pixels, generated from the seed (no download).";
        }
        Mlp model = new Mlp(train.features(), hidden, train.classes());
        Files.createDirectories(out);
        Path roundLog = out.resolve("rounds.jsonl");
        Files.deleteIfExists(roundLog);
        Main.quietInfo("org.flagagg"); // the engine logs every join and round; the demo's output says what matters
        Vertx vertx = Vertx.vertx();
        try {
            Training training = new Training(vertx, train, test, model, settings);
            specs.forEach(training::validate);
            Dashboard[] dashboard = new Dashboard[1];
            if (serve) {
                // The packaged http section under these flags (the demo reads no --conf).
                HttpConfig http = ServerConfig.load(null, Map.of(), new FlagLayer().put("http.host", host)
                        .put("http.port", port).json()).http();
                HttpServer server = serve(vertx, http, roundLog, dashboard);
                outWriter.printf("serving the live dashboard at http://%s:%d/ and the report at /report "
                        + "(and /rounds, /metrics, /health)%n", http.host(), server.actualPort());
                outWriter.flush();
            }
            outWriter.printf("%s%nmodel: %s, %d parameters; p = %d, f = %d; %d runs of %d rounds%n", description,
                    hidden == 0 ? "linear (softmax regression)" : "MLP " + train.features() + "-" + hidden + "-" + train.classes(),
                    model.dimension(), task.workers, task.byzantine, specs.size(), task.rounds);
            outWriter.flush();
            JsonArray runs = new JsonArray();
            for (int i = 0; i < specs.size(); i++) {
                Training.Spec s = specs.get(i);
                int index = i;
                Training.Result result = training.run(s, roundLog, new Training.Progress() {
                    @Override
                    public void update(int done, int total) {
                        progress(err, index, specs.size(), s, done, total);
                    }

                    @Override
                    public void engineStarted(Server engine) {
                        if (dashboard[0] != null) {
                            dashboard[0].follow(engine.job(), engine.store(), engine.aggregator()).await();
                        }
                    }
                });
                runs.add(Report.runJson(result));
            }
            progress(err, specs.size(), specs.size(), null, 0, 0);
            ProgressLine.end(err);
            JsonObject results = results(settings, description, train, test, model, ruleList, attackList, runs,
                    (System.nanoTime() - t0) / 1e9);
            Files.writeString(out.resolve("results.json"), results.encodePrettily() + "\n");
            Files.writeString(out.resolve("report.html"), Report.html(results));
            outWriter.print(Report.table(results));
            Report.summaries(results).values().forEach(outWriter::println);
            outWriter.printf("wrote %s and %s in %.0f s%n", out.resolve("results.json"), out.resolve("report.html"),
                    (System.nanoTime() - t0) / 1e9);
            outWriter.flush();
            if (serve) {
                outWriter.println("the server stays up: Ctrl-C to stop");
                outWriter.flush();
                new CountDownLatch(1).await();
            }
            return 0;
        } finally {
            vertx.close().await();
        }
    }

    /**
     * The runs: every rule under every attack, then the straggler runs (unless the straggler spec is none) of
     * the straggler rules under those straggler attacks that were selected: the table has no column for others.
     */
    static List<Training.Spec> specs(List<String> rules, List<String> attacks, String stragglers,
            List<String> lateRules, List<String> lateAttacks) {
        List<Training.Spec> specs = new ArrayList<>();
        for (String attack : attacks) {
            for (String rule : rules) {
                specs.add(new Training.Spec(rule, attack, "none"));
            }
        }
        if (!stragglers.trim().equalsIgnoreCase("none")) {
            for (String attack : lateAttacks.stream().filter(attacks::contains).toList()) {
                for (String rule : lateRules) {
                    specs.add(new Training.Spec(rule, attack, stragglers.trim()));
                }
            }
        }
        return specs;
    }

    /** The HTTP server of --serve: the round log, the report, and the live dashboard following each run. */
    private HttpServer serve(Vertx vertx, HttpConfig http, Path roundLog, Dashboard[] dashboard) {
        HttpApi api = new HttpApi(vertx);
        RoundsApi.mount(api.router(), vertx, roundLog);
        dashboard[0] = Dashboard.mount(api.router(), vertx, null, null, null, null);
        Path report = out.resolve("report.html").toAbsolutePath();
        api.router().get("/report").handler(ctx -> {
            if (Files.isRegularFile(report)) {
                ctx.response().putHeader("content-type", "text/html; charset=utf-8").sendFile(report.toString());
            } else {
                ctx.response().setStatusCode(404).putHeader("content-type", "application/json")
                        .end(new JsonObject().put("error", "the report is written when the demo's runs end").encode());
            }
        });
        return api.listen(new HttpServerOptions().setHost(http.host()).setPort(http.port())).await();
    }

    private static JsonObject results(Training.Settings s, String description, Dataset train, Dataset test, Mlp model,
            List<String> rules, List<String> attacks, JsonArray runs, double seconds) {
        JsonArray byzantineIds = new JsonArray();
        for (int b = 0; b < s.byzantine(); b++) {
            byzantineIds.add("w" + b);
        }
        return new JsonObject()
                .put("task", new JsonObject().put("description", description).put("train", train.size())
                        .put("test", test.size()).put("rows", train.rows()).put("cols", train.cols())
                        .put("model", new JsonObject().put("inputs", model.inputs()).put("hidden", model.hidden())
                                .put("classes", model.classes()).put("parameters", model.dimension())))
                .put("settings", new JsonObject().put("workers", s.workers()).put("byzantine", s.byzantine())
                        .put("byzantine_ids", byzantineIds).put("rounds", s.rounds()).put("batch", s.batch())
                        .put("learning_rate", s.learningRate()).put("schedule", s.schedule()).put("eval_every", s.evalEvery()).put("seed", s.seed())
                        .put("deadline_ms", s.deadlineMs()).put("split", s.split())
                        .put("flag", new JsonObject().put("r", s.flag().rankFor(s.workers())).put("lambda", s.flag().lambda())
                                .put("iterations", s.flag().iterations())
                                .put("scale", s.flag().scale().name().toLowerCase(Locale.ROOT))))
                .put("rules", new JsonArray(rules))
                .put("attacks", new JsonArray(attacks))
                .put("seconds", seconds)
                .put("runs", runs);
    }

    private static void progress(PrintWriter err, int run, int runs, Training.Spec s, int done, int total) {
        double fraction = runs == 0 ? 1 : (run + (total == 0 ? 0 : (double) done / total)) / runs;
        String what = s == null ? "done" : String.format("run %d/%d %s / %s%s, round %d/%d", run + 1, runs, s.rule(),
                s.attack(), "none".equals(s.stragglers()) ? "" : " + stragglers", done, total);
        ProgressLine.draw(err, fraction, String.format("%-60s", what));
    }
}
