package org.flagagg.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MlpTest {

    /** Random inputs in [0, 1] and labels. */
    static Dataset random(int n, int side, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] px = new float[n * side * side];
        int[] y = new int[n];
        for (int i = 0; i < px.length; i++) {
            px[i] = (float) rnd.nextDouble();
        }
        for (int k = 0; k < n; k++) {
            y[k] = rnd.nextInt(10);
        }
        return new Dataset(side, side, 10, px, y);
    }

    /** The loss of the whole batch written out from the definition, in double, for finite differences. */
    static double textbookLoss(Mlp m, double[] w, Dataset d, int[] batch) {
        int in = m.inputs();
        int h = m.hidden();
        int c = m.classes();
        double total = 0;
        for (int k : batch) {
            double[] feats = new double[in];
            for (int i = 0; i < in; i++) {
                feats[i] = d.pixels()[k * in + i];
            }
            double[] z = new double[c];
            if (h == 0) {
                for (int j = 0; j < c; j++) {
                    z[j] = w[c * in + j];
                    for (int i = 0; i < in; i++) {
                        z[j] += w[j * in + i] * feats[i];
                    }
                }
            } else {
                double[] a = new double[h];
                for (int j = 0; j < h; j++) {
                    double s = w[h * in + j];
                    for (int i = 0; i < in; i++) {
                        s += w[j * in + i] * feats[i];
                    }
                    a[j] = Math.max(0, s);
                }
                int w2 = h * in + h;
                for (int j = 0; j < c; j++) {
                    z[j] = w[w2 + c * h + j];
                    for (int i = 0; i < h; i++) {
                        z[j] += w[w2 + j * h + i] * a[i];
                    }
                }
            }
            double max = Double.NEGATIVE_INFINITY;
            for (double v : z) {
                max = Math.max(max, v);
            }
            double sum = 0;
            for (double v : z) {
                sum += Math.exp(v - max);
            }
            total += -(z[d.labels()[k]] - max - Math.log(sum));
        }
        return total / batch.length;
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 5})
    void gradientMatchesFiniteDifferencesOfTheTextbookLoss(int hidden) {
        Dataset d = random(6, 3, 1);
        Mlp m = new Mlp(9, hidden, 10);
        float[] w = m.initialParameters(3);
        int[] batch = {0, 2, 3, 5};
        float[] g = new float[m.dimension()];
        double loss = m.lossAndGradient(w, d, batch, batch.length, g, m.workspace());
        double[] wd = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            wd[i] = w[i];
        }
        assertThat(loss).isCloseTo(textbookLoss(m, wd, d, batch), within(1e-6));
        double h = 1e-5;
        for (int i = 0; i < w.length; i++) {
            double keep = wd[i];
            wd[i] = keep + h;
            double up = textbookLoss(m, wd, d, batch);
            wd[i] = keep - h;
            double down = textbookLoss(m, wd, d, batch);
            wd[i] = keep;
            assertThat((double) g[i]).as("coordinate %d", i).isCloseTo((up - down) / (2 * h), within(2e-5));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 4})
    void evaluateCountsArgmaxPredictions(int hidden) {
        Dataset d = random(50, 2, 7);
        Mlp m = new Mlp(4, hidden, 10);
        float[] w = m.initialParameters(11);
        Mlp.Evaluation e = m.evaluate(w, d);
        double[] wd = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            wd[i] = w[i];
        }
        // Accuracy by brute force: the class of largest textbook log-probability, i.e. smallest loss.
        int correct = 0;
        double loss = 0;
        for (int k = 0; k < d.size(); k++) {
            double own = textbookLoss(m, wd, relabel(d, k, d.labels()[k]), new int[] {k});
            loss += own;
            boolean best = true;
            for (int c = 0; c < 10; c++) {
                if (textbookLoss(m, wd, relabel(d, k, c), new int[] {k}) < own) {
                    best = false;
                }
            }
            correct += best ? 1 : 0;
        }
        assertThat(e.accuracy()).isEqualTo((double) correct / d.size());
        assertThat(e.loss()).isCloseTo(loss / d.size(), within(1e-7));
    }

    private static Dataset relabel(Dataset d, int k, int label) {
        int[] y = d.labels().clone();
        y[k] = label;
        return new Dataset(d.rows(), d.cols(), 10, d.pixels(), y);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 7})
    void dimensionIsTheLayout(int hidden) {
        Mlp m = new Mlp(12, hidden, 10);
        assertThat(m.dimension()).isEqualTo(hidden == 0 ? 10 * 12 + 10 : 7 * 12 + 7 + 10 * 7 + 10);
        assertThat(m.initialParameters(1)).hasSize(m.dimension()).isEqualTo(m.initialParameters(1));
    }
}
