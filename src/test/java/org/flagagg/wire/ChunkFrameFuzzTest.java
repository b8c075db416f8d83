package org.flagagg.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.flagagg.wire.FrameBytes.int32;
import static org.flagagg.wire.FrameBytes.int64;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.flagagg.wire.ChunkFrame.Header;
import org.flagagg.wire.FrameException.Reason;
import org.junit.jupiter.api.Test;

/**
 * Random mutations of valid frames and random byte arrays: parse must return a header that agrees with
 * the bytes or throw FrameException with the reason the test's own reading of the spec gives, and never
 * throw anything else.
 */
class ChunkFrameFuzzTest {

    @Test
    void mutatedValidFramesAreAcceptedOrRejectedForTheDocumentedReason() {
        SplittableRandom random = new SplittableRandom(20240611L);
        Map<Reason, Integer> seen = new EnumMap<>(Reason.class);
        int accepted = 0;
        for (int i = 0; i < 10_000; i++) {
            byte[] frame = mutate(validFrame(random), random);
            if (check(frame, seen)) {
                accepted++;
            }
        }
        // The mutations reach every check, and some mutated frames (re-signed, still consistent) pass.
        assertThat(seen.keySet()).containsExactlyInAnyOrder(Reason.values());
        assertThat(accepted).isGreaterThan(100);
    }

    @Test
    void randomBytesAreRejectedForTheDocumentedReason() {
        SplittableRandom random = new SplittableRandom(77L);
        Map<Reason, Integer> seen = new EnumMap<>(Reason.class);
        for (int i = 0; i < 10_000; i++) {
            byte[] bytes = new byte[random.nextInt(120)];
            random.nextBytes(bytes);
            if (i % 2 == 0 && bytes.length >= 8) {
                // Half with a plausible prefix so the random bytes get past the first checks.
                bytes[0] = 'F';
                bytes[1] = 'A';
                bytes[2] = 'G';
                bytes[3] = 'G';
                bytes[4] = 1;
                bytes[5] = (byte) (1 + random.nextInt(2));
                bytes[6] = 0;
                bytes[7] = 0;
            }
            check(bytes, seen);
        }
        assertThat(seen).containsKeys(Reason.TRUNCATED, Reason.BAD_MAGIC, Reason.BAD_FIELD, Reason.BAD_LENGTH);
    }

    /** Returns true if the frame was accepted; fails the test on any disagreement. */
    private static boolean check(byte[] frame, Map<Reason, Integer> seen) {
        Reason expected = FrameBytes.expectedReason(frame);
        Header header;
        try {
            // Parse from the middle of a larger array, so offsets relative to the frame's start are exercised.
            byte[] padded = new byte[frame.length + 6];
            System.arraycopy(frame, 0, padded, 3, frame.length);
            header = ChunkFrame.parse(ByteBuffer.wrap(padded, 3, frame.length));
        } catch (FrameException e) {
            assertThat(e.reason()).as("reason for %s", hex(frame)).isEqualTo(expected);
            seen.merge(e.reason(), 1, Integer::sum);
            return false;
        }
        assertThat(expected).as("accepted %s", hex(frame)).isNull();
        assertThat(header).isEqualTo(new Header(frame[5], int64(frame, 8), int32(frame, 16), int32(frame, 20),
                int64(frame, 24), int32(frame, 32), int32(frame, 36)));
        assertThat(header.frameBytes()).isEqualTo(frame.length);
        float[] values = new float[header.count()];
        ChunkFrame.readPayload(ByteBuffer.wrap(frame), header, values, 0);
        for (int k = 0; k < values.length; k++) {
            assertThat(Float.floatToRawIntBits(values[k])).isEqualTo(int32(frame, 40 + 4 * k));
        }
        return true;
    }

    private static byte[] validFrame(SplittableRandom random) {
        int count = random.nextInt(5) == 0 ? 0 : random.nextInt(1, 24);
        float[] values = new float[count];
        for (int k = 0; k < count; k++) {
            values[k] = Float.intBitsToFloat(random.nextInt() & ~0x00800000); // no signalling-NaN concerns
        }
        return ChunkFrame.toBytes(1 + random.nextInt(2), random.nextLong(0, Long.MAX_VALUE),
                random.nextInt(0, Integer.MAX_VALUE), random.nextInt(1000), random.nextLong(0, 1L << 40), values,
                0, count);
    }

    private static byte[] mutate(byte[] frame, SplittableRandom random) {
        int mutations = 1 + random.nextInt(3);
        for (int m = 0; m < mutations; m++) {
            if (frame.length == 0) {
                break;
            }
            switch (random.nextInt(7)) {
                case 0 -> {
                    int at = random.nextInt(frame.length);
                    frame[at] ^= (byte) (1 << random.nextInt(8));
                }
                case 1 -> frame[random.nextInt(frame.length)] = (byte) random.nextInt(256);
                case 2 -> frame = Arrays.copyOf(frame, random.nextInt(frame.length + 1));
                case 3 -> {
                    byte[] longer = Arrays.copyOf(frame, frame.length + 1 + random.nextInt(8));
                    for (int k = frame.length; k < longer.length; k++) {
                        longer[k] = (byte) random.nextInt(256);
                    }
                    frame = longer;
                }
                case 4 -> {
                    // A header byte set to something interesting: 0, -1 (high byte makes fields negative), 1, 2, 3.
                    if (frame.length >= 40) {
                        int[] choices = {0, 0xFF, 0x80, 1, 2, 3};
                        frame[random.nextInt(40)] = (byte) choices[random.nextInt(choices.length)];
                    }
                }
                case 5 -> {
                    // count set to agree with the current length, or to a neighbour of it.
                    if (frame.length >= 40) {
                        FrameBytes.putInt32(frame, 32, (frame.length - 40) / 4 + random.nextInt(-1, 2));
                    }
                }
                default -> {
                }
            }
            if (random.nextInt(3) > 0 && frame.length >= 40) {
                FrameBytes.resign(frame); // a consistent CRC lets the mutation reach the structural checks
            }
        }
        return frame;
    }

    private static String hex(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (byte b : bytes) {
            s.append(String.format("%02x", b));
        }
        return s.toString();
    }
}
