package org.flagagg.wire;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.MessageCodec;

/**
 * Event-bus codec for chunk frames. Vert.x's own Buffer codec copies a Buffer on local delivery and again
 * when decoding it from the wire; a frame is never modified once built, so this one hands the same Buffer
 * over locally and decodes a slice of the received message (a fresh buffer per message) without copying.
 */
public final class FrameCodec implements MessageCodec<Buffer, Buffer> {
    public static final String NAME = "flagagg-frame";

    /** Registers the codec on this event bus (once; later calls do nothing). */
    public static synchronized void register(EventBus bus) {
        try {
            bus.registerCodec(new FrameCodec());
        } catch (IllegalStateException alreadyRegistered) {
            // Another verticle or client of this Vert.x registered it.
        }
    }

    @Override
    public void encodeToWire(Buffer wire, Buffer frame) {
        wire.appendInt(frame.length());
        wire.appendBuffer(frame);
    }

    @Override
    public Buffer decodeFromWire(int position, Buffer wire) {
        int length = wire.getInt(position);
        return wire.slice(position + 4, position + 4 + length);
    }

    @Override
    public Buffer transform(Buffer frame) {
        return frame;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public byte systemCodecID() {
        return -1;
    }
}
