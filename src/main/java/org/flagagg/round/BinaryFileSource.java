package org.flagagg.round;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Gradients stored back to back as little-endian float32 (worker 0's n values, then worker 1's, ...), read
 * from a read-only memory mapping of the file: a read is one copy from the page cache into the caller's
 * array, with no system call and no buffer of its own, so several threads can read at once. Files larger
 * than the heap work (the mapping is not heap); the file is mapped in segments because one mapping holds
 * at most 2 GiB. A file truncated or resized while it is read fails the read with an IOException.
 */
public final class BinaryFileSource implements GradientSource {
    /** Bytes per mapping: a power of two under FileChannel.map's 2 GiB limit, so segments hold whole floats. */
    static final long SEGMENT_BYTES = 1L << 30;

    private final Path file;
    private final FileChannel channel;
    private final long dimension;
    private final int workers;
    private final long size;
    private final long segmentFloats;
    /** Little-endian float views of the mapped segments, read only by absolute bulk gets (thread-safe). */
    private final FloatBuffer[] segments;

    /**
     * @throws IllegalArgumentException if the file's size is not a positive multiple of 4 * dimension
     */
    public BinaryFileSource(Path file, long dimension) throws IOException {
        this(file, dimension, SEGMENT_BYTES);
    }

    /** With mappings of {@code segmentBytes} (a positive multiple of 4): tests cross segments on small files. */
    BinaryFileSource(Path file, long dimension, long segmentBytes) throws IOException {
        if (dimension < 1) {
            throw new IllegalArgumentException("--dim must be >= 1, got " + dimension);
        }
        if (segmentBytes < 4 || segmentBytes % 4 != 0 || segmentBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("segment size must be a positive multiple of 4 under 2 GiB, got "
                    + segmentBytes);
        }
        this.file = file;
        this.channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            this.size = channel.size();
            long bytesPerWorker = 4 * dimension;
            if (size == 0 || size % bytesPerWorker != 0) {
                throw new IllegalArgumentException(file + " has " + size + " bytes, not a positive multiple of 4 * dim = "
                        + bytesPerWorker);
            }
            if (size / bytesPerWorker > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(file + " holds too many gradients for dim = " + dimension);
            }
            this.workers = (int) (size / bytesPerWorker);
            this.dimension = dimension;
            this.segmentFloats = segmentBytes / 4;
            this.segments = new FloatBuffer[(int) ((size + segmentBytes - 1) / segmentBytes)];
            for (int s = 0; s < segments.length; s++) {
                long from = s * segmentBytes;
                segments[s] = channel.map(FileChannel.MapMode.READ_ONLY, from, Math.min(segmentBytes, size - from))
                        .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            }
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    @Override
    public int workers() {
        return workers;
    }

    @Override
    public long dimension() {
        return dimension;
    }

    @Override
    public void read(int worker, long offset, int len, float[] dst) throws IOException {
        if (worker < 0 || worker >= workers || offset < 0 || len < 0 || offset + len > dimension) {
            throw new IndexOutOfBoundsException("worker " + worker + ", coordinates [" + offset + ", " + (offset + len)
                    + ") outside " + workers + " x " + dimension);
        }
        // A mapped page past the file's end faults, and the JDK raises that as an InternalError at some later
        // point of the thread: never let it come to that on a file that already changed. Checking the size
        // again afterwards catches a truncation during the copy, so no garbage is ever returned (the JDK's
        // error for that race may then still arrive later). Two fstats per read of a block.
        requireUnchanged();
        long at = worker * dimension + offset;
        try {
            for (int done = 0; done < len; ) {
                int index = (int) (at % segmentFloats);
                int count = (int) Math.min(len - done, segmentFloats - index);
                segments[(int) (at / segmentFloats)].get(index, dst, done, count);
                done += count;
                at += count;
            }
        } catch (InternalError e) {
            throw changed(e);
        }
        requireUnchanged();
    }

    private void requireUnchanged() throws IOException {
        if (channel.size() != size) {
            throw changed(null);
        }
    }

    private IOException changed(Throwable cause) {
        String now;
        try {
            now = Long.toString(channel.size());
        } catch (IOException e) {
            now = "unknown";
        }
        return new IOException(file + " changed while being read: now " + now + " bytes, was " + size, cause);
    }

    @Override
    public void close() throws IOException {
        // The mappings stay until they are collected (JDK 17 has no public unmap); closing the channel does
        // not invalidate them.
        channel.close();
    }
}
