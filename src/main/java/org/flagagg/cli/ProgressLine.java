package org.flagagg.cli;

import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.io.PrintWriter;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The progress bar of demo and loadtest: one stderr line redrawn with {@code \r}. A log line (also on stderr)
 * first ends it, through {@link Encoder} in logback.xml, so a WARN never runs into the bar; the bar's next
 * update draws it again below.
 */
public final class ProgressLine {
    private static final AtomicBoolean OPEN = new AtomicBoolean();

    private ProgressLine() {
    }

    /** Draws (or redraws) the progress line: a bar {@code fraction} (0 to 1) full, then {@code text}. */
    static void draw(PrintWriter err, double fraction, String text) {
        int width = 30;
        int filled = (int) Math.max(0, Math.min(width, Math.round(fraction * width)));
        err.print("\r[" + "#".repeat(filled) + "-".repeat(width - filled) + "] " + text);
        err.flush();
        OPEN.set(true);
    }

    /** Ends the progress line, if one is open, with a line break. */
    static void end(PrintWriter err) {
        if (OPEN.getAndSet(false)) {
            err.println();
            err.flush();
        }
    }

    /** logback.xml's encoder: the pattern's line, after a line break if a progress line is open. */
    public static final class Encoder extends PatternLayoutEncoder {
        @Override
        public byte[] encode(ILoggingEvent event) {
            byte[] line = super.encode(event);
            if (!OPEN.getAndSet(false)) {
                return line;
            }
            byte[] ended = new byte[line.length + 1];
            ended[0] = '\n';
            System.arraycopy(line, 0, ended, 1, line.length);
            return ended;
        }
    }
}
