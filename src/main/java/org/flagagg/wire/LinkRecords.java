package org.flagagg.wire;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;

/**
 * The records of the data link (docs/protocol.md, "Data link"): on one TCP connection each way, a record
 * is {@code u32 length} (of what follows), {@code u8 type}, {@code u32 seq}, then the body, all
 * little-endian. The node opens with HELLO, the server answers with a CHALLENGE, the node proves it holds
 * the job secret with AUTH and the server with WELCOME (its JSON); then FRAME carries one chunk frame, ACK the
 * answer to a FRAME. BYE is the server's refusal, just before it closes the connection.
 */
public final class LinkRecords {
    /** Server to client, once, the answer to a valid AUTH: JSON {"version", "relay", "max_record", "proof"}. */
    public static final int WELCOME = 1;
    /** One chunk frame: a gradient's (client to server) or the aggregate's (server to client). */
    public static final int FRAME = 2;
    /** The answer to the FRAME with the same seq: i32 code (0 = accepted, else docs/protocol.md's codes) + UTF-8 reason. */
    public static final int ACK = 3;
    /**
     * Client to server, once, first: JSON {"version", "job", "nonce"}. The server speaks only after it (or to
     * refuse), so a node has its record handler in place before any byte can come back.
     */
    public static final int HELLO = 4;
    /** Server to client, once, the answer to HELLO: JSON {"nonce"}, the server's fresh nonce. */
    public static final int CHALLENGE = 5;
    /** Client to server, once, the answer to CHALLENGE: JSON {"proof"}, see {@link #NODE_PROOF}. */
    public static final int AUTH = 6;
    /** Server to client, last: i32 code + UTF-8 reason, why the server closes the connection. */
    public static final int BYE = 7;
    public static final int VERSION = 2;
    /** The label of the node's proof: HMAC(secret, label, job, node nonce, server nonce). */
    public static final String NODE_PROOF = "flagagg-link-node";
    /** The label of the server's proof in WELCOME: HMAC(secret, label, job, node nonce, server nonce, relay). */
    public static final String SERVER_PROOF = "flagagg-link-server";
    /**
     * Longest record the server accepts before the node authenticated (HELLO and AUTH are far shorter): a
     * peer without the secret can make it allocate no more than this per connection.
     */
    public static final int MAX_UNAUTHENTICATED_RECORD = 1024;
    /** Bytes before the body: u32 length, u8 type, u32 seq. */
    public static final int PREFIX_BYTES = 9;

    private LinkRecords() {
    }

    /** Largest FRAME record (after the length field) for chunks of {@code chunkCoords} values. */
    public static int maxRecord(int chunkCoords) {
        return PREFIX_BYTES - 4 + ChunkFrame.frameBytes(chunkCoords);
    }

    /** The chunk size behind a WELCOME's max_record: the inverse of {@link #maxRecord}. */
    public static int chunkCoords(int maxRecord) {
        return Math.max(0, maxRecord - maxRecord(0)) / 4;
    }

    /**
     * Longest record a peer accepts: a full FRAME, and never under 64 KiB, since with small chunks an ACK's
     * reason or a control record is longer than a FRAME.
     */
    public static int readLimit(int chunkCoords) {
        return Math.max(maxRecord(chunkCoords), MIN_READ_LIMIT);
    }

    /**
     * Socket receive buffer of both ends, and the size of each read: Netty's adaptive reads stop at 64 KiB,
     * and reading up to 1 MiB at a time measured ~4% more throughput (fewer reads, fewer pipeline events).
     * A fixed size turns off the kernel's autotuning, which is fine on a LAN.
     */
    public static final int RECEIVE_BUFFER_BYTES = 1 << 20;

    /** What a peer accepts before it knows the chunk size, and at least ever after. */
    public static final int MIN_READ_LIMIT = 64 * 1024;

    /**
     * Writes a FRAME record holding a chunk frame encoded straight into {@code out} (cleared first): the one
     * copy of the values on their way to the socket. Returns {@code out}.
     */
    public static ByteBuf frame(ByteBuf out, int seq, int kind, long round, int slot, int chunkIndex, long offset,
            float[] values, int count) {
        int frameBytes = ChunkFrame.frameBytes(count);
        out.clear().ensureWritable(PREFIX_BYTES + frameBytes);
        out.writeIntLE(PREFIX_BYTES - 4 + frameBytes).writeByte(FRAME).writeIntLE(seq);
        ChunkFrame.encode(kind, round, slot, chunkIndex, offset, values, 0, count,
                out.nioBuffer(PREFIX_BYTES, frameBytes));
        return out.writerIndex(PREFIX_BYTES + frameBytes);
    }

    /** The size of the FRAME record holding a frame of {@code count} values. */
    public static int frameRecordBytes(int count) {
        return PREFIX_BYTES + ChunkFrame.frameBytes(count);
    }

    /**
     * The prefix of a FRAME record around an already encoded frame (the aggregate's, shared by every stream):
     * write it, then the frame itself ({@link #body}), rather than one composite that Netty would merge.
     */
    public static ByteBuf framePrefix(int seq, Buffer frame) {
        return Unpooled.buffer(PREFIX_BYTES).writeIntLE(PREFIX_BYTES - 4 + frame.length()).writeByte(FRAME)
                .writeIntLE(seq);
    }

