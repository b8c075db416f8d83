package org.flagagg.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import org.flagagg.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenTableTest {

    @TempDir
    Path dir;

    static String sha256(String s) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void aTokensFileMapsTokensToWorkersAndIgnoresComments() throws Exception {
        Path file = dir.resolve("tokens");
        Files.writeString(file, "# workers\n\nw0 " + sha256("alpha") + "   # laptop\n  w1\t" + sha256("beta").toUpperCase() + "\n");
        TokenTable table = TokenTable.read(file);
        assertThat(table.size()).isEqualTo(2);
        assertThat(table.workerOf("alpha")).isEqualTo("w0");
        assertThat(table.workerOf("beta")).isEqualTo("w1");
        assertThat(table.workerOf("gamma")).isNull();
        assertThat(table.workerOf(null)).isNull();
    }

    @Test
    void aMalformedLineFailsWithItsLineNumber() throws Exception {
        Path file = dir.resolve("tokens");
        String ok = "w0 " + sha256("a") + "\n";
        Files.writeString(file, ok + "# fine\nw1 abc\n");
        assertThatThrownBy(() -> TokenTable.read(file)).hasMessage(file + ":3: the token hash of 'w1' must be 64 hex "
                + "digits (SHA-256), got 'abc'");
        Files.writeString(file, ok + "w1\n");
        assertThatThrownBy(() -> TokenTable.read(file)).hasMessage(file + ":2: expected 'WORKER_ID SHA256_HEX', got 1 field");
        Files.writeString(file, ok + "w0 " + sha256("b") + "\n");
        assertThatThrownBy(() -> TokenTable.read(file)).hasMessage(file + ":2: worker 'w0' is listed twice");
        Files.writeString(file, ok + "w2 " + sha256("a") + "\n");
        assertThatThrownBy(() -> TokenTable.read(file)).hasMessageContaining(":2: worker 'w2' has the same token hash");
        assertThatThrownBy(() -> TokenTable.read(dir.resolve("none"))).hasMessageEndingWith("no such tokens file");
    }

    @Test
    void theTokenCommandPrintsATokenAndAMatchingTokensFileLine() throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new String[] {"token", "trainer-3"}, new PrintWriter(out), new PrintWriter(err));
        assertThat(code).as(err.toString()).isZero();
        String[] lines = out.toString().strip().split("\n");
        assertThat(lines).hasSize(2);
        String token = lines[0];
        assertThat(Base64.getUrlDecoder().decode(token)).hasSize(32);
        assertThat(lines[1]).isEqualTo("trainer-3 " + sha256(token));
        Path file = dir.resolve("tokens");
        Files.writeString(file, lines[1] + "\n");
        assertThat(TokenTable.read(file).workerOf(token)).isEqualTo("trainer-3");
        // Two runs never give the same token.
        StringWriter again = new StringWriter();
        Main.run(new String[] {"token", "trainer-3"}, new PrintWriter(again), new PrintWriter(err));
        assertThat(again.toString().split("\n")[0]).isNotEqualTo(token);
    }

    @Test
    void theServerRefusesAMalformedTokensFileWithTheLineBeforeStarting() throws Exception {
        Path file = dir.resolve("tokens");
        Files.writeString(file, "# ok\nw0 nothex\n");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new String[] {"server", "--port", "0", "--tokens", file.toString()}, new PrintWriter(out),
                new PrintWriter(err));
        assertThat(code).isEqualTo(2);
        assertThat(err.toString().strip()).isEqualTo("server: " + file + ":2: the token hash of 'w0' must be 64 hex "
                + "digits (SHA-256), got 'nothex'");
    }

    @Test
    void generatedTablesAcceptExactlyTheirTokens() {
        Map<String, String> tokens = TokenTable.generate(java.util.List.of("a", "b"));
        TokenTable table = TokenTable.ofTokens(tokens);
        assertThat(table.workerOf(tokens.get("a"))).isEqualTo("a");
        assertThat(table.workerOf(tokens.get("b"))).isEqualTo("b");
        assertThat(table.workerOf(tokens.get("a") + "x")).isNull();
    }
}
