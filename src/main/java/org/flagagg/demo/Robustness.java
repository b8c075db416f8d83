package org.flagagg.demo;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The robustness benchmark's arithmetic and report: runs of {@link Training} over rules x attacks x splits x
 * seeds, summarised per split, rule and attack as the mean and standard error over seeds of the final
 * accuracy, the mean accuracy curve and the mean share of Byzantine workers the rule dropped per round; and
 * per rule its worst attack (lowest mean). See docs/robustness.md.
 */
public final class Robustness {

    private Robustness() {
    }

    /** What a benchmark runs: every rule under every attack on every split, once per seed. */
    public record Grid(List<String> rules, List<String> attacks, List<String> splits, List<Long> seeds) {
        public Grid {
            if (rules.isEmpty() || attacks.isEmpty() || splits.isEmpty() || seeds.isEmpty()) {
                throw new IllegalArgumentException("rules, attacks, splits and seeds must each name at least one");
            }
        }

        /** The grid of some runs: their rules, attacks, splits and seeds, each in order of first appearance. */
        public static Grid of(List<JsonObject> runs) {
            return new Grid(distinct(runs, "rule"), distinct(runs, "attack"), distinct(runs, "split"),
                    runs.stream().map(r -> r.getLong("seed")).distinct().toList());
        }

        private static List<String> distinct(List<JsonObject> runs, String field) {
            return runs.stream().map(r -> r.getString(field)).distinct().toList();
        }

        public int runs() {
            return rules.size() * attacks.size() * splits.size() * seeds.size();
        }

        public JsonObject json() {
            return new JsonObject().put("rules", new JsonArray(rules)).put("attacks", new JsonArray(attacks))
                    .put("splits", new JsonArray(splits)).put("seeds", new JsonArray(seeds));
        }
    }

    /** A run's JSON ({@link Report#runJson}) with the split and seed it ran under. */
    public static JsonObject runJson(Training.Result result, String split, long seed) {
        return Report.runJson(result).put("split", split).put("seed", seed);
    }

    /**
     * The summary: {split: {rule: {"cells": {attack: cell}, "worst": {attack, mean, se}}}}, where a cell is
     * {n, mean, se, curve, eval_rounds, filtering, dropped, dropped_curve}: final accuracy's mean and standard
     * error over the seeds (se is null with one seed), the accuracy curve averaged over seeds, and the share of
     * Byzantine workers dropped, per round and overall (null unless the rule filtered in some run).
     */
    public static JsonObject summary(Grid grid, List<JsonObject> runs) {
        JsonObject bySplit = new JsonObject();
        for (String split : grid.splits()) {
            JsonObject byRule = new JsonObject();
            for (String rule : grid.rules()) {
                JsonObject cells = new JsonObject();
                JsonObject worst = null;
                for (String attack : grid.attacks()) {
                    List<JsonObject> seeds = runs.stream().filter(r -> split.equals(r.getString("split"))
                            && rule.equals(r.getString("rule")) && attack.equals(r.getString("attack"))).toList();
                    if (seeds.isEmpty()) {
                        continue;
                    }
                    JsonObject cell = cell(seeds);
                    cells.put(attack, cell);
                    if (worst == null || cell.getDouble("mean") < worst.getDouble("mean")) {
                        worst = new JsonObject().put("attack", attack).put("mean", cell.getDouble("mean"))
                                .put("se", cell.getValue("se"));
                    }
                }
                byRule.put(rule, new JsonObject().put("cells", cells).put("worst", worst));
            }
            bySplit.put(split, byRule);
        }
        return bySplit;
    }

