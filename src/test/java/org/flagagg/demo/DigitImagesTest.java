package org.flagagg.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class DigitImagesTest {

    @Test
    void sameSeedGivesTheSameImagesAndBalancedLabels() {
        Dataset a = DigitImages.generate(5, 200, 16, 0.1);
        Dataset b = DigitImages.generate(5, 200, 16, 0.1);
        assertThat(a.pixels()).isEqualTo(b.pixels());
        assertThat(a.labels()).isEqualTo(b.labels());
        int[] counts = new int[10];
        for (int label : a.labels()) {
            counts[label]++;
        }
        assertThat(counts).containsOnly(20);
        for (float v : a.pixels()) {
            assertThat(v).isBetween(0f, 1f);
        }
        assertThat(DigitImages.generate(6, 200, 16, 0.1).pixels()).isNotEqualTo(a.pixels());
    }

    @Test
    void digitsHaveInkInTheMiddleAndDifferByClass() {
        // Without noise: the glyph is drawn (ink > 0) and images of a 1 carry less ink than images of an 8.
        Dataset d = DigitImages.generate(9, 400, 16, 0);
        double[] ink = new double[10];
        int[] n = new int[10];
        for (int k = 0; k < d.size(); k++) {
            double sum = 0;
            for (int i = 0; i < d.features(); i++) {
                sum += d.pixels()[k * d.features() + i];
            }
            assertThat(sum).as("image %d", k).isGreaterThan(3);
            ink[d.labels()[k]] += sum;
            n[d.labels()[k]]++;
        }
        assertThat(ink[1] / n[1]).isLessThan(0.8 * ink[8] / n[8]);
    }

    @Test
    void rejectsBadSizes() {
        assertThatThrownBy(() -> DigitImages.generate(1, 0, 16, 0.1)).hasMessageContaining("count >= 1");
        assertThatThrownBy(() -> DigitImages.generate(1, 10, 4, 0.1)).hasMessageContaining("side in 8..64");
        assertThatThrownBy(() -> DigitImages.generate(1, 10, 16, -1)).hasMessageContaining("noise");
    }
}
