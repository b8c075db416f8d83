package org.flagagg.demo;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * Reads MNIST-format IDX files (big-endian; magic 0x00000803 for unsigned-byte images n x rows x cols,
 * 0x00000801 for unsigned-byte labels n), optionally gzipped. A directory holds the four MNIST files under
 * their usual names (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
 * t10k-labels-idx1-ubyte, with or without .gz; '-' or '.' before "idx").
 */
public final class Idx {
    static final int IMAGES_MAGIC = 0x00000803;
    static final int LABELS_MAGIC = 0x00000801;

    private Idx() {
    }

    /** The train and test sets of an MNIST-format directory. */
    public record Split(Dataset train, Dataset test) {
    }

    public static Split readDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("--data: " + dir + " is not a directory");
        }
        return new Split(read(find(dir, "train-images"), find(dir, "train-labels")),
                read(find(dir, "t10k-images"), find(dir, "t10k-labels")));
    }

    private static Path find(Path dir, String stem) {
        String kind = stem.endsWith("images") ? "idx3-ubyte" : "idx1-ubyte";
        for (String sep : List.of("-", ".")) {
            for (String ext : List.of("", ".gz")) {
                Path p = dir.resolve(stem + sep + kind + ext);
                if (Files.isRegularFile(p)) {
                    return p;
                }
            }
        }
        throw new IllegalArgumentException("--data: no " + stem + "-" + kind + "[.gz] in " + dir
                + " (expected the four MNIST IDX files: train-images, train-labels, t10k-images, t10k-labels)");
    }

    /** Reads an image file and its label file into a dataset with values in [0, 1] and 10 classes. */
    public static Dataset read(Path images, Path labels) throws IOException {
        try {
            return readUnchecked(images, labels);
        } catch (EOFException e) {
            throw new IllegalArgumentException(images + " / " + labels + ": truncated IDX file");
        }
    }

    private static Dataset readUnchecked(Path images, Path labels) throws IOException {
        int rows;
        int cols;
        float[] pixels;
        int[] y;
        try (DataInputStream in = open(images)) {
            int magic = in.readInt();
            if (magic != IMAGES_MAGIC) {
                throw new IllegalArgumentException(images + ": not an IDX image file (magic 0x"
                        + Integer.toHexString(magic) + ", expected 0x803)");
            }
            int n = in.readInt();
            rows = in.readInt();
            cols = in.readInt();
            if (n < 1 || rows < 1 || cols < 1 || (long) n * rows * cols > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException(images + ": bad dimensions " + n + " x " + rows + " x " + cols);
            }
            byte[] raw = new byte[n * rows * cols];
            readFully(in, raw, images);
            pixels = new float[raw.length];
            for (int i = 0; i < raw.length; i++) {
                pixels[i] = (raw[i] & 0xFF) / 255f;
            }
        }
        try (DataInputStream in = open(labels)) {
            int magic = in.readInt();
            if (magic != LABELS_MAGIC) {
                throw new IllegalArgumentException(labels + ": not an IDX label file (magic 0x"
                        + Integer.toHexString(magic) + ", expected 0x801)");
            }
            int n = in.readInt();
            if (n != pixels.length / (rows * cols)) {
                throw new IllegalArgumentException(labels + ": " + n + " labels for " + pixels.length / (rows * cols)
                        + " images in " + images);
            }
            byte[] raw = new byte[n];
            readFully(in, raw, labels);
            y = new int[n];
            for (int i = 0; i < n; i++) {
                y[i] = raw[i] & 0xFF;
                if (y[i] > 9) {
                    throw new IllegalArgumentException(labels + ": label " + y[i] + " at " + i + " is not a digit 0..9");
                }
            }
        }
        return new Dataset(rows, cols, 10, pixels, y);
    }

    private static DataInputStream open(Path file) throws IOException {
        InputStream raw;
        try {
            raw = new BufferedInputStream(Files.newInputStream(file));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("--data: no such file " + file);
        }
        if (file.getFileName().toString().endsWith(".gz")) {
            raw = new GZIPInputStream(raw);
        }
        return new DataInputStream(raw);
    }

    private static void readFully(DataInputStream in, byte[] into, Path file) throws IOException {
        try {
            in.readFully(into);
        } catch (EOFException e) {
            throw new IllegalArgumentException(file + ": truncated (expected " + into.length + " data bytes)");
        }
    }
}
