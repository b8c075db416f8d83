package org.flagagg.demo;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The demo's outputs: results.json (every number) and a self-contained HTML report (ECharts, shipped in the
 * jar as a webjar, is inlined, so the file opens without a network), plus the terminal table.
 */
public final class Report {
    /** ECharts' full build (line charts and the heat map), from the org.webjars.npm:echarts jar. */
    static final String ECHARTS = "META-INF/resources/webjars/echarts/5.3.1/dist/echarts.min.js";
    /** FA's quality colour scale, shared with the dashboard (web/index.html loads it too). */
    static final String QUALITY_SCALE = "web/quality-scale.js";

    private Report() {
    }

    /** One run as results.json holds it; JSON has no NaN, so a diverged loss or a missing q is null. */
    public static JsonObject runJson(Training.Result r) {
        JsonObject run = new JsonObject()
                .put("rule", r.spec().rule())
                .put("attack", r.spec().attack())
                .put("stragglers", r.spec().stragglers())
                .put("final_accuracy", r.finalAccuracy())
                .put("eval_rounds", new JsonArray(java.util.Arrays.stream(r.evalRounds()).boxed().toList()))
                .put("accuracy", numbers(r.accuracy()))
                .put("loss", numbers(r.loss()))
                .put("byzantine", new JsonArray(r.byzantine()))
                .put("failed_rounds", r.failedRounds())
                .put("late_gradients", r.lateGradients())
                .put("replicas_in_sync", r.inSync())
                .put("seconds", r.seconds())
                .put("filtering", r.filtering())
                .put("byzantine_dropped", numbers(r.byzantineDropped()));
        if (r.quality() != null) {
            JsonArray q = new JsonArray();
            for (double[] round : r.quality()) {
                q.add(numbers(round));
            }
            run.put("quality", q);
        }
        return run;
    }

    static JsonArray numbers(double[] values) {
        JsonArray a = new JsonArray();
        for (double v : values) {
            if (Double.isFinite(v)) {
                a.add(v);
            } else {
                a.addNull();
            }
        }
        return a;
    }

    /** A run's label in tables and charts: the rule, plus "+ stragglers" when it had some. */
    static String label(JsonObject run) {
        return run.getString("rule") + ("none".equals(run.getString("stragglers")) ? "" : " + stragglers");
    }

