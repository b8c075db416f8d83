package org.flagagg.wire;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32C;
import org.flagagg.wire.ChunkFrame.Header;
import org.junit.jupiter.api.Test;

/** docs/protocol.md's worked example is the frame ChunkFrame actually writes. */
class ProtocolDocTest {
    private static final Path DOC = Path.of("docs", "protocol.md");

    private static byte[] exampleFrame() {
        return ChunkFrame.toBytes(ChunkFrame.KIND_GRADIENT, 7L, 3, 2, 131072L, new float[] {1.0f, -2.5f}, 0, 2);
    }

    /** The dump format of the doc and of its Python snippet: 4-hex-digit offset, two spaces, 16 bytes a line. */
    private static String dump(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (int line = 0; line < bytes.length; line += 16) {
            s.append(String.format("%04x ", line));
            for (int i = line; i < Math.min(line + 16, bytes.length); i++) {
                s.append(String.format(" %02x", bytes[i]));
            }
            s.append('\n');
        }
        return s.toString();
    }

    @Test
    void workedExampleHexDumpMatchesTheEncoder() throws IOException {
        String doc = Files.readString(DOC);
        byte[] frame = exampleFrame();
        String dump = dump(frame);

        assertThat(frame).hasSize(48);
        // Once in the worked example, once as the output of the Python snippet.
        assertThat(doc.split(java.util.regex.Pattern.quote("```\n" + dump), -1)).hasSize(3);
        CRC32C crc = new CRC32C();
        crc.update(frame, 0, 36);
        crc.update(frame, 40, 8);
        assertThat(doc).contains(String.format("| crc | 0x%08X |", crc.getValue()));
        assertThat(ChunkFrame.parse(frame, 0, frame.length))
                .isEqualTo(new Header(1, 7L, 3, 2, 131072L, 2, (int) crc.getValue()));
    }

    @Test
    void docListsEveryReasonAndTheControlMessagesSection() throws IOException {
        String doc = Files.readString(DOC);
        for (FrameException.Reason reason : FrameException.Reason.values()) {
            assertThat(doc).contains("| `" + reason + "` |");
        }
        assertThat(doc).contains("\n## Control messages on the event bus\n").contains("\n## WebSocket workers (version 1)\n");
        assertThat(doc).contains("HEADER = struct.Struct('<4sBBHqiiqi')");
    }

    @Test
    void everyAggregateFrameOfTheDocCarriesSlotZero() throws IOException {
        // The gateway and the data link encode each aggregate frame once for every worker, with slot 0.
        java.util.List<String> kind2 = Files.readString(DOC).lines().filter(l -> l.contains("frame kind 2,")).toList();
        assertThat(kind2).isNotEmpty().allSatisfy(l -> assertThat(l).contains("slot 0,"));
    }
}
