package org.flagagg.demo;

import java.util.SplittableRandom;

/**
 * A one-hidden-layer perceptron with ReLU and softmax cross-entropy, on a flat parameter vector (which is
 * also the layout of its gradient, the vector the workers exchange):
 * {@code [W1 (hidden x inputs, row-major) | b1 (hidden) | W2 (classes x hidden) | b2 (classes)]}.
 * With {@code hidden = 0} it is the linear model (softmax regression) {@code [W (classes x inputs) | b]},
 * the baseline the MLP must beat. Math in double per sample, parameters and gradients in float.
 */
public final class Mlp {
    private final int inputs;
    private final int hidden;
    private final int classes;

    public Mlp(int inputs, int hidden, int classes) {
        if (inputs < 1 || hidden < 0 || classes < 2) {
            throw new IllegalArgumentException("an MLP needs inputs >= 1, hidden >= 0 and classes >= 2, got "
                    + inputs + ", " + hidden + ", " + classes);
        }
        this.inputs = inputs;
        this.hidden = hidden;
        this.classes = classes;
    }

    public int inputs() {
        return inputs;
    }

    public int hidden() {
        return hidden;
    }

    public int classes() {
        return classes;
    }

    /** Length of the parameter (and gradient) vector. */
    public int dimension() {
        return hidden == 0 ? classes * inputs + classes : hidden * inputs + hidden + classes * hidden + classes;
    }

    /** He-uniform weights from the seed, zero biases. */
    public float[] initialParameters(long seed) {
        float[] w = new float[dimension()];
        SplittableRandom rnd = new SplittableRandom(seed);
        int firstOut = hidden == 0 ? classes : hidden;
        double bound1 = Math.sqrt(6.0 / inputs);
        for (int i = 0; i < firstOut * inputs; i++) {
            w[i] = (float) (bound1 * (2 * rnd.nextDouble() - 1));
        }
        if (hidden > 0) {
            int w2 = hidden * inputs + hidden;
            double bound2 = Math.sqrt(6.0 / hidden);
            for (int i = 0; i < classes * hidden; i++) {
                w[w2 + i] = (float) (bound2 * (2 * rnd.nextDouble() - 1));
            }
        }
        return w;
    }

    /** Scratch buffers of one caller: not thread-safe, reuse one per thread. */
    public final class Workspace {
        final double[] h = new double[Math.max(hidden, 1)];
        final double[] z = new double[classes];
        final double[] dh = new double[Math.max(hidden, 1)];
    }

    public Workspace workspace() {
        return new Workspace();
    }

    /**
     * The mean cross-entropy over the images {@code batch[0..count)} of {@code data}, and its gradient with
     * respect to the parameters written into {@code grad} (overwritten).
     */
    public double lossAndGradient(float[] params, Dataset data, int[] batch, int count, float[] grad, Workspace ws) {
        java.util.Arrays.fill(grad, 0f);
        double loss = 0;
        double inv = 1.0 / count;
        for (int b = 0; b < count; b++) {
            int k = batch[b];
            int x = k * inputs;
            float[] px = data.pixels();
            loss += forward(params, px, x, data.labels()[k], ws);
            // ws.z now holds softmax - onehot
            if (hidden == 0) {
                for (int c = 0; c < classes; c++) {
                    double d = ws.z[c] * inv;
                    if (d == 0) {
                        continue;
                    }
                    int row = c * inputs;
                    for (int i = 0; i < inputs; i++) {
                        grad[row + i] += (float) (d * px[x + i]);
                    }
                    grad[classes * inputs + c] += (float) d;
                }
                continue;
            }
            int b1 = hidden * inputs;
            int w2 = b1 + hidden;
            int b2 = w2 + classes * hidden;
            java.util.Arrays.fill(ws.dh, 0);
            for (int c = 0; c < classes; c++) {
                double d = ws.z[c] * inv;
                int row = w2 + c * hidden;
                for (int j = 0; j < hidden; j++) {
                    grad[row + j] += (float) (d * ws.h[j]);
                    ws.dh[j] += d * params[row + j];
                }
                grad[b2 + c] += (float) d;
            }
            for (int j = 0; j < hidden; j++) {
                double d = ws.h[j] > 0 ? ws.dh[j] : 0;
                if (d == 0) {
                    continue;
                }
                int row = j * inputs;
                for (int i = 0; i < inputs; i++) {
                    grad[row + i] += (float) (d * px[x + i]);
                }
                grad[b1 + j] += (float) d;
            }
        }
        return loss * inv;
    }

    /** Test accuracy (0..1) and mean cross-entropy of the parameters over the whole dataset. */
    public record Evaluation(double accuracy, double loss) {
    }

    public Evaluation evaluate(float[] params, Dataset data) {
        Workspace ws = workspace();
        int correct = 0;
        double loss = 0;
        for (int k = 0; k < data.size(); k++) {
            int label = data.labels()[k];
            loss += forward(params, data.pixels(), k * inputs, label, ws);
            // forward leaves softmax - onehot: the predicted class has the largest softmax
            int best = 0;
            double bestP = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                double p = ws.z[c] + (c == label ? 1 : 0);
                if (p > bestP) {
                    bestP = p;
                    best = c;
                }
            }
            if (best == label) {
                correct++;
            }
        }
        return new Evaluation((double) correct / data.size(), loss / data.size());
    }

    /**
     * Forward pass of one image at {@code px[x..x+inputs)}: hidden activations in ws.h, softmax minus the
     * one-hot label in ws.z; returns the cross-entropy. Non-finite parameters give a NaN loss.
     */
    private double forward(float[] params, float[] px, int x, int label, Workspace ws) {
        int firstOut = hidden == 0 ? classes : hidden;
        double[] first = hidden == 0 ? ws.z : ws.h;
        int bias1 = firstOut * inputs;
        for (int j = 0; j < firstOut; j++) {
            int row = j * inputs;
            double s = params[bias1 + j];
            for (int i = 0; i < inputs; i++) {
                s += params[row + i] * px[x + i];
            }
            first[j] = hidden == 0 ? s : Math.max(0, s);
        }
        if (hidden > 0) {
            int w2 = bias1 + hidden;
            int b2 = w2 + classes * hidden;
            for (int c = 0; c < classes; c++) {
                int row = w2 + c * hidden;
                double s = params[b2 + c];
                for (int j = 0; j < hidden; j++) {
                    s += params[row + j] * ws.h[j];
                }
                ws.z[c] = s;
            }
        }
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < classes; c++) {
            max = Math.max(max, ws.z[c]);
        }
        double sum = 0;
        for (int c = 0; c < classes; c++) {
            ws.z[c] = Math.exp(ws.z[c] - max);
            sum += ws.z[c];
        }
        double loss = 0;
        for (int c = 0; c < classes; c++) {
            ws.z[c] /= sum;
            if (c == label) {
                loss = -Math.log(Math.max(ws.z[c], 1e-300));
                ws.z[c] -= 1;
            }
        }
        return loss;
    }
}