    /** The rule x attack table of final accuracies (percent), as text. */
    public static String table(JsonObject results) {
        List<String> attacks = results.getJsonArray("attacks").stream().map(Object::toString).toList();
        List<JsonObject> runs = runs(results);
        List<String> rows = runs.stream().map(Report::label).distinct().toList();
        StringBuilder sb = new StringBuilder();
        int first = Math.max(20, rows.stream().mapToInt(String::length).max().orElse(0) + 2);
        sb.append(String.format("%-" + first + "s", "final accuracy (%)"));
        int[] widths = attacks.stream().mapToInt(a -> Math.max(9, a.length() + 2)).toArray();
        for (int i = 0; i < attacks.size(); i++) {
            sb.append(String.format("%" + widths[i] + "s", attacks.get(i)));
        }
        sb.append('\n');
        for (String row : rows) {
            sb.append(String.format("%-" + first + "s", row));
            for (int i = 0; i < attacks.size(); i++) {
                JsonObject run = find(runs, row, attacks.get(i));
                sb.append(run == null ? String.format("%" + widths[i] + "s", "-")
                        : String.format("%" + widths[i] + ".1f", 100 * run.getDouble("final_accuracy")));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static JsonObject find(List<JsonObject> runs, String label, String attack) {
        return runs.stream().filter(r -> label(r).equals(label) && r.getString("attack").equals(attack))
                .findFirst().orElse(null);
    }

    private static List<JsonObject> runs(JsonObject results) {
        return results.getJsonArray("runs").stream().map(o -> (JsonObject) o).toList();
    }

    /** The start of a report page up to its body: the title and the style every report shares. */
    static String head(String title) {
        return """
                <!DOCTYPE html>
                <html lang="en"><head><meta charset="utf-8"><title>%s</title>
                <style>
                body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
                table { border-collapse: collapse; margin: 12px 0; }
                td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
                th:first-child, td:first-child { text-align: left; }
                .chart { width: 100%%; height: 320px; }
                .heat { width: 100%%; height: 360px; }
                .row { display: flex; gap: 16px; } .row > div { flex: 1; }
                code { background: #f4f4f4; padding: 1px 4px; }
                </style></head><body>
                """.formatted(escape(title));
    }

    /** The HTML report: the table, accuracy and loss per round per rule under each attack, q_i heat maps. */
    public static String html(JsonObject results) throws IOException {
        String data = results.encode().replace("</", "<\\/");
        JsonObject task = results.getJsonObject("task", new JsonObject());
        JsonObject settings = results.getJsonObject("settings", new JsonObject());
        StringBuilder html = new StringBuilder();
        html.append(head("flagagg demo")).append("""
                <h1>flagagg demo: training under attack</h1>
                """);
        html.append("<p>").append(escape(task.getString("description", ""))).append("</p>\n");
        html.append("<p>p = ").append(settings.getValue("workers")).append(" workers, f = ")
                .append(settings.getValue("byzantine")).append(" Byzantine (")
                .append(escape(String.valueOf(settings.getValue("byzantine_ids")))).append("), ")
                .append(settings.getValue("rounds")).append(" rounds, batch ").append(settings.getValue("batch"))
                .append(" per worker, learning rate ").append(settings.getValue("learning_rate"))
                .append(" (").append(escape(settings.getString("schedule", "constant"))).append(")")
                .append(" for every rule, seed ").append(settings.getValue("seed")).append(". FA: ")
                .append(escape(String.valueOf(settings.getValue("flag")))).append(".</p>\n");
        html.append("<h2>Final test accuracy (%)</h2>\n").append(htmlTable(results));
        html.append("<h2>What happened under each attack</h2>\n<ul id=\"verdicts\">\n");
        summaries(results).forEach((attack, words) -> html.append("<li class=\"verdict\" data-attack=\"")
                .append(escape(attack)).append("\">").append(escape(words)).append("</li>\n"));
        html.append("</ul>\n");
        html.append("""
                <h2>Accuracy and loss per round</h2>
                <div id="curves"></div>
                <h2>FA's per-worker quality q<sub>i</sub> per round</h2>
                <p>q<sub>i</sub> = ||Y<sup>T</sup>x<sub>i</sub>||<sup>2</sup>: the share of worker i's normalised
                gradient that the flag reconstructs (1, green = inside the flag; 0, red = outside it; the live
                dashboard uses the same colours). Byzantine workers are marked (byz).
                Blank cells: the worker's gradient was not in the round (a straggler).</p>
                <div id="heatmaps"></div>
                """);
        html.append("<script>").append(resource(ECHARTS)).append("</script>\n");
        html.append("<script>").append(resource(QUALITY_SCALE)).append("</script>\n");
        html.append("<script>const RESULTS = ").append(data).append(";</script>\n");
        html.append("""
                <script>
                const label = r => r.rule + (r.stragglers === 'none' ? '' : ' + stragglers');
                function chart(parent, cls, option) {
                  const div = document.createElement('div'); div.className = cls; parent.appendChild(div);
                  echarts.init(div).setOption(Object.assign({ animation: false }, option)); return div;
                }
                for (const attack of RESULTS.attacks) {
                  const runs = RESULTS.runs.filter(r => r.attack === attack);
                  if (runs.length === 0) continue;
                  const box = document.getElementById('curves');
                  const h = document.createElement('h3'); h.textContent = 'attack: ' + attack; box.appendChild(h);
                  const row = document.createElement('div'); row.className = 'row'; box.appendChild(row);
                  // Both cells exist before either chart sizes its canvas, so they share the row's width.
                  const cells = [['accuracy', 'test accuracy'], ['loss', 'test loss']].map(([key, name]) => {
                    const cell = document.createElement('div'); row.appendChild(cell); return [cell, key, name];
                  });
                  for (const [cell, key, name] of cells) {
                    chart(cell, 'chart', {
                      title: { text: name + ' (' + attack + ')', textStyle: { fontSize: 13 } },
                      tooltip: { trigger: 'axis' }, legend: { top: 22, type: 'scroll' }, grid: { top: 60 },
                      xAxis: { type: 'value', name: 'round' },
                      yAxis: key === 'accuracy' ? { type: 'value', min: 0, max: 1 } : { type: 'log' },
                      series: runs.map(r => ({ name: label(r), type: 'line', showSymbol: false,
                        data: r.eval_rounds.map((x, i) => [x, r[key][i]]).filter(p => p[1] !== null && p[1] > 0) }))
                    });
                  }
                }
                for (const r of RESULTS.runs.filter(r => r.quality)) {
                  const box = document.getElementById('heatmaps');
                  const workers = r.quality.length ? r.quality[0].length : 0;
                  const names = [...Array(workers).keys()].map(w => 'w' + w + (r.byzantine.includes('w' + w) ? ' (byz)' : ''));
                  const data = [];
                  r.quality.forEach((row, t) => row.forEach((q, w) => { if (q !== null) data.push([t + 1, w, q]); }));
                  chart(box, 'heat', {
                    title: { text: 'q_i, ' + label(r) + ' under ' + r.attack + ' (final accuracy '
                      + (100 * r.final_accuracy).toFixed(1) + '%)', textStyle: { fontSize: 13 } },
                    tooltip: { formatter: p => 'round ' + p.value[0] + ', ' + names[p.value[1]] + ': q = ' + p.value[2].toFixed(3) },
                    grid: { top: 40, left: 90, right: 80 },
                    xAxis: { type: 'category', name: 'round', data: r.quality.map((_, t) => t + 1) },
                    yAxis: { type: 'category', data: names },
                    visualMap: { ...QUALITY_SCALE, calculable: true, orient: 'vertical', right: 0, top: 'center' },
                    series: [{ type: 'heatmap', data: data, progressive: 0 }]
                  });
                }
                </script>
                </body></html>
                """);
        return html.toString();
    }

    private static String htmlTable(JsonObject results) {
        List<String> attacks = results.getJsonArray("attacks").stream().map(Object::toString).toList();
        List<JsonObject> runs = runs(results);
        StringBuilder sb = new StringBuilder("<table><tr><th>rule</th>");
        attacks.forEach(a -> sb.append("<th>").append(escape(a)).append("</th>"));
        sb.append("</tr>\n");
        for (String row : runs.stream().map(Report::label).distinct().toList()) {
            sb.append("<tr><td>").append(escape(row)).append("</td>");
            for (String a : attacks) {
                JsonObject run = find(runs, row, a);
                if (run == null) {
                    sb.append("<td>-</td>");
                } else {
                    double acc = run.getDouble("final_accuracy");
                    // Green for high accuracy, red for low: hue 0 (red) .. 120 (green).
                    sb.append(String.format("<td style=\"background:hsl(%d,70%%,85%%)\">%.1f</td>",
                            (int) Math.round(120 * Math.max(0, Math.min(1, (acc - 0.1) / 0.9))), 100 * acc));
                }
            }
            sb.append("</tr>\n");
        }
        return sb.append("</table>\n").toString();
    }

    static String resource(String path) throws IOException {
        try (InputStream in = Report.class.getClassLoader().getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException(path + " is missing from the classpath");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * Per attack, in words: FA's final accuracy against mean's and the best rule's, and whether FA's quality
     * singled out the Byzantine workers (each of them with a lower mean q over the run than every honest one).
     * Runs with stragglers are left out: they answer another question.
     */
    public static Map<String, String> summaries(JsonObject results) {
        Map<String, String> out = new LinkedHashMap<>();
        for (Object a : results.getJsonArray("attacks")) {
            String attack = a.toString();
            List<JsonObject> runs = runs(results).stream()
                    .filter(r -> r.getString("attack").equals(attack) && "none".equals(r.getString("stragglers")))
                    .toList();
            if (runs.isEmpty()) {
                continue;
            }
            StringBuilder sb = new StringBuilder("none".equals(attack)
                    ? "No attack (the Byzantine workers send their true gradients): "
                    : "Under " + attack + ": ");
            JsonObject fa = runs.stream().filter(r -> "flag".equals(r.getString("rule"))).findFirst().orElse(null);
            JsonObject mean = runs.stream().filter(r -> "mean".equals(r.getString("rule"))).findFirst().orElse(null);
            JsonObject best = runs.stream().max(Comparator.comparingDouble(r -> r.getDouble("final_accuracy"))).get();
            List<String> parts = new ArrayList<>();
            if (fa != null) {
                parts.add("FA " + percent(fa));
            }
            if (mean != null) {
                parts.add("mean " + percent(mean));
            }
            sb.append(String.join(", ", parts)).append(parts.isEmpty() ? "" : "; ");
            if (best == fa) {
                sb.append("FA is the best rule.");
            } else {
                sb.append("the best rule is ").append(best.getString("rule")).append(" (").append(percent(best))
                        .append(fa == null ? ")." : String.format(Locale.ROOT, ", %.1f points above FA).",
                                100 * (best.getDouble("final_accuracy") - fa.getDouble("final_accuracy"))));
            }
            if (fa != null && !"none".equals(attack)) {
                sb.append(' ').append(qualityWords(fa));
            }
            out.put(attack, sb.toString());
        }
        return out;
    }

    private static String percent(JsonObject run) {
        return String.format(Locale.ROOT, "%.1f%%", 100 * run.getDouble("final_accuracy"));
    }

    /** Whether FA's quality put every Byzantine worker below every honest one, by mean q over the run. */
    private static String qualityWords(JsonObject fa) {
        JsonArray quality = fa.getJsonArray("quality");
        List<String> byzantine = fa.getJsonArray("byzantine", new JsonArray()).stream().map(Object::toString).toList();
        if (quality == null || quality.isEmpty() || byzantine.isEmpty()) {
            return "";
        }
        int workers = quality.getJsonArray(0).size();
        double byzMin = Double.NaN;
        double byzMax = Double.NaN;
        double honestMin = Double.NaN;
        double honestMax = Double.NaN;
        for (int w = 0; w < workers; w++) {
            double sum = 0;
            int n = 0;
            for (Object row : quality) {
                Object q = ((JsonArray) row).getValue(w);
                if (q instanceof Number v) {
                    sum += v.doubleValue();
                    n++;
                }
            }
            if (n == 0) {
                continue;
            }
            double m = sum / n;
            if (byzantine.contains("w" + w)) {
                byzMin = Double.isNaN(byzMin) ? m : Math.min(byzMin, m);
                byzMax = Double.isNaN(byzMax) ? m : Math.max(byzMax, m);
            } else {
                honestMin = Double.isNaN(honestMin) ? m : Math.min(honestMin, m);
                honestMax = Double.isNaN(honestMax) ? m : Math.max(honestMax, m);
            }
        }
        if (Double.isNaN(byzMax) || Double.isNaN(honestMin)) {
            return "FA's quality has no value for the Byzantine workers (their gradients were not in its rounds).";
        }
        String range = "their mean q is " + span(byzMin, byzMax) + " against " + span(honestMin, honestMax)
                + " for the honest workers";
        if (byzMax < honestMin) {
            return "FA's quality singled out the Byzantine workers: " + range + ".";
        }
        return "FA's quality did not single out the Byzantine workers: " + range + (byzMax >= honestMax
                ? " (the highest q: the flag holds their gradients, so FA weighs them like honest ones)." : ".");
    }

    /** "0.12" or "0.12-0.31". */
    private static String span(double min, double max) {
        String lo = String.format(Locale.ROOT, "%.2f", min);
        String hi = String.format(Locale.ROOT, "%.2f", max);
        return lo.equals(hi) ? lo : lo + "-" + hi;
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
