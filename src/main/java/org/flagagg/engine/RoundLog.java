package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The round log: one JSON record a line. Blocking file I/O: call it on a worker thread (the engine goes through
 * {@link #repairOn} and {@link #appendOn}, which do).
 *
 * <p>A write that failed half-way (a full disk) leaves a torn last line without its newline. Appends and
 * {@link #repair} cut such a tail back to the last complete line, so the next record starts on a line of its
 * own; readers ({@link #tail}) skip and count any line that is not a JSON object (a torn line written by an
 * older version, an edit by hand) and ignore an unterminated last line (torn, or being written).
 */
public final class RoundLog {
    private static final Logger LOG = LoggerFactory.getLogger(RoundLog.class);
    /** Most bytes one {@link #tail} reads from the end of the log (the answer may then hold fewer lines). */
    public static final int MAX_TAIL_BYTES = 8 << 20;
    private static final int BLOCK = 64 << 10;

    /** The last complete lines of the log, as records, and how many of those lines were not records. */
    public record Tail(List<JsonObject> records, int skipped) {
    }

    private RoundLog() {
    }

    /** {@link #repair} on a worker thread, before the first append; never fails (a problem is logged). */
    static Future<Void> repairOn(Vertx vertx, Path file) {
        if (file == null) {
            return Future.succeededFuture();
        }
        return vertx.executeBlocking(() -> repair(file)).<Void>map(cut -> {
            if (cut > 0) {
                LOG.warn("round log {}: cut a torn last line of {} bytes", file, cut);
            }
            return null;
        }).recover(e -> {
            LOG.warn("cannot repair round log {}: {}", file, e.toString());
            return Future.succeededFuture();
        });
    }

    /**
     * Appends the record on a worker thread, in call order (records land in the order rounds finish); the
     * future completes, never fails, once it was tried.
     */
    static Future<Void> appendOn(Vertx vertx, Path file, JsonObject record) {
        if (file == null) {
            return Future.succeededFuture();
        }
        byte[] line = line(record);
        return vertx.executeBlocking(() -> {
            append(file, line);
            return null;
        }, true).<Void>mapEmpty().recover(e -> {
            LOG.warn("cannot append to round log {}: {}", file, e.toString());
            return Future.succeededFuture();
        });
    }

    /** A record as its line of the log: its JSON and a newline, UTF-8. */
    public static byte[] line(JsonObject record) {
        return (record.encode() + "\n").getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Cuts an unterminated last line (a torn write) so the file ends at the end of a complete line.
     * Returns the bytes removed; 0 when the file is whole or absent.
     */
    public static long repair(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.READ)) {
            return repair(ch);
        } catch (NoSuchFileException e) {
            return 0;
        }
    }

    /** Appends one line (a record's JSON and its newline, UTF-8), repairing a torn tail first. */
    public static void append(Path file, byte[] bytes) throws IOException {
        ByteBuffer line = ByteBuffer.wrap(bytes);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.READ)) {
            repair(ch);
            long at = ch.size();
            while (line.hasRemaining()) {
                at += ch.write(line, at);
            }
        }
    }

    private static long repair(FileChannel ch) throws IOException {
        long size = ch.size();
        if (size == 0 || byteAt(ch, size - 1) == '\n') {
            return 0;
        }
        long end = lastNewline(ch, size) + 1;
        ch.truncate(end);
        return size - end;
    }

    private static byte byteAt(FileChannel ch, long position) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        if (ch.read(one, position) != 1) {
            throw new IOException("short read at " + position);
        }
        return one.get(0);
    }

    /** Position of the last '\n' before {@code end}, or -1. */
    private static long lastNewline(FileChannel ch, long end) throws IOException {
        ByteBuffer block = ByteBuffer.allocate(BLOCK);
        for (long to = end; to > 0; ) {
            long from = Math.max(0, to - BLOCK);
            block.clear().limit((int) (to - from));
            readFully(ch, block, from);
            for (int i = block.limit() - 1; i >= 0; i--) {
                if (block.get(i) == '\n') {
                    return from + i;
                }
            }
            to = from;
        }
        return -1;
    }

    private static void readFully(FileChannel ch, ByteBuffer into, long position) throws IOException {
        long at = position;
        while (into.hasRemaining()) {
            int n = ch.read(into, at);
            if (n < 0) {
                throw new IOException("the round log shrank while being read");
            }
            at += n;
        }
    }

    /**
     * The last {@code last} complete lines of the log (at most {@link #MAX_TAIL_BYTES} read from its end),
     * oldest first: the records, and how many of those lines were skipped as not a JSON object. An absent
     * log has no lines.
     */
    public static Tail tail(Path file, int last) throws IOException {
        byte[] bytes;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            // Only complete lines count: an unterminated tail is torn or still being written.
            long end = size == 0 || byteAt(ch, size - 1) == '\n' ? size : lastNewline(ch, size) + 1;
            long start = end;
            int newlines = 0;
            ByteBuffer block = ByteBuffer.allocate(BLOCK);
            // One newline more than lines wanted marks where the first wanted line starts.
            while (start > 0 && newlines <= last && end - start < MAX_TAIL_BYTES) {
                long from = Math.max(Math.max(0, start - BLOCK), end - MAX_TAIL_BYTES);
                block.clear().limit((int) (start - from));
                readFully(ch, block, from);
                for (int i = 0; i < block.limit(); i++) {
                    newlines += block.get(i) == '\n' ? 1 : 0;
                }
                start = from;
            }
            bytes = new byte[(int) (end - start)];
            readFully(ch, ByteBuffer.wrap(bytes), start);
            if (start > 0) {
                // The first line is only the end of a line that began before what was read.
                int cut = indexOf(bytes, (byte) '\n') + 1;
                bytes = Arrays.copyOfRange(bytes, cut, bytes.length);
            }
        } catch (NoSuchFileException e) {
            return new Tail(List.of(), 0);
        }
        String[] lines = new String(bytes, StandardCharsets.UTF_8).split("\n");
        List<JsonObject> records = new ArrayList<>();
        int skipped = 0;
        int considered = 0;
        for (int i = lines.length - 1; i >= 0 && considered < last; i--) {
            if (lines[i].isBlank()) {
                continue;
            }
            considered++;
            try {
                records.add(new JsonObject(lines[i]));
            } catch (DecodeException | ClassCastException e) {
                skipped++;
            }
        }
        Collections.reverse(records);
        return new Tail(records, skipped);
    }

    private static int indexOf(byte[] bytes, byte b) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == b) {
                return i;
            }
        }
        return bytes.length - 1;
    }
}
