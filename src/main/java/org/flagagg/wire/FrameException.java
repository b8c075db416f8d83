package org.flagagg.wire;

/**
 * A received chunk frame is malformed. Unchecked: frames are parsed at the transport boundary, which
 * catches it, counts the {@link #reason()} and drops (or rejects) the message.
 */
public final class FrameException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Why a frame was rejected; stable names for metrics and replies. */
    public enum Reason {
        /** Shorter than the 40-byte header. */
        TRUNCATED,
        /** The first four bytes are not 'F' 'A' 'G' 'G'. */
        BAD_MAGIC,
        /** A version this code does not speak. */
        BAD_VERSION,
        /** Kind is neither 1 (gradient chunk) nor 2 (aggregate chunk). */
        BAD_KIND,
        /** The reserved bytes are not 0. */
        BAD_RESERVED,
        /** A negative round, slot, chunk index, offset or count, or offset + count past 2^63 - 1. */
        BAD_FIELD,
        /** The frame's length is not 40 + 4 * count. */
        BAD_LENGTH,
        /** The CRC32C stored in the header does not match the frame's bytes. */
        BAD_CRC
    }

    private final Reason reason;

    public FrameException(Reason reason, String message) {
        super(reason + ": " + message);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
