package org.flagagg.round;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Run in a small forked JVM by {@link ChunkStoreBoundTest}: stores workers x floatsPerWorker float32 through a
 * ChunkStore with a small budget, reads everything back against a pattern computed (not stored) from
 * (worker, index), and prints "key=value" lines for the test to check. Exits 1 on any mismatch.
 *
 * <p>Arguments: spillDir workers floatsPerWorker budgetBytes slabBytes.
 */
public final class ChunkStoreBoundMain {
    private ChunkStoreBoundMain() {
    }

    /** Bits of value (worker, index): every bit pattern occurs, NaN payloads included. */
    static int pattern(int worker, long index) {
        long h = (index + 1) * 0x9E3779B97F4A7C15L + worker * 0xC2B2AE3D27D4EB4FL;
        return (int) (h ^ (h >>> 29));
    }

    public static void main(String[] args) throws IOException {
        Path spillDir = Path.of(args[0]);
        int workers = Integer.parseInt(args[1]);
        long floatsPerWorker = Long.parseLong(args[2]);
        long budget = Long.parseLong(args[3]);
        int slab = Integer.parseInt(args[4]);
        int chunk = slab / 4;
        int chunks = (int) ((floatsPerWorker + chunk - 1) / chunk);
        long round = 42;
        long maxDirectSeen = 0;
        long mismatches = 0;
        long checked = 0;
        float[] values = new float[chunk];
        ByteBuffer payload = ByteBuffer.allocateDirect(slab).order(ByteOrder.LITTLE_ENDIAN);
        ChunkStoreStats stats;
        try (ChunkStore store = new ChunkStore(budget, slab, spillDir)) {
            for (int c = 0; c < chunks; c++) {
                long first = (long) c * chunk;
                int n = (int) Math.min(chunk, floatsPerWorker - first);
                for (int w = 0; w < workers; w++) {
                    ChunkKey key = new ChunkKey(round, w, c);
                    if (w % 2 == 0) {
                        for (int k = 0; k < n; k++) {
                            values[k] = Float.intBitsToFloat(pattern(w, first + k));
                        }
                        store.put(key, values, 0, n);
                    } else {
                        // The engine's path: the frame's little-endian payload stored as bytes.
                        payload.clear();
                        for (int k = 0; k < n; k++) {
                            payload.putInt(pattern(w, first + k));
                        }
                        store.put(key, payload.flip());
                    }
                    maxDirectSeen = Math.max(maxDirectSeen, store.stats().directBytes());
                }
            }
            for (int w = 0; w < workers; w++) {
                for (int c = 0; c < chunks; c++) {
                    long first = (long) c * chunk;
                    int n = store.read(new ChunkKey(round, w, c), values, 0);
                    for (int k = 0; k < n; k++) {
                        if (Float.floatToRawIntBits(values[k]) != pattern(w, first + k)) {
                            mismatches++;
                        }
                    }
                    checked += n;
                }
            }
            stats = store.stats();
            store.releaseRound(round);
        }
        long filesLeft;
        try (Stream<Path> s = Files.list(spillDir)) {
            filesLeft = s.count();
        }
        System.out.println("checked=" + checked);
        System.out.println("mismatches=" + mismatches);
        System.out.println("heapMax=" + Runtime.getRuntime().maxMemory());
        System.out.println("maxDirectMemory=" + ChunkStore.maxDirectMemory());
        System.out.println("maxDirectSeen=" + maxDirectSeen);
        System.out.println("peakBytesInMemory=" + stats.peakBytesInMemory());
        System.out.println("bytesSpilled=" + stats.bytesSpilled());
        System.out.println("slabsAllocated=" + stats.slabsAllocated());
        System.out.println("spillFilesLeft=" + filesLeft);
        System.exit(mismatches == 0 && checked == workers * floatsPerWorker ? 0 : 1);
    }
}