    private static JsonObject cell(List<JsonObject> seeds) {
        int n = seeds.size();
        double[] finals = new double[n];
        for (int i = 0; i < n; i++) {
            finals[i] = seeds.get(i).getDouble("final_accuracy");
        }
        double mean = mean(finals);
        boolean filtering = seeds.stream().anyMatch(r -> r.getBoolean("filtering", false));
        double[] dropped = meanCurve(seeds, "byzantine_dropped");
        return new JsonObject().put("n", n).put("mean", mean).put("se", n < 2 ? null : standardError(finals))
                .put("eval_rounds", seeds.get(0).getJsonArray("eval_rounds"))
                .put("curve", Report.numbers(meanCurve(seeds, "accuracy")))
                .put("filtering", filtering)
                .put("dropped", filtering ? nanMean(dropped) : null)
                .put("dropped_curve", filtering ? Report.numbers(dropped) : null);
    }

    static double mean(double[] xs) {
        double sum = 0;
        for (double x : xs) {
            sum += x;
        }
        return sum / xs.length;
    }

    /** Sample standard deviation (n - 1) over sqrt(n). */
    static double standardError(double[] xs) {
        double m = mean(xs);
        double ss = 0;
        for (double x : xs) {
            ss += (x - m) * (x - m);
        }
        return Math.sqrt(ss / (xs.length - 1) / xs.length);
    }

    /** The mean over runs of an array field, entry by entry, skipping nulls (failed rounds). */
    private static double[] meanCurve(List<JsonObject> runs, String field) {
        int length = runs.stream().mapToInt(r -> r.getJsonArray(field).size()).min().orElse(0);
        double[] sum = new double[length];
        int[] count = new int[length];
        for (JsonObject r : runs) {
            JsonArray values = r.getJsonArray(field);
            for (int i = 0; i < length; i++) {
                Object v = values.getValue(i);
                if (v instanceof Number x) {
                    sum[i] += x.doubleValue();
                    count[i]++;
                }
            }
        }
        for (int i = 0; i < length; i++) {
            sum[i] = count[i] == 0 ? Double.NaN : sum[i] / count[i];
        }
        return sum;
    }

