package org.flagagg.cli;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.flagagg.config.InputException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code flagagg certs}: what a clustered deployment needs to keep strangers out, made with the JDK's keytool:
 * a CA, one member certificate it signed (PKCS12 key store), a trust store with the CA, the stores' password,
 * the job secret, and the "cluster" configuration that uses them.
 */
@Command(name = "certs", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Makes a cluster's TLS material and job secret in DIR: ca.p12 (the CA's key: keep it off the "
                + "members), cluster-keystore.p12 (the members' certificate, signed by the CA), cluster-truststore.p12 "
                + "(the CA), cluster-password (the stores' password), job-secret (32 random bytes as hex) and "
                + "cluster.json (the \"cluster\" configuration naming them, with a random cluster name).",
            "Copy all but ca.p12 to every member (mode 0600, owned by the service user) and merge cluster.json into "
                + "its configuration. Refuses to overwrite any of these files."})
final class CertsCommand implements Callable<Integer> {
    static final String CA = "ca.p12";
    static final String KEYSTORE = "cluster-keystore.p12";
    static final String TRUSTSTORE = "cluster-truststore.p12";
    static final String PASSWORD = "cluster-password";
    static final String SECRET = "job-secret";
    static final String CONFIG = "cluster.json";
    private static final long KEYTOOL_TIMEOUT_S = 60;

    @Spec
    CommandSpec spec;

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "Directory to write the files to "
            + "(created if missing).")
    Path out;

    @Option(names = "--hosts", paramLabel = "HOST", split = ",", description = "Names and addresses of the members, "
            + "comma-separated, put in the certificate (localhost and 127.0.0.1 always are).")
    List<String> hosts = List.of();

    @Option(names = "--name", paramLabel = "NAME", description = "Cluster name to put in cluster.json "
            + "(default: flagagg- and 12 random hex digits).")
    String name;

    @Option(names = "--days", paramLabel = "N", defaultValue = "825", description = "Validity of the CA and the "
            + "certificate in days (default: ${DEFAULT-VALUE}).")
    int days;

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (days < 1) {
            throw new InputException("--days must be >= 1, got " + days);
        }
        for (String host : hosts) {
            if (!host.matches("[A-Za-z0-9.:-]+")) {
                throw new InputException("--hosts: '" + host + "' is not a host name or address");
            }
        }
        Files.createDirectories(out);
        for (String file : List.of(CA, KEYSTORE, TRUSTSTORE, PASSWORD, SECRET, CONFIG)) {
            if (Files.exists(out.resolve(file))) {
                throw new InputException(out.resolve(file) + " exists: not overwriting it (use an empty --out)");
            }
        }
        SecureRandom random = new SecureRandom();
        String password = hex(random, 24);
        String clusterName = name != null ? name : "flagagg-" + hex(random, 6);
        writePrivate(out.resolve(PASSWORD), password + "\n");
        writePrivate(out.resolve(SECRET), hex(random, 32) + "\n");

        Path ca = out.resolve(CA);
        Path keystore = out.resolve(KEYSTORE);
        Path truststore = out.resolve(TRUSTSTORE);
        Path work = Files.createTempDirectory(out, ".certs-");
        try {
            Path csr = work.resolve("member.csr");
            Path caCert = work.resolve("ca.crt");
            Path memberCert = work.resolve("member.crt");
            keytool(password, "-genkeypair", "-alias", "ca", "-keystore", ca, "-dname", "CN=flagagg CA " + clusterName,
                    "-ext", "bc:c", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", days);
            keytool(password, "-genkeypair", "-alias", "member", "-keystore", keystore,
                    "-dname", "CN=flagagg member " + clusterName, "-keyalg", "EC", "-groupname", "secp256r1",
                    "-validity", days);
            keytool(password, "-certreq", "-alias", "member", "-keystore", keystore, "-file", csr);
            keytool(password, "-gencert", "-alias", "ca", "-keystore", ca, "-infile", csr, "-outfile", memberCert,
                    "-rfc", "-validity", days, "-ext", "san=" + subjectAltNames(),
                    "-ext", "ku:c=digitalSignature,keyAgreement", "-ext", "eku=serverAuth,clientAuth");
            keytool(password, "-exportcert", "-alias", "ca", "-keystore", ca, "-rfc", "-file", caCert);
            keytool(password, "-importcert", "-alias", "ca", "-keystore", truststore, "-file", caCert, "-noprompt");
            // The signed reply needs the CA to build the chain; the CA entry goes once the chain is in.
            keytool(password, "-importcert", "-alias", "ca", "-keystore", keystore, "-file", caCert, "-noprompt");
            keytool(password, "-importcert", "-alias", "member", "-keystore", keystore, "-file", memberCert);
            keytool(password, "-delete", "-alias", "ca", "-keystore", keystore);
        } finally {
            try (var files = Files.list(work)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(work);
        }
        for (Path store : List.of(ca, keystore, truststore)) {
            Files.setPosixFilePermissions(store, PosixFilePermissions.fromString("rw-------"));
        }
        JsonObject config = new JsonObject().put("cluster", new JsonObject()
                .put("name", clusterName)
                .put("tls_keystore", keystore.toAbsolutePath().toString())
                .put("tls_truststore", truststore.toAbsolutePath().toString())
                .put("tls_password_file", out.resolve(PASSWORD).toAbsolutePath().toString())
                .put("secret", out.resolve(SECRET).toAbsolutePath().toString()));
        Files.writeString(out.resolve(CONFIG), config.encodePrettily() + "\n");
        PrintWriter stdout = spec.commandLine().getOut();
        stdout.printf("cluster '%s': CA %s (keep it off the members), member key store %s, trust store %s, password %s, "
                + "job secret %s%n", clusterName, ca, keystore, truststore, out.resolve(PASSWORD), out.resolve(SECRET));
        stdout.printf("configuration: %s (merge its \"cluster\" section into each member's; see deploy/README.md)%n",
                out.resolve(CONFIG));
        stdout.flush();
        return 0;
    }

    private String subjectAltNames() {
        Set<String> names = new LinkedHashSet<>(List.of("dns:localhost", "ip:127.0.0.1"));
        for (String host : hosts) {
            boolean ip = host.matches("[0-9.]+") || host.contains(":");
            names.add((ip ? "ip:" : "dns:") + host);
        }
        return String.join(",", names);
    }

    /** Runs the JDK's keytool on PKCS12 stores with {@code password}; fails with its output's last line. */
    private static void keytool(String password, Object... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool")
                .toString(), "-storetype", "PKCS12", "-storepass:env", "FLAGAGG_CERTS_PASSWORD"));
        for (Object arg : args) {
            command.add(String.valueOf(arg));
        }
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("FLAGAGG_CERTS_PASSWORD", password);
        Process process = builder.start();
        process.getOutputStream().close();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(KEYTOOL_TIMEOUT_S, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IOException("keytool " + args[0] + " did not finish in " + KEYTOOL_TIMEOUT_S + " s");
        }
        if (process.exitValue() != 0) {
            throw new IOException("keytool " + args[0] + " failed: "
                    + output.lines().reduce((a, b) -> b).orElse("exit " + process.exitValue()));
        }
    }

    private static void writePrivate(Path file, String text) throws IOException {
        try {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (FileAlreadyExistsException e) {
            throw new InputException(file + " exists: not overwriting it");
        }
        Files.writeString(file, text, StandardCharsets.US_ASCII);
    }

    private static String hex(SecureRandom random, int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
