package org.flagagg.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The job secret file's rules, and proofs that bind their fields unambiguously. */
class JobSecretTest {
    @TempDir
    Path dir;

    @Test
    void theFirstLineIsTheSecretAndShortOrMissingOnesAreRefusedClearly() throws Exception {
        String text = JobSecret.newSecretText();
        assertThat(text).matches("[0-9a-f]{64}");
        Path file = Files.writeString(dir.resolve("secret"), text + "\nignored\n");
        JobSecret secret = JobSecret.load(file);
        assertThat(secret.mac("label", "x")).isEqualTo(JobSecret.of(text).mac("label", "x"));
        assertThat(JobSecret.fromConfig(new JsonObject().put("secret", file.toString())).mac("label"))
                .isEqualTo(secret.mac("label"));
        assertThat(JobSecret.fromConfig(new JsonObject().put("secret", ""))).isNull();

        assertThatThrownBy(() -> JobSecret.load(Files.writeString(dir.resolve("empty"), "")))
                .hasMessageContaining("at least 16 characters, it has 0");
        assertThatThrownBy(() -> JobSecret.load(Files.writeString(dir.resolve("short"), "0123456789abcde\n")))
                .hasMessageContaining("at least 16 characters, it has 15");
        assertThatThrownBy(() -> JobSecret.load(dir.resolve("missing"))).hasMessageContaining("does not exist");
    }

    @Test
    void proofsDependOnTheSecretTheLabelAndEachFieldsBoundaries() {
        JobSecret a = JobSecret.of("secret-a-0123456789");
        String proof = a.mac("flagagg-join", "ab", "c");
        assertThat(proof).matches("[0-9a-f]{64}");
        assertThat(a.verify(proof, "flagagg-join", "ab", "c")).isTrue();
        assertThat(a.verify(proof, "flagagg-join", "a", "bc")).as("fields are length-prefixed").isFalse();
        assertThat(a.verify(proof, "flagagg-link-node", "ab", "c")).isFalse();
        assertThat(JobSecret.of("secret-b-0123456789").verify(proof, "flagagg-join", "ab", "c")).isFalse();
        assertThat(a.verify(null, "flagagg-join", "ab", "c")).isFalse();
        assertThat(JobSecret.same("x", "x")).isTrue();
        assertThat(JobSecret.same("x", null)).isFalse();
    }
}
