package org.flagagg.engine;

import io.vertx.core.json.JsonArray;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.TreeMap;
import org.flagagg.rules.Solution;

/**
 * How the p x p matrices and solutions travel between shards in their JSON control messages: doubles as
 * their exact IEEE bits (little-endian bytes, base64 in JSON), and a digest of a solution that two shards
 * compare so that they never output two different aggregates.
 */
final class ShardWire {
    private ShardWire() {
    }

    /** The doubles' exact bits, little-endian. */
    static byte[] bytes(double[] values) {
        ByteBuffer out = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            out.putDouble(v);
        }
        return out.array();
    }

    /** {@link #bytes} read back; fails on a length that is not n doubles. */
    static double[] doubles(byte[] bytes, int n) {
        if (bytes.length != 8 * n) {
            throw new IllegalArgumentException("expected " + n + " doubles (" + 8 * n + " bytes), got " + bytes.length
                    + " bytes");
        }
        double[] out = new double[n];
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            out[i] = in.getDouble();
        }
        return out;
    }

    static JsonArray ints(int[] values) {
        JsonArray out = new JsonArray();
        for (int v : values) {
            out.add(v);
        }
        return out;
    }

    static int[] ints(JsonArray values) {
        int[] out = new int[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.getInteger(i);
        }
        return out;
    }

    /**
     * What decides a solution's aggregate, as text: the selected inputs, the coefficients' exact bits and the
     * rule's drops. Two shards that solved the same matrix the same way give the same digest.
     */
    static String digest(Solution solution) {
        double[] c = solution.coefficients();
        long[] bits = c == null ? null : Arrays.stream(c).mapToLong(Double::doubleToRawLongBits).toArray();
        return Arrays.toString(solution.selected()) + "/" + Arrays.toString(bits) + "/"
                + new TreeMap<>(solution.dropped()).keySet();
    }
}
