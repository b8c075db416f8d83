package org.flagagg.web;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * Headless Chromium for the browser tests (Debian's chromium and chromium-driver, which .ci/run installs); the
 * test is skipped, saying what to install, when they are missing.
 */
public final class Chromium {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    /** FA's quality colours, q = 0 first (red) to q = 1 (green): web/quality-scale.js, shared by dashboard and report. */
    public static final List<String> QUALITY_COLOURS = List.of("#d64545", "#fde68a", "#1f9d55");

    private Chromium() {
    }

    /** A headless browser with its profile under {@code dir}; the caller quits it. */
    public static WebDriver start(Path dir) throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "skipped: headless Chromium is not installed (" + CHROMIUM + ", " + CHROMEDRIVER
                        + "); install the Debian packages chromium and chromium-driver (.ci/run does)");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1250",
                "--user-data-dir=" + Files.createDirectories(dir.resolve("chromium-profile")));
        // An explicit driver and browser: Selenium Manager is not asked to find (or download) either.
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        return new ChromeDriver(service, options);
    }

    /** The colours of the visual map of the ECharts chart in element {@code id}. */
    public static Object visualMapColours(WebDriver driver, String id) {
        return ((JavascriptExecutor) driver).executeScript("return echarts.getInstanceByDom(document.getElementById("
                + "arguments[0])).getOption().visualMap[0].inRange.color;", id);
    }
}