    private static double nanMean(double[] xs) {
        double sum = 0;
        int n = 0;
        for (double x : xs) {
            if (!Double.isNaN(x)) {
                sum += x;
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    /**
     * The summary as Markdown tables, one per split: final accuracy % (mean +- SE over seeds) per rule and
     * attack, [the share of Byzantine workers dropped per round] for filtering rules, and the worst attack.
     */
    public static String table(Grid grid, JsonObject summary) {
        StringBuilder sb = new StringBuilder();
        for (String split : grid.splits()) {
            sb.append("\n### split ").append(split).append(": final accuracy %, mean +- SE over ")
                    .append(grid.seeds().size()).append(" seed(s); [share of Byzantine workers dropped per round]\n\n");
            sb.append("| rule | ").append(String.join(" | ", grid.attacks())).append(" | worst attack |\n");
            sb.append("|---".repeat(grid.attacks().size() + 2)).append("|\n");
            JsonObject byRule = summary.getJsonObject(split);
            for (String rule : grid.rules()) {
                JsonObject row = byRule.getJsonObject(rule);
                sb.append("| ").append(rule);
                for (String attack : grid.attacks()) {
                    JsonObject cell = row.getJsonObject("cells").getJsonObject(attack);
                    sb.append(" | ").append(cell == null ? "-" : accuracy(cell.getDouble("mean"), cell.getValue("se")));
                    if (cell != null && cell.getValue("dropped") instanceof Number d) {
                        sb.append(String.format(" [%.2f]", d.doubleValue()));
                    }
                }
                JsonObject worst = row.getJsonObject("worst");
                sb.append(" | ").append(worst == null ? "-" : accuracy(worst.getDouble("mean"), worst.getValue("se"))
                        + " (" + worst.getString("attack") + ")").append(" |\n");
            }
        }
        return sb.toString();
    }

    private static String accuracy(double mean, Object se) {
        return se instanceof Number s ? String.format("%.1f +- %.1f", 100 * mean, 100 * s.doubleValue())
                : String.format("%.1f", 100 * mean);
    }

    /**
     * The HTML report: the tables, then per split and attack the mean accuracy curve of every rule and the
     * share of Byzantine workers each filtering rule dropped per round.
     */
    public static String html(JsonObject results) throws IOException {
        JsonObject g = results.getJsonObject("grid");
        Grid grid = new Grid(strings(g.getJsonArray("rules")), strings(g.getJsonArray("attacks")),
                strings(g.getJsonArray("splits")), g.getJsonArray("seeds").stream().map(o -> ((Number) o).longValue()).toList());
        JsonObject page = new JsonObject().put("grid", g).put("summary", results.getJsonObject("summary"));
        String data = page.encode().replace("</", "<\\/");
        StringBuilder html = new StringBuilder();
        html.append(Report.head("flagagg robustness")).append("""
                <h1>flagagg robustness benchmark</h1>
                """);
        html.append("<p>").append(Report.escape(results.getJsonObject("settings", new JsonObject()).encode())).append("</p>\n");
        html.append(htmlTables(table(grid, results.getJsonObject("summary"))));
        html.append("<h2>Accuracy per round (mean over seeds) and share of Byzantine workers dropped per round</h2>\n"
                + "<div id=\"charts\"></div>\n");
        html.append("<script>").append(Report.resource(Report.ECHARTS)).append("</script>\n");
        html.append("<script>const PAGE = ").append(data).append(";</script>\n");
        html.append("""
                <script>
                const box = document.getElementById('charts');
                function chart(title, xs, series, max) {
                  const div = document.createElement('div'); div.className = 'chart';
                  div.style.flex = '0 0 50%'; box.lastChild.appendChild(div);
                  echarts.init(div).setOption({ title: { text: title, textStyle: { fontSize: 13 } },
                    tooltip: { trigger: 'axis' }, legend: { top: 20, type: 'scroll' }, grid: { top: 60 },
                    xAxis: { type: 'category', data: xs, name: 'round' }, yAxis: { type: 'value', min: 0, max: max },
                    series: series.map(([name, ys]) => ({ name, type: 'line', showSymbol: false, data: ys })) });
                }
                for (const split of PAGE.grid.splits) {
                  for (const attack of PAGE.grid.attacks) {
                    const h = document.createElement('h3'); h.textContent = split + ' / ' + attack; box.appendChild(h);
                    const row = document.createElement('div'); row.className = 'row'; box.appendChild(row);
                    const cells = PAGE.grid.rules.map(r => [r, PAGE.summary[split][r].cells[attack]]).filter(([r, c]) => c);
                    if (!cells.length) continue;
                    chart('test accuracy', cells[0][1].eval_rounds, cells.map(([r, c]) => [r, c.curve]), 1);
                    const filters = cells.filter(([r, c]) => c.filtering);
                    if (filters.length) {
                      chart('Byzantine share dropped', filters[0][1].dropped_curve.map((_, i) => i + 1),
                            filters.map(([r, c]) => [r, c.dropped_curve]), 1);
                    }
                  }
                }
                </script></body></html>
                """);
        return html.toString();
    }

    /** The Markdown of {@link #table} as HTML: its "###" lines as headings, its rows as tables. */
    static String htmlTables(String markdown) {
        StringBuilder html = new StringBuilder();
        boolean open = false;
        boolean header = false;
        for (String line : markdown.split("\n")) {
            if (line.startsWith("### ")) {
                html.append(open ? "</table>\n" : "").append("<h3>").append(Report.escape(line.substring(4)))
                        .append("</h3>\n<table>\n");
                open = true;
                header = true;
            } else if (line.startsWith("| ")) {
                String cell = header ? "th" : "td";
                html.append("<tr>");
                for (String c : line.substring(2, line.length() - 2).split(" \\| ")) {
                    html.append('<').append(cell).append('>').append(Report.escape(c)).append("</").append(cell).append('>');
                }
                html.append("</tr>\n");
                header = false;
            }
        }
        return html.append(open ? "</table>\n" : "").toString();
    }

    private static List<String> strings(JsonArray a) {
        List<String> out = new ArrayList<>();
        a.forEach(o -> out.add(o.toString()));
        return out;
    }
}