    /** The frame's bytes as a buffer Netty may write and release (the frame itself is never released). */
    public static ByteBuf body(Buffer frame) {
        ByteBuf bytes = VertxInternals.byteBuf(frame);
        return bytes != null ? bytes : Unpooled.wrappedBuffer(frame.getBytes());
    }

    public static ByteBuf ack(int seq, int code, String reason) {
        byte[] text = reason == null ? new byte[0] : reason.getBytes(StandardCharsets.UTF_8);
        return Unpooled.buffer(PREFIX_BYTES + 4 + text.length).writeIntLE(PREFIX_BYTES + text.length)
                .writeByte(ACK).writeIntLE(seq).writeIntLE(code).writeBytes(text);
    }

    public static ByteBuf welcome(String json) {
        return text(WELCOME, json);
    }

    /** The server's refusal: an ACK's body (code, reason) under its own type. */
    public static ByteBuf bye(int code, String reason) {
        ByteBuf record = ack(0, code, reason);
        return record.setByte(4, BYE);
    }

    /** A record of {@code type} (HELLO, CHALLENGE, AUTH, WELCOME) whose body is {@code json}, seq 0. */
    public static ByteBuf text(int type, String json) {
        byte[] text = json.getBytes(StandardCharsets.UTF_8);
        return Unpooled.buffer(PREFIX_BYTES + text.length).writeIntLE(PREFIX_BYTES - 4 + text.length)
                .writeByte(type).writeIntLE(0).writeBytes(text);
    }

    /** One received record in bytes[0, length): the type, then the seq, then the body. */
    public record Record(byte[] bytes, int length) {
        public int type() {
            return bytes[0] & 0xff;
        }

        public int seq() {
            return (bytes[1] & 0xff) | (bytes[2] & 0xff) << 8 | (bytes[3] & 0xff) << 16 | (bytes[4] & 0xff) << 24;
        }

        /** A FRAME's chunk frame, over this record's bytes (no copy). */
        public Buffer frame() {
            return VertxInternals.buffer(Unpooled.unreleasableBuffer(
                    Unpooled.wrappedBuffer(bytes, PREFIX_BYTES - 4, length - (PREFIX_BYTES - 4))));
        }

        /** An ACK's or BYE's code. */
        public int code() {
            int at = PREFIX_BYTES - 4;
            return (bytes[at] & 0xff) | (bytes[at + 1] & 0xff) << 8 | (bytes[at + 2] & 0xff) << 16
                    | (bytes[at + 3] & 0xff) << 24;
        }

        /** An ACK's or BYE's reason, or the JSON of the other records. */
        public String text() {
            int at = type() == ACK || type() == BYE ? PREFIX_BYTES : PREFIX_BYTES - 4;
            return new String(bytes, at, length - at, StandardCharsets.UTF_8);
        }
    }

    /**
     * Cuts a TCP byte stream into records, copying each received byte once, straight from Netty's buffer
     * into the record's array (Vert.x's {@code NetSocket.handler} would copy to the heap first). Confined
     * to the connection's event loop.
     */
    public static final class Reader {
        private final java.util.function.IntFunction<byte[]> allocate;
        private final java.util.function.Consumer<Record> onRecord;
        private int maxRecord;
        private int length = -1;
        private int lengthBytes;
        private byte[] record;
        private int filled;

        /** Records go into arrays from {@code allocate} (at least as long as asked: a pool may recycle them). */
        public Reader(int maxRecord, java.util.function.IntFunction<byte[]> allocate,
                java.util.function.Consumer<Record> onRecord) {
            this.maxRecord = maxRecord;
            this.allocate = allocate;
            this.onRecord = onRecord;
        }

        /** From now on, records longer than {@code maxRecord} are refused. */
        public void limit(int maxRecord) {
            this.maxRecord = maxRecord;
        }

        /** Consumes and releases {@code in}; throws {@link LinkException} on a record that cannot be valid. */
        public void read(ByteBuf in) {
            try {
                while (in.isReadable()) {
                    if (record == null) {
                        length = lengthBytes == 0 ? in.readUnsignedByte() : length | in.readUnsignedByte() << (8 * lengthBytes);
                        if (++lengthBytes < 4) {
                            continue;
                        }
                        lengthBytes = 0;
                        if (length < PREFIX_BYTES - 4 || length > maxRecord) {
                            throw new LinkException("record length " + Integer.toUnsignedString(length)
                                    + " is outside [" + (PREFIX_BYTES - 4) + ", " + maxRecord + "]");
                        }
                        record = allocate.apply(length);
                        filled = 0;
                    }
                    int n = Math.min(in.readableBytes(), length - filled);
                    in.readBytes(record, filled, n);
                    filled += n;
                    if (filled == length) {
                        Record done = new Record(record, length);
                        record = null;
                        onRecord.accept(done);
                    }
                }
            } finally {
                in.release();
            }
        }
    }

    /** Thrown by {@link Reader} for a byte stream that is not a sequence of records: the peer is closed. */
    public static final class LinkException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final int code;

        public LinkException(String message) {
            this(org.flagagg.wire.Codes.BAD_REQUEST, message);
        }

        public LinkException(int code, String message) {
            super(message);
            this.code = code;
        }

        /** The code of the BYE the server sends before it closes the connection. */
        public int code() {
            return code;
        }
    }
}
