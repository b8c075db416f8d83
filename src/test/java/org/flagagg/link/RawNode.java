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
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.flagagg.wire.LinkRecords;

/**
 * A test worker node that speaks the data link by hand on a blocking socket, with the record layout and the
 * authentication written out here (u32 length, u8 type, u32 seq, body; little-endian; HMAC-SHA256 over
 * length-prefixed fields) rather than taken from {@link LinkRecords} and JobSecret, as docs/protocol.md
 * describes them: it sends whatever bytes a test builds and reads what the server answers.
 */
public final class RawNode implements AutoCloseable {
    public static final int TIMEOUT_MS = 10_000;
    /** The job secret of the tests' links. */
    public static final String SECRET = "raw-node-test-secret-0123456789";

    /** One record as received: the type, the seq and the body after them. */
    public record Rec(int type, int seq, byte[] body) {
        /** An ACK's code. */
        public int code() {
            return int32(body, 0);
        }

        public String text() {
            int at = type == LinkRecords.ACK || type == LinkRecords.BYE ? 4 : 0;
            return new String(body, at, body.length - at, StandardCharsets.UTF_8);
        }
    }

    public final Socket socket;
    public final DataInputStream in;
    /** The server's WELCOME JSON: version, relay, max_record. */
    public final JsonObject welcome;

    private RawNode(Socket socket, String job, String secret) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        String nodeNonce = "ab".repeat(32);
        write(hello(LinkRecords.VERSION, job, nodeNonce));
        Rec challenge = read();
        assertThat(challenge.type()).as("the server's first record: " + challenge.text()).isEqualTo(LinkRecords.CHALLENGE);
        String serverNonce = new JsonObject(challenge.text()).getString("nonce");
        write(auth(hmac(secret, "flagagg-link-node", job, nodeNonce, serverNonce)));
        Rec first = read();
        assertThat(first.type()).as("the server's answer to AUTH: " + first.text()).isEqualTo(LinkRecords.WELCOME);
        this.welcome = new JsonObject(first.text());
        assertThat(welcome.getString("proof")).as("the server's proof").isEqualTo(hmac(secret, "flagagg-link-server",
                job, nodeNonce, serverNonce, welcome.getString("relay")));
    }

    /** Connects and authenticates for {@code job} with {@link #SECRET}; the server's WELCOME is in {@link #welcome}. */
    public static RawNode connect(int port, String job) throws IOException {
        return new RawNode(open(port), job, SECRET);
    }

    /** HMAC-SHA256 in hex, keyed with the secret's UTF-8 bytes, over each field as u32 LE byte length + bytes. */
    public static String hmac(String secret, String... fields) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            for (String field : fields) {
                byte[] bytes = field.getBytes(StandardCharsets.UTF_8);
                mac.update(le32(bytes.length));
                mac.update(bytes);
            }
            return HexFormat.of().formatHex(mac.doFinal());
        } catch (java.security.GeneralSecurityException e) {
            throw new AssertionError(e);
        }
    }

    public static byte[] hello(int version, String job, String nonce) {
        return record(LinkRecords.HELLO, 0, new JsonObject().put("version", version).put("job", job).put("nonce", nonce)
                .encode().getBytes(StandardCharsets.UTF_8));
    }

    public static byte[] auth(String proof) {
        return record(LinkRecords.AUTH, 0, new JsonObject().put("proof", proof).encode().getBytes(StandardCharsets.UTF_8));
    }

    /** A plain connection to the link port: nothing sent yet. */
    public static Socket open(int port) throws IOException {
        Socket socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), TIMEOUT_MS);
        socket.setSoTimeout(TIMEOUT_MS);
        return socket;
    }

    public static byte[] hello(int version) {
        return hello(version, "default", "ab".repeat(32));
    }

    public static int int32(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
    }

    public static byte[] le32(long v) {
        return new byte[] {(byte) v, (byte) (v >> 8), (byte) (v >> 16), (byte) (v >> 24)};
    }

    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** A record: u32 length of what follows, u8 type, u32 seq, body. */
    public static byte[] record(int type, int seq, byte[] body) {
        return concat(le32(5L + body.length), new byte[] {(byte) type}, le32(seq), body);
    }

    public static byte[] ack(int seq, int code) {
        return record(LinkRecords.ACK, seq, le32(code));
    }

    public void write(byte[] bytes) throws IOException {
        socket.getOutputStream().write(bytes);
        socket.getOutputStream().flush();
    }

    /** The next record; fails if the server sends none within the timeout. */
    public Rec read() throws IOException {
        int length = int32(in.readNBytes(4), 0);
        assertThat(length).as("record length").isBetween(5, 1 << 20);
        byte[] rest = in.readNBytes(length);
        assertThat(rest).hasSize(length);
        return new Rec(rest[0] & 0xFF, int32(rest, 1), Arrays.copyOfRange(rest, 5, length));
    }

    /** The BYE the server sent before it closed: the reason it gave, with its code first. */
    public static String refusal(byte[] closingBytes) {
        assertThat(closingBytes.length).as("a BYE record came before the close").isGreaterThanOrEqualTo(13);
        int length = int32(closingBytes, 0);
        assertThat(closingBytes[4] & 0xFF).as("record type").isEqualTo(LinkRecords.BYE);
        return int32(closingBytes, 9) + " " + new String(closingBytes, 13, length - 9, StandardCharsets.UTF_8);
    }

    /** Reads until the server closes the connection; returns what came first. Fails if it stays open. */
    public byte[] readUntilClosed() throws IOException {
        return readUntilClosed(in);
    }

    public static byte[] readUntilClosed(InputStream in) throws IOException {
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
