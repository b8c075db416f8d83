package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** demo --attacks: commas separate specs, but a comma before key=value continues the spec. */
class DemoCommandListsTest {

    @Test
    void attackSpecsKeepTheirParameters() {
        DemoCommand demo = new DemoCommand();
        new CommandLine(demo).parseArgs("--attacks", "lie,lienoise:z=1.5,std=3,empire:eps=10,random:dist=gaussian,std=2,none",
                "--straggler-attacks", "lie:z=1.5,lienoise:std=2,z=1", "--rules", "flag,nnm+trmean", "--split", "labels:k=2");
        assertThat(demo.attacks).containsExactly("lie", "lienoise:z=1.5,std=3", "empire:eps=10",
                "random:dist=gaussian,std=2", "none");
        assertThat(demo.stragglerAttacks).containsExactly("lie:z=1.5", "lienoise:std=2,z=1");
        assertThat(demo.rules).containsExactly("flag", "nnm+trmean");
        assertThat(demo.split).isEqualTo("labels:k=2");
    }
}
