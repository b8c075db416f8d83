package org.flagagg.round;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fixed-size direct buffers, allocated lazily up to a maximum count and reused: allocateDirect is slow and
 * the JDK gives direct memory back only when a GC collects the buffer, so buffers are recycled, not dropped.
 */
final class SlabPool {
    private static final Logger LOG = LoggerFactory.getLogger(ChunkStore.class);

    /** One pooled buffer with its little-endian float view (the view is created once, not per chunk). */
    record Slab(ByteBuffer bytes, FloatBuffer floats) {
    }

    private final int slabBytes;
    private final int maxSlabs;
    private final ArrayDeque<Slab> free = new ArrayDeque<>();
    private int allocated;
    // Lowered to `allocated` once allocateDirect fails, so the slow failing path (System.gc and retries in
    // the JDK) is taken at most once.
    private int cap;

    SlabPool(int slabBytes, int maxSlabs) {
        this.slabBytes = slabBytes;
        this.maxSlabs = maxSlabs;
        this.cap = maxSlabs;
    }

    /** A free slab, a new one while under the cap, or null when the budget is used up. */
    synchronized Slab acquire() {
        Slab slab = free.pollLast(); // LIFO: the most recently used memory is the warmest
        if (slab != null || allocated >= cap) {
            return slab;
        }
        ByteBuffer bytes;
        try {
            bytes = ByteBuffer.allocateDirect(slabBytes).order(ByteOrder.LITTLE_ENDIAN);
        } catch (OutOfMemoryError e) {
            cap = allocated;
            LOG.warn("direct memory exhausted after {} slabs of {} bytes ({}); further chunks spill to disk. "
                    + "Set -XX:MaxDirectMemorySize above the chunk store budget ({} bytes) plus headroom",
                    allocated, slabBytes, e.getMessage(), (long) maxSlabs * slabBytes);
            return null;
        }
        allocated++;
        return new Slab(bytes, bytes.asFloatBuffer());
    }

    synchronized void release(Slab slab) {
        free.addLast(slab);
    }

    /** Drops every buffer (the JDK frees their memory at a later GC). */
    synchronized void clear() {
        free.clear();
        allocated = 0;
        cap = 0;
    }

    synchronized int allocated() {
        return allocated;
    }

    synchronized int free() {
        return free.size();
    }
}
