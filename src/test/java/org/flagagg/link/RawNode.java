package org.flagagg.link;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A test worker node that speaks the data link by hand on a blocking socket, with the record layout written
 * out here (u32 length, u8 type, u32 seq, body; little-endian) rather than taken from {@link LinkRecords}: it
 * sends whatever bytes a test builds and reads what the server answers.
 */
final class RawNode implements AutoCloseable {
    static final int TIMEOUT_MS = 10_000;

    /** One record as received: the type, the seq and the body after them. */
    record Rec(int type, int seq, byte[] body) {
        /** An ACK's code. */
        int code() {
            return int32(body, 0);
        }

        String text() {
            return new String(body, type == LinkRecords.ACK ? 4 : 0, body.length - (type == LinkRecords.ACK ? 4 : 0),
                    StandardCharsets.UTF_8);
        }
    }

    final Socket socket;
    final DataInputStream in;
    /** The server's WELCOME JSON: version, relay, max_record. */
    final JsonObject welcome;

    private RawNode(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        write(hello(LinkRecords.VERSION));
        Rec first = read();
        assertThat(first.type()).as("the server's first record").isEqualTo(LinkRecords.WELCOME);
        this.welcome = new JsonObject(first.text());
    }

    /** Connects and says HELLO; the server's WELCOME is in {@link #welcome}. */
    static RawNode connect(int port) throws IOException {
        return new RawNode(open(port));
    }

    /** A plain connection to the link port: nothing sent yet. */
    static Socket open(int port) throws IOException {
        Socket socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), TIMEOUT_MS);
        socket.setSoTimeout(TIMEOUT_MS);
        return socket;
    }

    static byte[] hello(int version) {
        return record(LinkRecords.HELLO, 0, ("{\"version\":" + version + "}").getBytes(StandardCharsets.UTF_8));
    }

    static int int32(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
    }

    static byte[] le32(long v) {
        return new byte[] {(byte) v, (byte) (v >> 8), (byte) (v >> 16), (byte) (v >> 24)};
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** A record: u32 length of what follows, u8 type, u32 seq, body. */
    static byte[] record(int type, int seq, byte[] body) {
        return concat(le32(5L + body.length), new byte[] {(byte) type}, le32(seq), body);
    }

    static byte[] ack(int seq, int code) {
        return record(LinkRecords.ACK, seq, le32(code));
    }

    void write(byte[] bytes) throws IOException {
        socket.getOutputStream().write(bytes);
        socket.getOutputStream().flush();
    }

    /** The next record; fails if the server sends none within the timeout. */
    Rec read() throws IOException {
        int length = int32(in.readNBytes(4), 0);
        assertThat(length).as("record length").isBetween(5, 1 << 20);
        byte[] rest = in.readNBytes(length);
        assertThat(rest).hasSize(length);
        return new Rec(rest[0] & 0xFF, int32(rest, 1), Arrays.copyOfRange(rest, 5, length));
    }

    /** Reads until the server closes the connection; returns what came first. Fails if it stays open. */
    byte[] readUntilClosed() throws IOException {
        return readUntilClosed(in);
    }

    static byte[] readUntilClosed(InputStream in) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        byte[] buffer = new byte[4096];
        try {
            for (int n; (n = in.read(buffer)) >= 0;) {
                got.write(buffer, 0, n);
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the server kept the connection open", e);
        } catch (SocketException reset) {
            // Closed with our bytes unread: a reset, as good as an end of stream here.
        }
        return got.toByteArray();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
