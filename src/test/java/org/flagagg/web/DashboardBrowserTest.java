package org.flagagg.web;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import org.flagagg.sim.Fleet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real browser: headless Chromium ({@link Chromium}) driven by Selenium against an aggregator
 * running rounds with one Byzantine worker.
 */
class DashboardBrowserTest {
    static final Path SCREENSHOT = Path.of("target", "dashboard.png");

    @TempDir
    Path dir;

    /** The number in an element's text, or null while it shows none (the wait keeps polling). */
    static Long number(WebDriver d, String id) {
        String text = d.findElement(By.id(id)).getText().trim();
        return text.matches("\\d+") ? Long.valueOf(text) : null;
    }

    /** The number of data points of the first series of the ECharts chart in element {@code id}. */
    static Long points(WebDriver d, String id) {
        Object n = ((JavascriptExecutor) d).executeScript("var c = echarts.getInstanceByDom(document.getElementById("
                + "arguments[0])); var o = c && c.getOption(); return o && o.series && o.series.length "
                + "? o.series[0].data.length : 0;", id);
        long count = ((Number) n).longValue();
        return count > 0 ? count : null;
    }

    @Test
    void theDashboardLoadsAndFollowsLiveRounds() throws Exception {
        int p = 7;
        JsonObject job = new JsonObject().put("workers", p).put("rule", new JsonObject().put("name", "flag").put("f", 1));
        try (DashboardFixture f = new DashboardFixture(dir, job, new Fleet.Config(11, 1, "random", "none"))) {
            // Rounds a few hundred ms apart, so the page sees the counter move.
            f.runForever(300);
            WebDriver driver = Chromium.start(dir);
            try {
                driver.get("http://127.0.0.1:" + f.port() + "/");
                assertThat(driver.getTitle()).isEqualTo("flagagg dashboard");
                WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(60));
                long first = wait.until(d -> number(d, "round-id"));
                long later = wait.until(d -> {
                    Long now = number(d, "round-id");
                    return now != null && now > first ? now : null;
                });
                assertThat(later).isGreaterThan(first);
                assertThat(driver.findElement(By.id("job-name")).getText()).isEqualTo(f.job.job());
                assertThat(driver.findElement(By.id("connection")).getText()).isEqualTo("live");
                assertThat(driver.findElement(By.id("participants")).getText()).isEqualTo(p + " / " + p);
                // One bar per worker with FA's quality, and the heat map fills up round by round.
                Long bars = wait.until(d -> points(d, "quality-chart"));
                assertThat(bars).isEqualTo(p);
                wait.until(d -> {
                    Long cells = points(d, "quality-heatmap");
                    return cells != null && cells >= 3L * p ? cells : null;
                });
                Long latencyPoints = wait.until(d -> points(d, "latency-chart"));
                assertThat(latencyPoints).isGreaterThanOrEqualTo(2);
                Object quality = ((JavascriptExecutor) driver).executeScript("var o = echarts.getInstanceByDom("
                        + "document.getElementById('quality-chart')).getOption(); return o.series[0].data.map("
                        + "function (p) { return typeof p === 'object' ? p.value : p; });");
                assertThat((java.util.List<?>) quality).hasSize(p).allSatisfy(q -> assertThat(q).isInstanceOf(Number.class));
                // One quality scale: the report's (demo.ReportTest) and the dashboard's, q = 1 green.
                assertThat(Chromium.visualMapColours(driver, "quality-heatmap")).isEqualTo(Chromium.QUALITY_COLOURS);
                File shot = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
                Files.createDirectories(SCREENSHOT.getParent());
                Files.copy(shot.toPath(), SCREENSHOT, StandardCopyOption.REPLACE_EXISTING);
                assertThat(Files.size(SCREENSHOT)).isGreaterThan(10_000);
            } finally {
                driver.quit();
            }
        }
    }
}
