package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressLineTest {

    @Test
    void aLogLineEndsTheProgressLineFirstAndTheBarIsDrawnAgainBelowIt() {
        LoggerContext context = new LoggerContext();
        ProgressLine.Encoder encoder = new ProgressLine.Encoder();
        encoder.setContext(context);
        encoder.setPattern("%level %msg%n");
        encoder.start();
        LoggingEvent warn = new LoggingEvent("test", context.getLogger("test"), Level.WARN, "round 3 failed", null, null);
        StringWriter screen = new StringWriter();
        PrintWriter err = new PrintWriter(screen);

        ProgressLine.draw(err, 0.5, "3/6 rounds");
        screen.write(new String(encoder.encode(warn), StandardCharsets.UTF_8)); // the console appender's write
        ProgressLine.draw(err, 4 / 6.0, "4/6 rounds");
        ProgressLine.end(err);
        screen.write(new String(encoder.encode(warn), StandardCharsets.UTF_8));
        ProgressLine.end(err);

        assertThat(screen.toString()).isEqualTo("\r[###############---------------] 3/6 rounds\n"
                + "WARN round 3 failed\n"
                + "\r[####################----------] 4/6 rounds\n"
                + "WARN round 3 failed\n");
    }
}
