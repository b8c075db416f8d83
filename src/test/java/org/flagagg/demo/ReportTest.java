package org.flagagg.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.flagagg.web.Chromium;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;

/**
 * The demo's report.html: its words per attack, and in headless Chromium (as web.DashboardBrowserTest does the
 * dashboard) every chart drawn with a non-zero width and FA's quality in the dashboard's colours.
 */
class ReportTest {
    static final int P = 5;
    static final int ROUNDS = 4;

    @TempDir
    Path dir;

    /** A run as Report.runJson writes it; flag runs get q = {@code byzQ} for w0, w1 and {@code honestQ} otherwise. */
    static JsonObject run(String rule, String attack, String stragglers, double accuracy, double byzQ, double honestQ) {
        JsonArray curve = new JsonArray().add(0.1).add(accuracy / 2).add(accuracy);
        JsonObject run = new JsonObject().put("rule", rule).put("attack", attack).put("stragglers", stragglers)
                .put("final_accuracy", accuracy).put("eval_rounds", new JsonArray().add(0).add(2).add(4))
                .put("accuracy", curve).put("loss", new JsonArray().add(2.3).add(1.2).add(0.7))
                .put("byzantine", new JsonArray().add("w0").add("w1"));
        if (rule.equals("flag")) {
            JsonArray quality = new JsonArray();
            for (int t = 0; t < ROUNDS; t++) {
                JsonArray row = new JsonArray();
                for (int w = 0; w < P; w++) {
                    row.add(w < 2 ? byzQ : honestQ - 0.01 * w);
                }
                quality.add(row);
            }
            run.put("quality", quality);
        }
        return run;
    }

    static JsonObject results() {
        JsonArray runs = new JsonArray()
                .add(run("flag", "none", "none", 0.76, 0.9, 0.9))
                .add(run("mean", "none", "none", 0.75, 0, 0))
                .add(run("median", "none", "none", 0.70, 0, 0))
                .add(run("flag", "random", "none", 0.72, 0.05, 0.8))
                .add(run("mean", "random", "none", 0.10, 0, 0))
                .add(run("median", "random", "none", 0.66, 0, 0))
                .add(run("flag", "lie", "none", 0.646, 1.0, 0.8))
                .add(run("mean", "lie", "none", 0.689, 0, 0))
                .add(run("median", "lie", "none", 0.701, 0, 0))
                .add(run("flag", "lie", "delay:ms=1000,workers=1", 0.9, 0, 1));
        return new JsonObject().put("task", new JsonObject().put("description", "test task"))
                .put("settings", new JsonObject().put("workers", P).put("byzantine", 2))
                .put("rules", new JsonArray(List.of("flag", "mean", "median")))
                .put("attacks", new JsonArray(List.of("none", "random", "lie"))).put("runs", runs);
    }

    @Test
    void eachAttackIsSummedUpInWords() {
        Map<String, String> words = Report.summaries(results());
        assertThat(words).containsOnlyKeys("none", "random", "lie");
        assertThat(words.get("none")).isEqualTo(
                "No attack (the Byzantine workers send their true gradients): FA 76.0%, mean 75.0%; FA is the best rule.");
        assertThat(words.get("random")).isEqualTo("Under random: FA 72.0%, mean 10.0%; FA is the best rule. "
                + "FA's quality singled out the Byzantine workers: their mean q is 0.05 against 0.76-0.78 for the "
                + "honest workers.");
        // The straggler run (90%) answers another question and is not the best rule under lie.
        assertThat(words.get("lie")).isEqualTo("Under lie: FA 64.6%, mean 68.9%; the best rule is median (70.1%, "
                + "5.5 points above FA). FA's quality did not single out the Byzantine workers: their mean q is 1.00 "
                + "against 0.76-0.78 for the honest workers (the highest q: the flag holds their gradients, so FA "
                + "weighs them like honest ones).");
    }

    @Test
    void theReportDrawsEveryChartWithWordsAndTheDashboardsQualityColours() throws Exception {
        JsonObject results = results();
        Path html = dir.resolve("report.html");
        Files.writeString(html, Report.html(results));
        WebDriver driver = Chromium.start(dir);
        try {
            driver.get(html.toUri().toString());
            assertThat(driver.getTitle()).isEqualTo("flagagg demo");
            // Per attack an accuracy and a loss chart (3 x 2), and a heat map per flag run (4).
            List<WebElement> canvases = driver.findElements(By.cssSelector("#curves .chart canvas"));
            assertThat(canvases).hasSize(6);
            assertThat(driver.findElements(By.cssSelector("#heatmaps .heat canvas"))).hasSize(4);
            Object widths = ((JavascriptExecutor) driver).executeScript("return Array.from(document.querySelectorAll("
                    + "'#curves .chart canvas, #heatmaps .heat canvas')).map(function (c) { return c.width; });");
            assertThat((List<?>) widths).hasSize(10)
                    .allSatisfy(w -> assertThat(((Number) w).longValue()).isGreaterThan(300));
            List<WebElement> verdicts = driver.findElements(By.cssSelector("#verdicts .verdict"));
            assertThat(verdicts).extracting(WebElement::getText)
                    .containsExactlyElementsOf(Report.summaries(results).values());
            assertThat(verdicts.get(2).getText()).contains("did not single out the Byzantine workers");
            String heatmap = (String) ((JavascriptExecutor) driver).executeScript(
                    "var d = document.querySelector('#heatmaps .heat'); d.id = 'first-heatmap'; return d.id;");
            assertThat(Chromium.visualMapColours(driver, heatmap)).isEqualTo(Chromium.QUALITY_COLOURS);
        } finally {
            driver.quit();
        }
    }
}
