package org.flagagg.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.flagagg.config.InputException;

/**
 * Parses the text input format: one gradient per line, values separated by commas and/or white space;
 * blank lines are skipped. Values become float32, as on the wire. "nan", "inf", "-inf" (any case) are read as
 * such so a gradient with them can be dropped and reported rather than failing the command.
 */
final class TextGradients {

    private TextGradients() {
    }

    static float[][] parse(BufferedReader in, String name) throws IOException {
        List<float[]> rows = new ArrayList<>();
        int firstLine = 0;
        int lineNo = 0;
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            lineNo++;
            String trimmed = line.strip();
            if (trimmed.isEmpty()) {
                continue;
            }
            String[] tokens = trimmed.split("[,\\s]+");
            float[] row = new float[tokens.length];
            for (int k = 0; k < tokens.length; k++) {
                row[k] = parseValue(tokens[k], name, lineNo);
            }
            if (rows.isEmpty()) {
                firstLine = lineNo;
            } else if (row.length != rows.get(0).length) {
                throw new InputException(name + ":" + lineNo + ": " + row.length + " values, but line " + firstLine
                        + " has " + rows.get(0).length + " (all gradients must have one dimension)");
            }
            rows.add(row);
        }
        if (rows.isEmpty()) {
            throw new InputException(name + ": no gradients (the file is empty)");
        }
        return rows.toArray(new float[0][]);
    }

    private static float parseValue(String token, String name, int lineNo) {
        switch (token.toLowerCase(java.util.Locale.ROOT)) {
            case "nan", "+nan", "-nan":
                return Float.NaN;
            case "inf", "+inf", "infinity", "+infinity":
                return Float.POSITIVE_INFINITY;
            case "-inf", "-infinity":
                return Float.NEGATIVE_INFINITY;
            default:
                break;
        }
        double value;
        try {
            // Only plain decimal numbers: Java's parser would also take hex floats and a trailing 'f' or 'd'.
            if (!token.matches("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?")) {
                throw new NumberFormatException();
            }
            value = Double.parseDouble(token);
        } catch (NumberFormatException e) {
            throw new InputException(name + ":" + lineNo + ": '" + token + "' is not a number");
        }
        float f = (float) value;
        if (Float.isInfinite(f)) {
            throw new InputException(name + ":" + lineNo + ": " + token + " is out of the float32 range");
        }
        return f;
    }
}
