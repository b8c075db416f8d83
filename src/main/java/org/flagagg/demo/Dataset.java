package org.flagagg.demo;

/**
 * Labelled grayscale images, flattened: image k is {@code pixels[k * features .. (k + 1) * features)}, values
 * in [0, 1]; its class is {@code labels[k]} in 0..classes-1.
 */
public record Dataset(int rows, int cols, int classes, float[] pixels, int[] labels) {

    public Dataset {
        if (rows < 1 || cols < 1 || classes < 2) {
            throw new IllegalArgumentException("a dataset needs rows, cols >= 1 and classes >= 2, got "
                    + rows + ", " + cols + ", " + classes);
        }
        if (pixels.length != (long) labels.length * rows * cols) {
            throw new IllegalArgumentException("pixels hold " + pixels.length + " values, expected "
                    + labels.length + " images x " + rows + " x " + cols);
        }
        for (int label : labels) {
            if (label < 0 || label >= classes) {
                throw new IllegalArgumentException("label " + label + " is outside 0.." + (classes - 1));
            }
        }
    }

    public int size() {
        return labels.length;
    }

    /** Values per image. */
    public int features() {
        return rows * cols;
    }

    /** The first {@code count} images (all if count >= size). */
    public Dataset head(int count) {
        int n = Math.min(count, size());
        float[] p = java.util.Arrays.copyOf(pixels, n * features());
        return new Dataset(rows, cols, classes, p, java.util.Arrays.copyOf(labels, n));
    }
}
