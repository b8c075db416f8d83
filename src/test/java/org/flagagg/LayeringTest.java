package org.flagagg;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The package layering of docs/architecture.md, checked on the compiled main classes: each group may use
 * the groups before it and never one after it or a sibling in its own group, and no packages form a cycle.
 */
class LayeringTest {
    /** Bottom to top; packages in one group are siblings that do not know each other. */
    static final List<List<String>> LAYERS = List.of(
            List.of("kernels"), List.of("fa"), List.of("rules"), List.of("round"), List.of("wire"), List.of("config"),
            List.of("worker", "engine"), List.of("web"), List.of("link", "ws"), List.of("server"), List.of("sim"), List.of("demo"),
            List.of("cli"));

    static final JavaClasses MAIN = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.flagagg");

    @Test
    void noPackageUsesOneAboveItOrASibling() {
        for (int i = 0; i < LAYERS.size(); i++) {
            for (String pkg : LAYERS.get(i)) {
                List<String> forbidden = new ArrayList<>();
                for (int j = i; j < LAYERS.size(); j++) {
                    for (String other : LAYERS.get(j)) {
                        if (!other.equals(pkg)) forbidden.add("org.flagagg." + other + "..");
                    }
                }
                if (forbidden.isEmpty()) continue;
                noClasses().that().resideInAPackage("org.flagagg." + pkg + "..")
                        .should().dependOnClassesThat().resideInAnyPackage(forbidden.toArray(String[]::new))
                        .because(pkg + " sits below " + forbidden + " (docs/architecture.md, \"Packages\")")
                        .check(MAIN);
            }
        }
    }

    /** The math core is plain Java: results carry records, and the edge (engine, cli) writes their JSON. */
    @Test
    void theMathCoreUsesNoVertx() {
        noClasses().that().resideInAnyPackage(
                        "org.flagagg.kernels..", "org.flagagg.fa..", "org.flagagg.rules..", "org.flagagg.round..")
                .should().dependOnClassesThat().resideInAPackage("io.vertx..")
                .because("the core must run without Vert.x (docs/architecture.md, \"Packages\")")
                .check(MAIN);
    }

    @Test
    void packagesFormNoCycle() {
        slices().matching("org.flagagg.(*)..").should().beFreeOfCycles().check(MAIN);
    }

    @Test
    void everyMainPackageIsInALayer() {
        List<String> known = LAYERS.stream().flatMap(List::stream).toList();
        noClasses().should().resideOutsideOfPackages(known.stream().map(p -> "org.flagagg." + p + "..")
                .toArray(String[]::new)).check(MAIN);
    }
}
