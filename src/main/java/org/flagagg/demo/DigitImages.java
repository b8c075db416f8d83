package org.flagagg.demo;

import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.font.FontRenderContext;
import java.awt.font.GlyphVector;
import java.awt.geom.AffineTransform;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A deterministic 10-class image task that needs no download: the digits 0-9 drawn with the JDK's fonts
 * (its logical families, in plain, bold and italic) under a random affine distortion (rotation, shear,
 * scale, translation), a random stroke darkness, and additive Gaussian pixel noise, rendered off-screen in
 * headless AWT. Every draw comes from one {@link SplittableRandom} seeded per image, so a seed gives the
 * same images on the same JDK and fonts (other fonts give a different, equally valid task).
 */
public final class DigitImages {

    /** Logical font families: every JDK maps them to an installed font. */
    private static final List<String> FAMILIES = List.of(Font.SANS_SERIF, Font.SERIF, Font.MONOSPACED, Font.DIALOG);
    private static final int[] STYLES = {Font.PLAIN, Font.BOLD, Font.ITALIC, Font.BOLD | Font.ITALIC};
    /** Drawn at this multiple of the target size, then box-averaged down: smoother than drawing tiny glyphs. */
    private static final int SUPERSAMPLE = 4;

    private DigitImages() {
    }

    /**
     * {@code count} images of {@code side} x {@code side} pixels, labels balanced in order (k mod 10) then
     * shuffled by the seed.
     *
     * @param noise standard deviation of the Gaussian pixel noise (values are clamped to [0, 1])
     */
    public static Dataset generate(long seed, int count, int side, double noise) {
        if (count < 1 || side < 8 || side > 64) {
            throw new IllegalArgumentException("digit images need count >= 1 and side in 8..64, got "
                    + count + ", " + side);
        }
        if (!(noise >= 0) || Double.isInfinite(noise)) {
            throw new IllegalArgumentException("noise must be finite and >= 0, got " + noise);
        }
        System.setProperty("java.awt.headless", "true");
        int big = side * SUPERSAMPLE;
        BufferedImage canvas = new BufferedImage(big, big, BufferedImage.TYPE_BYTE_GRAY);
        Graphics2D g = canvas.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_FRACTIONALMETRICS, RenderingHints.VALUE_FRACTIONALMETRICS_ON);
        FontRenderContext frc = g.getFontRenderContext();
        Font[] fonts = new Font[FAMILIES.size() * STYLES.length];
        for (int f = 0; f < FAMILIES.size(); f++) {
            for (int s = 0; s < STYLES.length; s++) {
                fonts[f * STYLES.length + s] = new Font(FAMILIES.get(f), STYLES[s], big);
            }
        }
        int[] order = new int[count];
        for (int k = 0; k < count; k++) {
            order[k] = k % 10;
        }
        SplittableRandom shuffle = new SplittableRandom(seed ^ 0x53485546464c4531L);
        for (int k = count - 1; k > 0; k--) {
            int j = shuffle.nextInt(k + 1);
            int t = order[k];
            order[k] = order[j];
            order[j] = t;
        }
        int features = side * side;
        float[] pixels = new float[count * features];
        int[] row = new int[big * big];
        SplittableRandom seeds = new SplittableRandom(seed);
        for (int k = 0; k < count; k++) {
            SplittableRandom rnd = seeds.split();
            int digit = order[k];
            Font font = fonts[rnd.nextInt(fonts.length)];
            GlyphVector glyph = font.createGlyphVector(frc, Integer.toString(digit));
            Rectangle2D box = glyph.getVisualBounds();
            // Fit the glyph's height to ~70% of the canvas, then distort around the centre.
            double fit = 0.7 * big / Math.max(box.getHeight(), 1e-9);
            double scale = fit * (0.8 + 0.35 * rnd.nextDouble());
            double aspect = 0.85 + 0.3 * rnd.nextDouble();
            double angle = Math.toRadians(-15 + 30 * rnd.nextDouble());
            double shear = -0.25 + 0.5 * rnd.nextDouble();
            double dx = (-0.12 + 0.24 * rnd.nextDouble()) * big;
            double dy = (-0.12 + 0.24 * rnd.nextDouble()) * big;
            AffineTransform t = new AffineTransform();
            t.translate(big / 2.0 + dx, big / 2.0 + dy);
            t.rotate(angle);
            t.shear(shear, 0);
            t.scale(scale * aspect, scale);
            t.translate(-box.getCenterX(), -box.getCenterY());
            g.setTransform(new AffineTransform());
            g.setColor(java.awt.Color.BLACK);
            g.fillRect(0, 0, big, big);
            int ink = 160 + rnd.nextInt(96);
            g.setColor(new java.awt.Color(ink, ink, ink));
            g.setTransform(t);
            g.fill(glyph.getOutline());
            Raster raster = canvas.getRaster();
            raster.getSamples(0, 0, big, big, 0, row);
            int base = k * features;
            for (int y = 0; y < side; y++) {
                for (int x = 0; x < side; x++) {
                    int sum = 0;
                    for (int sy = 0; sy < SUPERSAMPLE; sy++) {
                        int off = (y * SUPERSAMPLE + sy) * big + x * SUPERSAMPLE;
                        for (int sx = 0; sx < SUPERSAMPLE; sx++) {
                            sum += row[off + sx];
                        }
                    }
                    double v = sum / (255.0 * SUPERSAMPLE * SUPERSAMPLE) + noise * gaussian(rnd);
                    pixels[base + y * side + x] = (float) Math.min(1, Math.max(0, v));
                }
            }
        }
        g.dispose();
        return new Dataset(side, side, 10, pixels, order);
    }

    /** Standard normal by Box-Muller (one of the pair), from the image's own random stream. */
    private static double gaussian(SplittableRandom rnd) {
        double u = 1.0 - rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd.nextDouble());
    }
}
