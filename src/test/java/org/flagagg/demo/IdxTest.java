package org.flagagg.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxTest {

    /** An IDX image file as the MNIST spec describes it: magic 0x803, n, rows, cols, then n*rows*cols bytes. */
    static byte[] images(int n, int rows, int cols, int seed) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(0x00000803);
        out.writeInt(n);
        out.writeInt(rows);
        out.writeInt(cols);
        for (int i = 0; i < n * rows * cols; i++) {
            out.writeByte((i * 37 + seed) & 0xFF);
        }
        return bytes.toByteArray();
    }

    static byte[] labels(int n) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(0x00000801);
        out.writeInt(n);
        for (int i = 0; i < n; i++) {
            out.writeByte((i * 7) % 10);
        }
        return bytes.toByteArray();
    }

    static void write(Path file, byte[] content, boolean gzip) throws IOException {
        try (OutputStream out = gzip ? new GZIPOutputStream(Files.newOutputStream(file)) : Files.newOutputStream(file)) {
            out.write(content);
        }
    }

    @Test
    void readsADirectoryOfPlainAndGzippedFiles(@TempDir Path dir) throws IOException {
        write(dir.resolve("train-images-idx3-ubyte"), images(5, 3, 4, 1), false);
        write(dir.resolve("train-labels-idx1-ubyte"), labels(5), false);
        write(dir.resolve("t10k-images.idx3-ubyte.gz"), images(2, 3, 4, 9), true);
        write(dir.resolve("t10k-labels.idx1-ubyte.gz"), labels(2), true);
        Idx.Split split = Idx.readDirectory(dir);
        Dataset train = split.train();
        assertThat(train.size()).isEqualTo(5);
        assertThat(train.rows()).isEqualTo(3);
        assertThat(train.cols()).isEqualTo(4);
        for (int i = 0; i < 5 * 12; i++) {
            assertThat(train.pixels()[i]).isEqualTo(((i * 37 + 1) & 0xFF) / 255f);
        }
        assertThat(train.labels()).containsExactly(0, 7, 4, 1, 8);
        assertThat(split.test().size()).isEqualTo(2);
        assertThat(split.test().pixels()[1]).isEqualTo(((37 + 9) & 0xFF) / 255f);
    }

    @Test
    void badFilesGiveMessagesThatNameTheProblem(@TempDir Path dir) throws IOException {
        Path img = dir.resolve("i");
        Path lab = dir.resolve("l");
        write(img, labels(3), false);
        write(lab, labels(3), false);
        assertThatThrownBy(() -> Idx.read(img, lab)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not an IDX image file");
        write(img, images(3, 2, 2, 0), false);
        write(lab, labels(4), false);
        assertThatThrownBy(() -> Idx.read(img, lab)).hasMessageContaining("4 labels for 3 images");
        byte[] full = images(3, 2, 2, 0);
        write(img, java.util.Arrays.copyOf(full, full.length - 1), false);
        write(lab, labels(3), false);
        assertThatThrownBy(() -> Idx.read(img, lab)).hasMessageContaining("truncated");
        assertThatThrownBy(() -> Idx.readDirectory(dir)).hasMessageContaining("no train-images");
    }
}
