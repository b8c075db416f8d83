package org.flagagg.round;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.flagagg.kernels.Kernels;

/**
 * Gradients stored back to back as little-endian float32 (worker 0's n values, then worker 1's, ...), read
 * by positional reads so files larger than the heap stream through a fixed buffer.
 */
public final class BinaryFileSource implements GradientSource {
    private final FileChannel channel;
    private final long dimension;
    private final int workers;
    private final Kernels kernels;
    private ByteBuffer buffer = ByteBuffer.allocateDirect(0);

    /**
     * @throws IllegalArgumentException if the file's size is not a positive multiple of 4 * dimension
     */
    public BinaryFileSource(Path file, long dimension, Kernels kernels) throws IOException {
        if (dimension < 1) {
            throw new IllegalArgumentException("--dim must be >= 1, got " + dimension);
        }
        this.channel = FileChannel.open(file, StandardOpenOption.READ);
        long size = channel.size();
        long bytesPerWorker = 4 * dimension;
        if (size == 0 || size % bytesPerWorker != 0) {
            channel.close();
            throw new IllegalArgumentException(file + " has " + size + " bytes, not a positive multiple of 4 * dim = "
                    + bytesPerWorker);
        }
        if (size / bytesPerWorker > Integer.MAX_VALUE) {
            channel.close();
            throw new IllegalArgumentException(file + " holds too many gradients for dim = " + dimension);
        }
        this.workers = (int) (size / bytesPerWorker);
        this.dimension = dimension;
        this.kernels = kernels;
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
        int bytes = 4 * len;
        if (buffer.capacity() < bytes) {
            buffer = ByteBuffer.allocateDirect(bytes);
        }
        buffer.clear().limit(bytes);
        long position = 4 * (worker * dimension + offset);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, position + buffer.position()) < 0) {
                throw new EOFException("file ended inside worker " + worker + "'s gradient");
            }
        }
        buffer.flip();
        kernels.decode(buffer, dst, 0, len);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
