package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `flagagg certs`: a deployment's CA, stores, password, job secret and configuration; clear refusals. */
class CertsCommandTest {

    @TempDir
    Path dir;

    private static KeyStore load(Path file, String password) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(file)) {
            store.load(in, password.toCharArray());
        }
        return store;
    }

    @Test
    void makesACaSignedMemberCertificateTheTrustStoreThePasswordAndTheJobSecret() throws Exception {
        Path out = dir.resolve("certs");
        AggregateCommandTest.Run run = AggregateCommandTest.run("certs", "--out", out.toString(), "--hosts",
                "10.0.0.5,node1.example", "--name", "ops-cluster");
        assertThat(run.code()).as(run.err()).isZero();
        assertThat(run.out()).contains("cluster 'ops-cluster'");

        String secret = Files.readString(out.resolve(CertsCommand.SECRET));
        assertThat(secret).matches("[0-9a-f]{64}\n");
        for (String file : List.of(CertsCommand.SECRET, CertsCommand.PASSWORD, CertsCommand.CA, CertsCommand.KEYSTORE,
                CertsCommand.TRUSTSTORE)) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(out.resolve(file)))).as(file)
                    .isEqualTo("rw-------");
        }
        String password = Files.readString(out.resolve(CertsCommand.PASSWORD)).strip();

        KeyStore keystore = load(out.resolve(CertsCommand.KEYSTORE), password);
        assertThat(Collections.list(keystore.aliases())).containsExactly("member");
        assertThat(keystore.isKeyEntry("member")).isTrue();
        X509Certificate member = (X509Certificate) keystore.getCertificate("member");
        X509Certificate ca = (X509Certificate) load(out.resolve(CertsCommand.TRUSTSTORE), password).getCertificate("ca");
        member.verify(ca.getPublicKey());
        assertThat(ca.getBasicConstraints()).isGreaterThanOrEqualTo(0);
        assertThat(member.getExtendedKeyUsage()).contains("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        assertThat(member.getSubjectAlternativeNames()).extracting(san -> (Object) san.get(1))
                .contains((Object) "localhost", "127.0.0.1", "10.0.0.5", "node1.example");
        assertThat(keystore.getCertificateChain("member")).hasSize(2);

        JsonObject cluster = new JsonObject(Files.readString(out.resolve(CertsCommand.CONFIG))).getJsonObject("cluster");
        assertThat(cluster.getString("name")).isEqualTo("ops-cluster");
        assertThat(Path.of(cluster.getString("tls_keystore"))).isEqualTo(out.resolve(CertsCommand.KEYSTORE)
                .toAbsolutePath());
        assertThat(Path.of(cluster.getString("secret"))).isEqualTo(out.resolve(CertsCommand.SECRET).toAbsolutePath());
        assertThat(Files.readString(Path.of(cluster.getString("tls_password_file"))).strip()).isEqualTo(password);
    }

    @Test
    void refusesToOverwriteAndToTakeABadHostInOneLine() throws Exception {
        Files.createDirectories(dir.resolve("old"));
        Files.writeString(dir.resolve("old").resolve(CertsCommand.SECRET), "keep me\n");
        AggregateCommandTest.Run exists = AggregateCommandTest.run("certs", "--out", dir.resolve("old").toString());
        assertThat(exists.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(exists.err().strip().lines()).hasSize(1);
        assertThat(exists.err()).contains("exists: not overwriting it");
        assertThat(Files.readString(dir.resolve("old").resolve(CertsCommand.SECRET))).isEqualTo("keep me\n");

        AggregateCommandTest.Run badHost = AggregateCommandTest.run("certs", "--out", dir.resolve("new").toString(),
                "--hosts", "a b");
        assertThat(badHost.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(badHost.err().strip()).isEqualTo("certs: --hosts: 'a b' is not a host name or address");

        AggregateCommandTest.Run noOut = AggregateCommandTest.run("certs");
        assertThat(noOut.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(noOut.err().strip().lines()).hasSize(1);
    }
}
